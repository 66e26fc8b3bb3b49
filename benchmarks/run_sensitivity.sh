#!/usr/bin/env bash
# How accurate a start must be before each solver notices (no model): iterations from the
# optimum moved by a relative error, on the held-out instances the LP/QP benches test on.
#   bash benchmarks/run_sensitivity.sh            every run below
#   bash benchmarks/run_sensitivity.sh sc105 mpc  some of them
{  # read whole before it runs: editing this file during a run cannot change the run
set -euo pipefail
cd "$(dirname "$0")/.."
LS=${LS:-.venv/bin/learned-solvers}
R=benchmarks/results
NET=../shared/data/netlib
PDE_NOISE="--noise 1e-6,1e-5,1e-4,1e-3,1e-2,0.1"
declare -A RUNS=(
  [random-lp]="--family random-lp:m=200,n=400 --solver pdlp"
  [sc105]="--family mps:$NET/sc105.mps.gz --solver pdlp"
  [kb2]="--family mps:$NET/kb2.mps.gz --solver pdlp"
  [share1b]="--family mps:$NET/share1b.mps.gz --solver pdlp"
  # one half of the primal-dual start moved, the other exact: does PDLP need both right?
  [random-lp-primal]="--family random-lp:m=200,n=400 --solver pdlp --moved primal"
  [random-lp-dual]="--family random-lp:m=200,n=400 --solver pdlp --moved dual"
  # the start as the vertex of the optimum's active set with a few constraints swapped: can a
  # start gain by naming the active set nearly right, or only exactly?
  [random-lp-active-set]="--family random-lp:m=200,n=400 --solver pdlp --direction active-set"
  [sc105-active-set]="--family mps:$NET/sc105.mps.gz --solver pdlp --direction active-set"
  [kb2-active-set]="--family mps:$NET/kb2.mps.gz --solver pdlp --direction active-set"
  [share1b-active-set]="--family mps:$NET/share1b.mps.gz --solver pdlp --direction active-set"
  [portfolio]="--family portfolio --solver osqp --pinned"
  [mpc]="--family mpc --solver osqp --pinned"
  # PDE families (issue 4): the reference solution moved on the free dofs, rough or smooth
  [darcy-jacobi]="--family darcy --solver ksp --pc jacobi $PDE_NOISE"
  [darcy-jacobi-smooth]="--family darcy --solver ksp --pc jacobi --direction smooth $PDE_NOISE"
  [darcy-jacobi-rtol1e-5-smooth]="--family darcy --solver ksp --pc jacobi --tol 1e-5 --direction smooth $PDE_NOISE"
  [darcy-gamg]="--family darcy --solver ksp --pc gamg $PDE_NOISE"
  [darcy-gamg-smooth]="--family darcy --solver ksp --pc gamg --direction smooth $PDE_NOISE"
  [nonlinear-poisson]="--family nonlinear-poisson --solver snes $PDE_NOISE"
  [nonlinear-poisson-smooth]="--family nonlinear-poisson --solver snes --direction smooth $PDE_NOISE"
  [navier-stokes-smooth]="--family navier-stokes --solver snes --direction smooth $PDE_NOISE"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(random-lp random-lp-primal random-lp-dual sc105 kb2 share1b
                                 random-lp-active-set sc105-active-set kb2-active-set share1b-active-set
                                 portfolio mpc darcy-jacobi darcy-jacobi-smooth darcy-jacobi-rtol1e-5-smooth
                                 darcy-gamg darcy-gamg-smooth nonlinear-poisson nonlinear-poisson-smooth
                                 navier-stokes-smooth)
for name in "${names[@]}"; do  # every name first: a typo must not stop the list halfway
  [ -n "${RUNS[$name]+x}" ] || { echo "$(basename "$0"): no run named $name; runs: ${!RUNS[*]}" >&2; exit 2; }
done
for n in "${names[@]}"; do
  $LS sensitivity ${RUNS[$n]} --test ${TEST:-10} --out $R/sensitivity-$n.json --plot $R/sensitivity-$n.png \
    | tee $R/sensitivity-$n.txt
done
exit
}
