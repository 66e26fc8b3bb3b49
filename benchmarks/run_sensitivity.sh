#!/usr/bin/env bash
# How accurate a start must be before each solver notices (no model): iterations from the
# optimum moved by a relative error, on the held-out instances the LP/QP benches test on.
#   bash benchmarks/run_sensitivity.sh            every run below
#   bash benchmarks/run_sensitivity.sh sc105 mpc  some of them
set -euo pipefail
cd "$(dirname "$0")/.."
LS=${LS:-.venv/bin/learned-solvers}
R=benchmarks/results
NET=../shared/data/netlib
declare -A RUNS=(
  [random-lp]="--family random-lp:m=200,n=400 --solver pdlp"
  [sc105]="--family mps:$NET/sc105.mps.gz --solver pdlp"
  [kb2]="--family mps:$NET/kb2.mps.gz --solver pdlp"
  [share1b]="--family mps:$NET/share1b.mps.gz --solver pdlp"
  [portfolio]="--family portfolio --solver osqp --pinned"
  [mpc]="--family mpc --solver osqp --pinned"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(random-lp sc105 kb2 share1b portfolio mpc)
for n in "${names[@]}"; do
  $LS sensitivity ${RUNS[$n]} --test ${TEST:-10} --out $R/sensitivity-$n.json --plot $R/sensitivity-$n.png \
    | tee $R/sensitivity-$n.txt
done
