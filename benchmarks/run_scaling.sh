#!/usr/bin/env bash
# Test-time compute figures: train a checkpoint per family, then `learned-solvers scaling`.
# Results: benchmarks/results/scaling-*.json and .png (checkpoints stay in runs/, not committed).
# FROM_BENCH=1: no training; use the model `bash benchmarks/run_lp_qp.sh NAME-SOLVER` saved.
{  # read whole before it runs: editing this file during a run cannot change the run
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash scripts/env.sh)
DATA=${LS_SHARED_DATA:-../shared/data}
mkdir -p runs benchmarks/results
TEST=${TEST:-20}
SFX=""
[ "$TEST" = 20 ] || SFX="-test$TEST"
run() {  # name family solver [training options]
  local ck="runs/$1.safetensors"
  if [ -n "${FROM_BENCH:-}" ]; then
    ck="runs/$1-$3.safetensors"
    [ -f "$ck" ] || { echo "$ck missing: run bash benchmarks/run_lp_qp.sh $1-$3 first" >&2; exit 2; }
  elif [ -n "${REUSE:-}" ] && [ -f "$ck" ]; then
    echo "reusing $ck"
  else
    $PY -m learned_solvers.cli train --family "$2" --solver "$3" --train 200 --epochs 20 --seed 0 ${4:-} --out "$ck" 2>/dev/null | tail -1
  fi
  $PY -m learned_solvers.cli scaling --checkpoint "$ck" --family "$2" --solver "$3" --test "$TEST" \
    --out "benchmarks/results/scaling-$1$SFX.json" --plot "benchmarks/results/scaling-$1$SFX.png" 2>/dev/null \
    | tee "benchmarks/results/scaling-$1$SFX.txt"
  # as `bench` runs it (polish on, where the automatic k was chosen; k = 0 is the polished nearest
  # training optimum, no network): automatic k vs the best fixed k
  $PY -m learned_solvers.cli scaling --checkpoint "$ck" --family "$2" --solver "$3" --test "$TEST" --polish \
    --ks 0,1,2,4,8,16,32,64 \
    --out "benchmarks/results/scaling-$1$SFX-polish.json" 2>/dev/null | tee "benchmarks/results/scaling-$1$SFX-polish.txt"
}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(sc105 kb2 mpc share1b portfolio random-lp lasso)
for n in "${names[@]}"; do
  case $n in
    sc105) run sc105 "mps:$DATA/netlib/sc105.mps.gz" pdlp ;;
    kb2) run kb2 "mps:$DATA/netlib/kb2.mps.gz" pdlp ;;
    mpc) run mpc mpc osqp "--train-k 60" ;;  # 40 hops from x0 to the horizon's end (run_lp_qp.sh)
    share1b) run share1b "mps:$DATA/netlib/share1b.mps.gz" pdlp ;;
    portfolio) run portfolio portfolio osqp ;;
    lasso) run lasso lasso osqp ;;
    random-lp) run random-lp-200x400 "random-lp:m=200,n=400" pdlp ;;
    # the Jacobian penalty's weight (LP/QP default 1): what k buys with and without it, one recipe
    portfolio-jac1) run portfolio-jac1 portfolio osqp "--jacobian-weight 1" ;;
    portfolio-jac0) run portfolio-jac0 portfolio osqp "--jacobian-weight 0" ;;
    mpc-jac1) run mpc-jac1 mpc osqp "--train-k 60 --jacobian-weight 1" ;;
    mpc-jac0) run mpc-jac0 mpc osqp "--train-k 60 --jacobian-weight 0" ;;
    lasso-jac1) run lasso-jac1 lasso osqp "--jacobian-weight 1" ;;
    lasso-jac0) run lasso-jac0 lasso osqp "--jacobian-weight 0" ;;
    *) echo "unknown scaling run $n" >&2; exit 2 ;;
  esac
done
exit
}
