"""The labelling of ``test_labelling_drops_an_instance_whose_dask_worker_dies_and_keeps_the_others``
run ``--runs`` times, each in a fresh process: 5 random-lp instances on a local cluster of two
worker processes (``allowed-failures`` 0), one worker exiting on instance ``[0:2]``, at once or
after ``--die-after`` seconds (a death that races the other results). Dask's ``as_completed``
once waited for good after a worker's death (dask/dask#8882, met once in CI in session 112);
since session 113 the labelling asks the scheduler after ``STALL_SECONDS`` of quiet and fetches
again what Dask finished without reporting. A run says whether that happened ("after a stall:",
with each awaited future's status on the client); one whose labelling has not ended 30 s after
that is a hang, and prints each future's status.
Prints how many runs kept which instances, and how many hung. Not a bench figure::

    python benchmarks/dask_worker_death_probe.py --runs 50
    python benchmarks/dask_worker_death_probe.py --runs 50 --die-after 0.03
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANG_SECONDS = 60  # data.STALL_SECONDS, and 30 s for what it fetches again


def _die_on_the_third_instance() -> None:
    """Run in each worker: labelling ``...[0:2]`` ends the worker's process, after
    ``DIE_AFTER`` seconds (random in [0, DIE_AFTER] where ``DIE_RANDOM`` is set)."""
    import random

    import learned_solvers.training.data as data

    real = data._label
    after = float(os.environ.get("DIE_AFTER", "0"))

    def dying(qp, solver="auto"):
        if qp.name.endswith("[0:2]"):
            time.sleep(random.uniform(0, after) if os.environ.get("DIE_RANDOM") else after)
            os._exit(1)
        return real(qp, solver)

    data._label = dying


def _one_run() -> None:
    """One labelling, in this process; prints 'kept NAMES' or 'hung STATUSES'."""
    sys.path.insert(0, str(ROOT))
    import dask
    import distributed
    from dask.distributed import Client, LocalCluster

    import learned_solvers.training.data as data
    from problems.registry import make_family

    made = []
    real_init = distributed.as_completed.__init__

    def init(self, futures=None, *args, **kwargs):
        real_init(self, futures, *args, **kwargs)
        made.append(list(futures or []))

    distributed.as_completed.__init__ = init
    real_fetch, fetched = data._fetch_again, []

    def fetch_again(client, awaited):
        # the client's own status of each: 'finished' (or 'error') where as_completed's thread lost
        # the result (dask/distributed#7331), 'pending' where the scheduler's report never came (#8882)
        seen = [f"{f.key.rsplit('-', 1)[-1]}:{f.status}" for f in awaited.values()]
        again, workers = real_fetch(client, awaited)
        fetched.append(f"round {len(made)}, {len(again)} fetched again of {' '.join(seen)}")
        return again, workers

    data._fetch_again = fetch_again

    def watchdog():
        time.sleep(HANG_SECONDS)
        print("hung", " ".join(f"{f.key.rsplit('-', 1)[-1]}:{f.status}" for f in (made[-1] if made else [])),
              flush=True)
        os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()
    qps = make_family("random-lp:m=10,n=20").sample(5, seed=0)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                          silence_logs=50) as cluster, Client(cluster) as client:
            client.run(_die_on_the_third_instance)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = data.label_instances(qps, scheduler=cluster.scheduler_address, progress=False)
    print("kept", ",".join(g.qp.name.rsplit("[", 1)[-1].rstrip("]") for g in got),
          f"(after a stall: {'; '.join(fetched)})" if fetched else "", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--die-after", type=float, default=0.0,
                   help="the worker exits after a random wait in [0, this] seconds (default 0: at once)")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        _one_run()
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DIE_AFTER": str(args.die_after), "DIE_RANDOM": "1"}
    seen = collections.Counter()
    for _ in range(args.runs):
        r = subprocess.run([sys.executable, __file__, "--one"], env=env, capture_output=True, text=True,
                           timeout=HANG_SECONDS + 90)
        line = next((x for x in r.stdout.splitlines() if x.startswith(("kept", "hung"))), f"failed rc {r.returncode}")
        seen[line] += 1
        if line.startswith("hung"):
            print(line, flush=True)
    for line, count in seen.most_common():
        print(f"{count:4d}  {line}")


if __name__ == "__main__":
    main()
