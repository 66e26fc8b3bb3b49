#!/usr/bin/env bash
# The LP/QP figures of docs/lp_qp.md: each line is one `learned-solvers bench` run on held-out
# instances, inference counted. Results land in benchmarks/results/*.json (and *.txt tables).
# Usage: bash benchmarks/run_lp_qp.sh [NAME ...]   (no NAME: all). 2-12 minutes a run on 2 cores.
# Netlib families: those whose cold PDLP solve takes >= 1,000 iterations at 1e-6, misses included.
{  # read whole before it runs: editing this file during a run cannot change the run
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash scripts/env.sh)
DATA=${LS_SHARED_DATA:-../shared/data}
OUT=benchmarks/results
mkdir -p runs
COMMON="--train 200 --test 30 --epochs 20 --seed 0"
# mpc: the initial state reaches the last time step across 2 x horizon = 40 hops of the
# variable-constraint graph, one hop per model iteration; 60 training iterations instead of 20
MPC_K="--train-k 60"
declare -A RUNS=(
  [sc105-pdlp]="--family mps:$DATA/netlib/sc105.mps.gz --solver pdlp"
  [kb2-pdlp]="--family mps:$DATA/netlib/kb2.mps.gz --solver pdlp"
  [blend-pdlp]="--family mps:$DATA/netlib/blend.mps.gz --solver pdlp"
  [blend-pdlp-train400]="--family mps:$DATA/netlib/blend.mps.gz --solver pdlp --train 400 --epochs 40"
  [sc205-pdlp]="--family mps:$DATA/netlib/sc205.mps.gz --solver pdlp"
  [sc50a-pdlp]="--family mps:$DATA/netlib/sc50a.mps.gz --solver pdlp"
  [recipe-pdlp]="--family mps:$DATA/netlib/recipe.mps.gz --solver pdlp"
  [sctap1-pdlp]="--family mps:$DATA/netlib/sctap1.mps.gz --solver pdlp"
  [scagr25-pdlp]="--family mps:$DATA/netlib/scagr25.mps.gz --solver pdlp"
  [share1b-pdlp]="--family mps:$DATA/netlib/share1b.mps.gz --solver pdlp"
  [scorpion-pdlp]="--family mps:$DATA/netlib/scorpion.mps.gz --solver pdlp"
  [brandy-pdlp]="--family mps:$DATA/netlib/brandy.mps.gz --solver pdlp"
  [random-lp-200x400-pdlp]="--family random-lp:m=200,n=400 --solver pdlp"
  [random-lp-200x400-pdlp-train1000]="--family random-lp:m=200,n=400 --solver pdlp --train 1000"
  [random-lp-200x400-pdlp-width128]="--family random-lp:m=200,n=400 --solver pdlp --width 128"
  [random-lp-500x1000-pdlp]="--family random-lp:m=500,n=1000 --solver pdlp"  # the issue's largest size
  [portfolio-osqp]="--family portfolio --solver osqp"
  [portfolio-osqp-pinned]="--family portfolio --solver osqp --pinned"
  # ten times the assets: a cold OSQP solve takes about 500 iterations and 20 ms instead of 150 and 0.4 ms
  [portfolio-1000-osqp]="--family portfolio:assets=1000,factors=30 --solver osqp"
  [mpc-osqp]="--family mpc --solver osqp $MPC_K"
  [mpc-osqp-pinned]="--family mpc --solver osqp --pinned $MPC_K"
  # a larger plant (40 states, 16 inputs): a cold OSQP solve takes 15-18 ms instead of 0.4
  [mpc-40x16-osqp]="--family mpc:states=40,inputs=16,horizon=20 --solver osqp $MPC_K"
  [lasso-osqp]="--family lasso --solver osqp"
  # a real QP: the Maros-Meszaros QSCSD6 (.mat, the OSQP benchmarks' file), its data perturbed
  [qscsd6-osqp]="--family mps:$DATA/maros_meszaros/QSCSD6.mat --solver osqp"
  [portfolio-scs]="--family portfolio --solver scs"
  [mpc-scs]="--family mpc --solver scs $MPC_K"
  [kb2-highs]="--family mps:$DATA/netlib/kb2.mps.gz --solver highs"
  # HiGHS' QP solver (each QP in the backend's child process): does a start help it at all?
  [portfolio-highs]="--family portfolio --solver highs"
  # mpc without the polish, the model of the run above at k = 1: what choosing the polish by time alone gives
  [mpc-osqp-no-polish]="--family mpc --solver osqp --no-polish --k 1 --checkpoint runs/mpc-osqp.safetensors"
  # the network's own start (k = 1) where the automatic choice runs none (k = 0), the models of the runs above
  [sc105-pdlp-k1]="--family mps:$DATA/netlib/sc105.mps.gz --solver pdlp --k 1 --checkpoint runs/sc105-pdlp.safetensors"
  [sc205-pdlp-k1]="--family mps:$DATA/netlib/sc205.mps.gz --solver pdlp --k 1 --checkpoint runs/sc205-pdlp.safetensors"
  [kb2-pdlp-k1]="--family mps:$DATA/netlib/kb2.mps.gz --solver pdlp --k 1 --checkpoint runs/kb2-pdlp.safetensors"
  [portfolio-osqp-k1]="--family portfolio --solver osqp --k 1 --checkpoint runs/portfolio-osqp.safetensors"
  [mpc-osqp-k1]="--family mpc --solver osqp --k 1 --checkpoint runs/mpc-osqp.safetensors"
  # where a QP start pays: OSQP at 1e-6 instead of 1e-4, the models of the runs above (run those first)
  [mpc-osqp-pinned-tol1e-6]="--family mpc --solver osqp --pinned --tol 1e-6 --checkpoint runs/mpc-osqp-pinned.safetensors"
  [mpc-osqp-tol1e-6]="--family mpc --solver osqp --tol 1e-6 --checkpoint runs/mpc-osqp.safetensors"
  [portfolio-osqp-pinned-tol1e-6]="--family portfolio --solver osqp --pinned --tol 1e-6 --checkpoint runs/portfolio-osqp-pinned.safetensors"
  # the models of the runs above on another size of their family (--test-family): no anchor of that size exists
  [random-lp-200x400-pdlp-on-100x200]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp.safetensors --test-family random-lp:m=100,n=200"
  [portfolio-osqp-on-200-assets]="--family portfolio --solver osqp --checkpoint runs/portfolio-osqp.safetensors --test-family portfolio:assets=200,factors=20"
  # THREADS_FROM's LP/QP half: the network's start (k = 1) on one and on two torch threads, on
  # graphs of 600, 1,500 and 3,000 nodes (variables + constraints); run each pair in one sitting
  [random-lp-200x400-pdlp-k1-threads1]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp.safetensors --k 1 --threads 1"
  [random-lp-200x400-pdlp-k1-threads2]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp.safetensors --k 1 --threads 2"
  [random-lp-200x400-pdlp-on-500x1000-threads1]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp.safetensors --k 1 --test-family random-lp:m=500,n=1000 --threads 1"
  [random-lp-200x400-pdlp-on-500x1000-threads2]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp.safetensors --k 1 --test-family random-lp:m=500,n=1000 --threads 2"
  [random-lp-200x400-pdlp-on-1000x2000-threads1]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp.safetensors --k 1 --test-family random-lp:m=1000,n=2000 --threads 1"
  [random-lp-200x400-pdlp-on-1000x2000-threads2]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp.safetensors --k 1 --test-family random-lp:m=1000,n=2000 --threads 2"
  # `learned-solvers train` (defaults, 200 instances) on the H200 with --device cuda and with its
  # 16-core CPU: benchmarks/gpu_check.py's cli_train part; copy its two checkpoints into runs/
  [random-lp-200x400-pdlp-h200-cuda]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp-h200-cuda.safetensors"
  [random-lp-200x400-pdlp-h200-cpu]="--family random-lp:m=200,n=400 --solver pdlp --checkpoint runs/random-lp-200x400-pdlp-h200-cpu.safetensors"
  # a user's files whose model drifts by name (customers, assets come and go: sizes and positions
  # change), 300 days written first by `python -m problems.drifting_files KIND runs/drifting/KIND`
  [drift-transport-pdlp]="--family files:runs/drifting/transport/*.mps --solver pdlp"
  [drift-portfolio-osqp]="--family files:runs/drifting/portfolio/*.mps --solver osqp"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(sc105-pdlp kb2-pdlp blend-pdlp blend-pdlp-train400 sc205-pdlp sc50a-pdlp recipe-pdlp sctap1-pdlp scagr25-pdlp share1b-pdlp scorpion-pdlp brandy-pdlp random-lp-200x400-pdlp
                                 random-lp-200x400-pdlp-train1000 random-lp-200x400-pdlp-width128 random-lp-500x1000-pdlp
                                 portfolio-osqp portfolio-osqp-pinned mpc-osqp mpc-osqp-pinned lasso-osqp qscsd6-osqp portfolio-scs mpc-scs kb2-highs portfolio-highs
                                 mpc-osqp-no-polish sc105-pdlp-k1 sc205-pdlp-k1 kb2-pdlp-k1 portfolio-osqp-k1 mpc-osqp-k1
                                 mpc-osqp-pinned-tol1e-6 mpc-osqp-tol1e-6 portfolio-osqp-pinned-tol1e-6
                                 random-lp-200x400-pdlp-on-100x200 portfolio-osqp-on-200-assets
                                 random-lp-200x400-pdlp-k1-threads1 random-lp-200x400-pdlp-k1-threads2
                                 random-lp-200x400-pdlp-on-500x1000-threads1 random-lp-200x400-pdlp-on-500x1000-threads2
                                 random-lp-200x400-pdlp-on-1000x2000-threads1 random-lp-200x400-pdlp-on-1000x2000-threads2
                                 drift-transport-pdlp drift-portfolio-osqp)
for name in "${names[@]}"; do  # every name first: a typo must not stop the list halfway
  [ -n "${RUNS[$name]+x}" ] || { echo "$(basename "$0"): no run named $name; runs: ${!RUNS[*]}" >&2; exit 2; }
done
for name in "${names[@]}"; do
  echo "== $name"
  if [[ $name == drift-* ]]; then
    kind=${name#drift-}; kind=${kind%%-*}
    $PY -m problems.drifting_files "$kind" "runs/drifting/$kind" --count 300
  fi
  if [[ ${RUNS[$name]} == *--checkpoint* ]]; then
    # a model trained by an earlier run, on the same held-out instances
    $PY -m learned_solvers.cli bench --test 30 --seed 0 ${RUNS[$name]} --out "$OUT/$name.json" 2>/dev/null | tee "$OUT/$name.txt"
    continue
  fi
  # the trained model stays in runs/ (git-ignored) for `FROM_BENCH=1 bash benchmarks/run_scaling.sh`
  $PY -m learned_solvers.cli bench $COMMON ${RUNS[$name]} --save-checkpoint "runs/$name.safetensors" \
    --out "$OUT/$name.json" 2>/dev/null | tee "$OUT/$name.txt"
done
exit
}
