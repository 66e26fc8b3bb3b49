"""Print the README's markdown table from benchmarks/results/*.json."""

import json
import sys
from pathlib import Path

rows = []
for p in sorted(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results").glob("*.json")):
    if p.name.startswith("scaling-"):
        continue
    r = json.loads(p.read_text())
    rows.append(
        f"| {p.stem} | {r['cold']['iterations_median']:.0f} | {r['warm']['iterations_median']:.0f} | "
        f"{r['iteration_ratio']:.3f} | {r['nearest_iteration_ratio']:.3f} | {r['nearest_polished_iteration_ratio']:.3f} | "
        f"{r['time_ratio']:.3f} | {r['k']} | {r['same_answer']:.2f} |"
    )
print("| run | cold iters | warm iters | iteration_ratio | nearest ratio | nearest+polish ratio | time_ratio | k | same_answer |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
