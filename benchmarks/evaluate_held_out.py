"""``learned_solvers.evaluate`` on the held-out instances ``learned-solvers bench`` draws for a
family (its test seed), written as a report: the Python call checked against a committed bench
row, instance by instance, with ``compare_reports.py``::

    python benchmarks/evaluate_held_out.py mpc runs/mpc-osqp.safetensors /tmp/mpc-evaluate.json
    python benchmarks/compare_reports.py benchmarks/results/mpc-osqp.json /tmp/mpc-evaluate.json
"""

import argparse

from learned_solvers import evaluate
from learned_solvers.bench.qp import held_out_drawer
from problems.registry import make_family


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("family", help="the family spec bench was run with, e.g. mpc or mps:PATH")
    p.add_argument("checkpoint", help="the checkpoint the bench row trained (runs/NAME.safetensors)")
    p.add_argument("out", help="the report to write (.json)")
    p.add_argument("--test", type=int, default=30, help="held-out instances (bench's --test; default 30)")
    p.add_argument("--seed", type=int, default=0, help="bench's --seed (default 0)")
    p.add_argument("--solver", default=None, help="default: the checkpoint's")
    args = p.parse_args()
    held_out = held_out_drawer(make_family(args.family), args.seed)(args.test)
    rep = evaluate(args.checkpoint, held_out, solver=args.solver, scheduler="serial", out=args.out)
    print(f"{args.family}: iteration_ratio {rep['iteration_ratio']:.3f}, nearest {rep['nearest_iteration_ratio']:.3f}, "
          f"same_answer {rep['same_answer']:.2f}, {rep['n_test']} held-out instances; report written to {args.out}")


if __name__ == "__main__":
    main()
