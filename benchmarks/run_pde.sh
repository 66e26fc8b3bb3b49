#!/usr/bin/env bash
# PDE benchmarks (issue 4) and their test-time-compute sweeps (issue 5). Reports in benchmarks/results/.
#   darcy: CG+GAMG and CG+Jacobi from one checkpoint, the same checkpoint on a finer mesh (n=128);
#   nonlinear-poisson and navier-stokes: Newton (SNES).
set -euo pipefail
cd "$(dirname "$0")/.."
LS=${LS:-.venv/bin/learned-solvers}
R=benchmarks/results
mkdir -p "$R" runs
TEST=${TEST:-20}; EPOCHS=${EPOCHS:-30}
$LS bench --family navier-stokes --solver snes --train ${NS_TRAIN:-120} --test $TEST --epochs $EPOCHS \
    --save-checkpoint runs/ns16.safetensors --out $R/navier_stokes_snes.json | tee $R/navier_stokes_snes.txt
$LS bench --family nonlinear-poisson --solver snes --train ${NLP_TRAIN:-400} --test $TEST --epochs $EPOCHS \
    --save-checkpoint runs/nlp32.safetensors --out $R/nonlinear_poisson_snes.json | tee $R/nonlinear_poisson_snes.txt
$LS bench --family darcy --solver ksp --pc gamg --train ${DARCY_TRAIN:-120} --test $TEST --epochs $EPOCHS \
    --save-checkpoint runs/darcy64.safetensors --out $R/darcy_ksp_gamg.json | tee $R/darcy_ksp_gamg.txt
$LS bench --family darcy --solver ksp --pc jacobi --checkpoint runs/darcy64.safetensors --test $TEST \
    --out $R/darcy_ksp_jacobi.json | tee $R/darcy_ksp_jacobi.txt
$LS bench --family darcy --solver ksp --pc gamg --checkpoint runs/darcy64.safetensors --test $TEST \
    --test-family darcy:n=128 --out $R/darcy_ksp_gamg_refined128.json | tee $R/darcy_ksp_gamg_refined128.txt
# the same checkpoints at k = 16 (more test-time compute than the time-optimal automatic k)
$LS bench --family darcy --solver ksp --pc gamg --checkpoint runs/darcy64.safetensors --k 16 --test $TEST \
    --out $R/darcy_ksp_gamg_k16.json | tee $R/darcy_ksp_gamg_k16.txt
$LS bench --family darcy --solver ksp --pc jacobi --checkpoint runs/darcy64.safetensors --k 16 --test $TEST \
    --out $R/darcy_ksp_jacobi_k16.json | tee $R/darcy_ksp_jacobi_k16.txt
$LS bench --family darcy --solver ksp --pc gamg --checkpoint runs/darcy64.safetensors --k 16 --test $TEST \
    --test-family darcy:n=128 --out $R/darcy_ksp_gamg_refined128_k16.json | tee $R/darcy_ksp_gamg_refined128_k16.txt
$LS bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32.safetensors --k 16 --test $TEST \
    --out $R/nonlinear_poisson_snes_k16.json | tee $R/nonlinear_poisson_snes_k16.txt
for spec in "darcy runs/darcy64.safetensors ksp darcy" "nonlinear-poisson runs/nlp32.safetensors snes nonlinear_poisson" \
            "navier-stokes runs/ns16.safetensors snes navier_stokes"; do
    set -- $spec
    $LS scaling --family "$1" --checkpoint "$2" --solver "$3" --ks 1,2,4,8,16,32,64 --test 10 \
        --out $R/scaling_$4.json --plot $R/scaling_$4.png | tee $R/scaling_$4.txt
done
# PETSc's own default KSP tolerance (rtol 1e-5) instead of 1e-8, same checkpoint
$LS bench --family darcy --solver ksp --pc gamg --checkpoint runs/darcy64.safetensors --k 16 --tol 1e-5 --test $TEST \
    --out $R/darcy_ksp_gamg_k16_rtol1e-5.json | tee $R/darcy_ksp_gamg_k16_rtol1e-5.txt
$LS bench --family darcy --solver ksp --pc jacobi --checkpoint runs/darcy64.safetensors --k 16 --tol 1e-5 --test $TEST \
    --out $R/darcy_ksp_jacobi_k16_rtol1e-5.json | tee $R/darcy_ksp_jacobi_k16_rtol1e-5.txt
# a wider, longer-trained nonlinear-poisson model
$LS bench --family nonlinear-poisson --solver snes --train 400 --test $TEST --epochs 60 --pde-width 64 --k 16 \
    --save-checkpoint runs/nlp32_w64.safetensors --out $R/nonlinear_poisson_snes_w64_k16.json | tee $R/nonlinear_poisson_snes_w64_k16.txt
