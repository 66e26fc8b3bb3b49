"""The `learned-solvers` command line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import CoreDemoConfig, format_rows, run_core_demo

    print("learned-solvers demo: an implicit model learns to solve 8x8 systems A x = b;")
    print("prediction error on 500 held-out systems as the inference iterations k grow.\n")
    rows = run_core_demo(CoreDemoConfig(device=args.device, seed=args.seed))
    print(format_rows(rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="learned-solvers",
        description="Learned implicit models that warm-start classical solvers.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the main job on embedded defaults (CPU, minutes)")
    d.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"learned-solvers: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
