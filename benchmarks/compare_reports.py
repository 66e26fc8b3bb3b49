"""Two runs of one LP/QP bench row, instance by instance: how far the learned starts moved
(their prediction errors) and how far the solver's counts from them moved. For reading a rerun:
were the starts the same, and did the counts follow them?

    python benchmarks/compare_reports.py OLD.json NEW.json
    python benchmarks/compare_reports.py <(git show 449bbe3:benchmarks/results/share1b-pdlp.json) \
        benchmarks/results/share1b-pdlp.json
"""

import json
import sys

import numpy as np


def main(old_path: str, new_path: str) -> int:
    old, new = (json.loads(open(p).read()) for p in (old_path, new_path))
    pairs = list(zip(old["instances"], new["instances"]))
    if [a["name"] for a, _ in pairs] != [b["name"] for _, b in pairs]:
        print("the two reports hold other held-out instances: nothing to pair", file=sys.stderr)
        return 2
    for start in ("cold", "nearest", "warm"):
        same = sum(a[start]["iterations"] == b[start]["iterations"] for a, b in pairs)
        print(f"{start:>8}: the same iterations on {same} of {len(pairs)} instances")
    # the learned starts: their errors against the optimum (the report keeps no start itself)
    err = np.array([abs(b["prediction_error"] - a["prediction_error"]) / a["prediction_error"]
                    for a, b in pairs if a["prediction_error"] and a["prediction_error"] > 1e-12])
    print(f"learned starts' prediction errors (those not at the optimum, {err.size}): largest relative "
          f"difference {err.max():.1e}")
    moved = np.array([b["warm"]["iterations"] / a["warm"]["iterations"] - 1 for a, b in pairs
                      if a["warm"]["iterations"] > 0])
    print(f"warm iterations, new against old ({moved.size} instances with any): {moved.min():+.0%} to "
          f"{moved.max():+.0%}, median {np.median(moved):+.0%}; medians {old['warm']['iterations_median']:,.0f} -> "
          f"{new['warm']['iterations_median']:,.0f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
