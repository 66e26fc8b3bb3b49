"""Interrupt a darcy sensitivity sweep (or FAMILY's with SOLVER) at random times, TRIALS times in
one process (a test runs it in a child: a crash must not take pytest down). Usage:
``python tests/interrupted_sweeps_script.py SEED TRIALS [FAMILY SOLVER]``. Prints 'done
SWEEPS_CUT_SHORT SWEEPS_ABORTED'.

Before dolfinx and PETSc calls held their interrupts, a Ctrl-C that landed inside dolfinx's
``apply_lifting`` left a vector's local form half put back, and the problem's destroy segfaulted
as the sweep returned: in 5 of 6 runs of 150 (seeds 1 to 6)."""

import random
import signal
import sys
import time
import warnings

from learned_solvers._interrupt import _interrupt, sigterm_as_ctrl_c
from learned_solvers.bench.sensitivity import SensitivityConfig, run_sensitivity

sigterm_as_ctrl_c()  # as the CLI runs: faulthandler on, SIGINT and SIGTERM as Ctrl-C
signal.signal(signal.SIGALRM, lambda signum, frame: _interrupt(signum, frame))  # a timed Ctrl-C
warnings.simplefilter("ignore")  # each cut-short sweep warns
seed, trials = int(sys.argv[1]), int(sys.argv[2])
family, solver = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("darcy:n=8", "ksp")
rng = random.Random(seed)
cfg = SensitivityConfig(family=family, solver=solver, n_test=40, progress=False,
                        **({"pc": "jacobi"} if solver == "ksp" else {}))
run_sensitivity(cfg)  # labels once: the sweep's own time is what the interrupts aim into
t0 = time.perf_counter()
run_sensitivity(cfg)
whole = time.perf_counter() - t0
cut = aborted = 0
for _ in range(trials):
    rep = None
    try:
        signal.setitimer(signal.ITIMER_REAL, whole * (0.05 + 0.9 * rng.random()))
        try:
            rep = run_sensitivity(cfg)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except KeyboardInterrupt:  # before the first instance finished the sweep aborts, as it should
        pass  # (or, rarely, the timer ran out as a whole sweep returned)
    cut += rep is not None and "interrupted" in rep
    aborted += rep is None
print("done", cut, aborted)
