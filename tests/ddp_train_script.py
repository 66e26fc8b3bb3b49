"""Run under `torchrun --nproc_per_node 2`: DDP training of the LP model keeps the ranks in step.

argv: output folder. Every rank labels the same small random-lp set (same seed), trains on
its own share of each epoch's batches, and writes its final weights' fingerprint and
validation history to ``rank<R>.json``. Without the gradient averaging the ranks, fed
different batches, would end with different weights.
"""

import faulthandler
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from learned_solvers.training import distributed
from learned_solvers.training.data import label_instances
from learned_solvers.training.train import TrainConfig, train_qp_model
from problems.registry import make_family

# a rank once died of SIGABRT as it ended ("terminate called without an active exception"): should
# it again, its Python stack is printed
faulthandler.enable()
distributed.init_from_env("cpu")
rank, world = distributed.rank_and_world()
data = label_instances(make_family("random-lp:m=10,n=20").sample(40, seed=3), scheduler="serial", progress=False)
res = train_qp_model(data, config=TrainConfig(epochs=3, batch=4, width=8, train_k=4), progress=False)
weights = np.concatenate([p.detach().numpy().ravel() for p in res.model.parameters()])
(Path(sys.argv[1]) / f"rank{rank}.json").write_text(json.dumps({
    "world": world, "sha": hashlib.sha256(weights.tobytes()).hexdigest(),
    "val": [h["val_loss"] for h in res.history], "train": [h["train_loss"] for h in res.history]}))
distributed.barrier()  # as `train` ends: no rank tears Gloo down while another still talks to it
distributed.shutdown()
