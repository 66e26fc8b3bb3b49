#!/usr/bin/env bash
# PDE benchmarks (issue 4): darcy with CG+GAMG and CG+Jacobi from one checkpoint, the same
# checkpoint on a finer mesh, and nonlinear-poisson with Newton. Reports in benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
LS=${LS:-.venv/bin/learned-solvers}
R=benchmarks/results
mkdir -p "$R" runs
TRAIN=${TRAIN:-200}; TEST=${TEST:-20}; EPOCHS=${EPOCHS:-40}
$LS bench --family darcy --solver ksp --pc gamg --train $TRAIN --test $TEST --epochs $EPOCHS \
    --save-checkpoint runs/darcy64.safetensors --out $R/darcy_ksp_gamg.json | tee $R/darcy_ksp_gamg.txt
$LS bench --family darcy --solver ksp --pc jacobi --checkpoint runs/darcy64.safetensors --test $TEST \
    --out $R/darcy_ksp_jacobi.json | tee $R/darcy_ksp_jacobi.txt
$LS bench --family darcy --solver ksp --pc gamg --checkpoint runs/darcy64.safetensors --test $TEST \
    --test-family darcy:n=128 --out $R/darcy_ksp_gamg_refined128.json | tee $R/darcy_ksp_gamg_refined128.txt
$LS bench --family nonlinear-poisson --solver snes --train $TRAIN --test $TEST --epochs $EPOCHS \
    --save-checkpoint runs/nlp32.safetensors --out $R/nonlinear_poisson_snes.json | tee $R/nonlinear_poisson_snes.txt
$LS bench --family navier-stokes --solver snes --train $TRAIN --test $TEST --epochs $EPOCHS \
    --save-checkpoint runs/ns16.safetensors --out $R/navier_stokes_snes.json | tee $R/navier_stokes_snes.txt
