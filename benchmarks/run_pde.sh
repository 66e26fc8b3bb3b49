#!/usr/bin/env bash
# PDE benchmarks (issue 4) and their test-time-compute sweeps (issue 5). Reports in benchmarks/results/.
#   darcy: CG+GAMG and CG+Jacobi from one checkpoint, the same checkpoint on a finer mesh (n=128);
#   nonlinear-poisson and navier-stokes: Newton (SNES).
# Usage: bash benchmarks/run_pde.sh [NAME ...]   (no NAME: all, in the order below). The runs that
# train (navier_stokes_snes, nonlinear_poisson_snes, darcy_ksp_gamg, nonlinear_poisson_snes_w64_k16, and the
# _unstructured_trained and navier_stokes_snes_unstructured runs)
# save the checkpoints in runs/ that the others load.
{  # read whole before it runs: editing this file during a run cannot change the run
set -euo pipefail
cd "$(dirname "$0")/.."
LS=${LS:-.venv/bin/learned-solvers}
R=benchmarks/results
mkdir -p "$R" runs
TEST=${TEST:-20}; EPOCHS=${EPOCHS:-30}
D="--family darcy --solver ksp --checkpoint runs/darcy64.safetensors --test $TEST"
# The training rows above the _kernel ones were measured with the nearest training solution as
# the anchor, the only one before 491bf27 (2026-12-01): --anchor nearest reproduces them and
# the checkpoints the rows below them load. The _kernel rows train with the default since, the
# training solutions' kernel regression (docs/pde.md, "The kernel anchor").
declare -A RUNS=(
  [navier_stokes_snes_kernel]="bench --family navier-stokes --solver snes --train ${NS_TRAIN:-120} --test $TEST --epochs $EPOCHS --save-checkpoint runs/ns16-kernel.safetensors"
  [navier_stokes_snes_kernel_k1]="bench --family navier-stokes --solver snes --checkpoint runs/ns16-kernel.safetensors --test $TEST --k 1"
  [nonlinear_poisson_snes_state_kernel]="bench --family nonlinear-poisson --solver snes --train ${NLP_TRAIN:-400} --test $TEST --epochs $EPOCHS --pde-solution-state on --save-checkpoint runs/nlp32-state-kernel.safetensors"
  [nonlinear_poisson_snes_state_kernel_k1]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state-kernel.safetensors --test $TEST --k 1"
  [darcy_ksp_gamg_kernel]="bench --family darcy --solver ksp --pc gamg --train ${DARCY_TRAIN:-120} --test $TEST --epochs $EPOCHS --save-checkpoint runs/darcy64-kernel.safetensors"
  [darcy_ksp_jacobi_kernel]="bench --family darcy --solver ksp --pc jacobi --checkpoint runs/darcy64-kernel.safetensors --test $TEST"
  # more training solutions for the regression to draw on (labelling costs ms an instance here)
  [nonlinear_poisson_snes_state_kernel_train1500]="bench --family nonlinear-poisson --solver snes --train 1500 --test $TEST --epochs $EPOCHS --pde-solution-state on --save-checkpoint runs/nlp32-state-kernel-1500.safetensors"
  # the saved kernel checkpoints' automatic start (k = 0) again, with no training: a later commit made the
  # linear metric's distances cheaper after the training rows had run
  [nonlinear_poisson_snes_state_kernel_checkpoint]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state-kernel.safetensors --test $TEST"
  [nonlinear_poisson_snes_state_kernel_train1500_checkpoint]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state-kernel-1500.safetensors --test $TEST"
  # the 400-instance kernel checkpoint's start (its automatic k = 0, the regression interpolated) on 3x and 8x finer meshes
  [nonlinear_poisson_snes_state_kernel_refined96]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state-kernel.safetensors --test-family nonlinear-poisson:n=96 --test $TEST"
  [nonlinear_poisson_snes_state_kernel_refined256]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state-kernel.safetensors --test-family nonlinear-poisson:n=256 --test $TEST"
  # the network's start on it (its automatic choice is k = 0), against darcy_ksp_gamg_checkpoint and darcy_ksp_jacobi
  [darcy_ksp_gamg_kernel_k1]="bench --family darcy --solver ksp --pc gamg --checkpoint runs/darcy64-kernel.safetensors --test $TEST --k 1"
  [darcy_ksp_jacobi_kernel_k1]="bench --family darcy --solver ksp --pc jacobi --checkpoint runs/darcy64-kernel.safetensors --test $TEST --k 1"
  [navier_stokes_snes]="bench --family navier-stokes --solver snes --train ${NS_TRAIN:-120} --test $TEST --epochs $EPOCHS --anchor nearest --save-checkpoint runs/ns16.safetensors"
  # the network's start on the checkpoint above, whose automatic choice (since 2026-12-01) is k = 0
  [navier_stokes_snes_k1]="bench --family navier-stokes --solver snes --checkpoint runs/ns16.safetensors --test $TEST --k 1"
  [nonlinear_poisson_snes]="bench --family nonlinear-poisson --solver snes --train ${NLP_TRAIN:-400} --test $TEST --epochs $EPOCHS --pde-solution-state off --anchor nearest --save-checkpoint runs/nlp32.safetensors"
  [darcy_ksp_gamg]="bench --family darcy --solver ksp --pc gamg --train ${DARCY_TRAIN:-120} --test $TEST --epochs $EPOCHS --anchor nearest --save-checkpoint runs/darcy64.safetensors"
  [darcy_ksp_jacobi]="bench $D --pc jacobi"
  # the trained checkpoint again, at its automatic k: the report's time_ratio floor (the oracle's
  # call) says how much a start may cost at all with CG+GAMG
  [darcy_ksp_gamg_checkpoint]="bench $D --pc gamg"
  # --k 1 on the other meshes: the network's start there, as measured before the retrained checkpoint's
  # automatic choice became k = 0 (the nearest training solution, interpolated)
  [darcy_ksp_gamg_refined128]="bench $D --pc gamg --k 1 --test-family darcy:n=128"
  # the same checkpoints at k = 16 (more test-time compute than the time-optimal automatic k)
  [darcy_ksp_gamg_k16]="bench $D --pc gamg --k 16"
  [darcy_ksp_jacobi_k16]="bench $D --pc jacobi --k 16"
  [darcy_ksp_gamg_refined128_k16]="bench $D --pc gamg --k 16 --test-family darcy:n=128"
  # on 85 x 85 vertices, the resolution of the FNO literature's Darcy figure (about 1e-2)
  [darcy_ksp_gamg_refined84]="bench $D --pc gamg --k 1 --test-family darcy:n=84"
  [darcy_ksp_gamg_refined84_k4]="bench $D --pc gamg --k 4 --test-family darcy:n=84"
  # CG+Jacobi on a 4x finer mesh (66,049 dofs, about 960 cold iterations): does the start pay there?
  [darcy_ksp_jacobi_refined256_k4]="bench $D --pc jacobi --k 4 --test-family darcy:n=256"
  [nonlinear_poisson_snes_k16]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32.safetensors --k 16 --test $TEST"
  # k = 0 too: the retrained checkpoint's automatic choice, which the sweep compares with the best k
  [scaling_darcy]="scaling --family darcy --checkpoint runs/darcy64.safetensors --solver ksp --ks 0,1,2,4,8,16,32,64 --test 10 --plot $R/scaling_darcy.png"
  # the solution-state model converges to the answer itself: in float64 past float32's 1e-7
  [scaling_darcy_float64]="scaling --family darcy --checkpoint runs/darcy64.safetensors --solver ksp --ks 0,1,2,4,8,16,32,64 --test 10 --pde-precision float64 --plot $R/scaling_darcy_float64.png"
  [darcy_ksp_jacobi_k8]="bench $D --pc jacobi --k 8"
  [darcy_ksp_jacobi_k16_float64]="bench $D --pc jacobi --k 16 --pde-precision float64"
  [darcy_ksp_gamg_k4]="bench $D --pc gamg --k 4"
  # the variants' rows (decoded, Jacobian penalty, trained on unstructured meshes) compare networks:
  # --k 1, the network's start, since a retrained checkpoint's automatic k can be 0 (its anchor)
  # the model before the solution state (decoded from the hidden state), for comparison
  [darcy_ksp_gamg_decoded]="bench --family darcy --solver ksp --pc gamg --train ${DARCY_TRAIN:-120} --test $TEST --epochs $EPOCHS --pde-solution-state off --anchor nearest --save-checkpoint runs/darcy64-decoded.safetensors --k 1"
  [scaling_darcy_decoded]="scaling --family darcy --checkpoint runs/darcy64-decoded.safetensors --solver ksp --ks 1,2,4,8,16,32,64 --test 10 --plot $R/scaling_darcy_decoded.png"
  # nonlinear-poisson with the solution state (the default since it came; the rows above are the
  # decoded model): Gauss-Newton steps on the model's residual
  [nonlinear_poisson_snes_state]="bench --family nonlinear-poisson --solver snes --train ${NLP_TRAIN:-400} --test $TEST --epochs $EPOCHS --pde-solution-state on --anchor nearest --save-checkpoint runs/nlp32-state.safetensors"
  # the network's start on that checkpoint (its automatic choice, since 2026-12-01, is k = 0); the
  # finer-mesh and unstructured rows of this checkpoint run the network at k = 1 too
  # the retrained checkpoints as they stand (automatic k = 0), without retraining: timing reruns
  [nonlinear_poisson_snes_state_checkpoint]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test $TEST"
  [navier_stokes_snes_checkpoint]="bench --family navier-stokes --solver snes --checkpoint runs/ns16.safetensors --test $TEST"
  [nonlinear_poisson_snes_state_k1]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test $TEST --k 1"
  [nonlinear_poisson_snes_state_k8]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --k 8 --test $TEST"
  [scaling_nonlinear_poisson_state]="scaling --family nonlinear-poisson --checkpoint runs/nlp32-state.safetensors --solver snes --ks 0,1,2,4,8,16,32,64 --test 10 --plot $R/scaling_nonlinear_poisson_state.png"
  [scaling_nonlinear_poisson_state_float64]="scaling --family nonlinear-poisson --checkpoint runs/nlp32-state.safetensors --solver snes --ks 1,2,4,8,16,32,64 --test 10 --pde-precision float64 --plot $R/scaling_nonlinear_poisson_state_float64.png"
  # the solution-state nonlinear-poisson model on a 3x finer mesh (its coarse Newton step sums
  # P' J P cell by cell, so its cost grows with the mesh, not the mesh squared)
  [nonlinear_poisson_snes_state_refined96]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test-family nonlinear-poisson:n=96 --test $TEST --k 1"
  [nonlinear_poisson_snes_state_refined96_k8]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test-family nonlinear-poisson:n=96 --k 8 --test $TEST"
  # and 8x finer (66,049 dofs), where a cold Newton step's sparse LU costs about as much as the start
  [nonlinear_poisson_snes_state_refined256]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test-family nonlinear-poisson:n=256 --test $TEST --k 1"
  # THREADS_FROM (learned_solvers/_threads.py): one inference thread below 2,000 dofs, torch's threads
  # from there. Each pair is the same start on the thread count the rule does not choose, against the
  # row on the one it does: 1,089 dofs (32x32), 2,401 (48x48), 4,225 (darcy 64x64), 9,409 (96x96)
  [nonlinear_poisson_snes_state_k8_threads2]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --k 8 --test $TEST --threads 2"
  [nonlinear_poisson_snes_state_refined48_k8]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test-family nonlinear-poisson:n=48 --k 8 --test $TEST"
  [nonlinear_poisson_snes_state_refined48_k8_threads1]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test-family nonlinear-poisson:n=48 --k 8 --test $TEST --threads 1"
  [darcy_ksp_gamg_k4_threads1]="bench $D --pc gamg --k 4 --threads 1"
  [nonlinear_poisson_snes_state_refined96_k8_threads1]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test-family nonlinear-poisson:n=96 --k 8 --test $TEST --threads 1"
  [scaling_nonlinear_poisson]="scaling --family nonlinear-poisson --checkpoint runs/nlp32.safetensors --solver snes --ks 1,2,4,8,16,32,64 --test 10 --plot $R/scaling_nonlinear_poisson.png"
  [scaling_navier_stokes]="scaling --family navier-stokes --checkpoint runs/ns16.safetensors --solver snes --ks 0,1,2,4,8,16,32,64 --test 10 --plot $R/scaling_navier_stokes.png"
  # PETSc's own default KSP tolerance (rtol 1e-5) instead of 1e-8, same checkpoint
  [darcy_ksp_gamg_k16_rtol1e-5]="bench $D --pc gamg --k 16 --tol 1e-5"
  [darcy_ksp_jacobi_k16_rtol1e-5]="bench $D --pc jacobi --k 16 --tol 1e-5"
  # the Jacobian penalty the LP/QP model trains with (--jacobian-weight), on darcy: does the k-th iterate settle?
  [darcy_ksp_gamg_jac]="bench --family darcy --solver ksp --pc gamg --train ${DARCY_TRAIN:-120} --test $TEST --epochs $EPOCHS --jacobian-weight 1 --anchor nearest --save-checkpoint runs/darcy64-jac.safetensors --k 1"
  [scaling_darcy_jac]="scaling --family darcy --checkpoint runs/darcy64-jac.safetensors --solver ksp --ks 1,2,4,8,16,32,64 --test 10 --plot $R/scaling_darcy_jac.png"
  [darcy_ksp_gamg_jac0.01]="bench --family darcy --solver ksp --pc gamg --train ${DARCY_TRAIN:-120} --test $TEST --epochs $EPOCHS --jacobian-weight 0.01 --anchor nearest --save-checkpoint runs/darcy64-jac0.01.safetensors --k 1"
  [scaling_darcy_jac0.01]="scaling --family darcy --checkpoint runs/darcy64-jac0.01.safetensors --solver ksp --ks 1,2,4,8,16,32,64 --test 10 --plot $R/scaling_darcy_jac0.01.png"
  # unstructured meshes (mesh=unstructured: Delaunay on jittered points, irregular connectivity):
  # the structured-trained checkpoints on them, and models trained on them
  [darcy_ksp_gamg_unstructured]="bench $D --pc gamg --k 1 --test-family darcy:mesh=unstructured"
  [darcy_ksp_gamg_unstructured_k16]="bench $D --pc gamg --k 16 --test-family darcy:mesh=unstructured"
  [darcy_ksp_gamg_unstructured_trained]="bench --family darcy:mesh=unstructured --solver ksp --pc gamg --train ${DARCY_TRAIN:-120} --test $TEST --epochs $EPOCHS --anchor nearest --save-checkpoint runs/darcy64-unstructured.safetensors --k 1"
  [darcy_ksp_jacobi_unstructured_trained]="bench --family darcy:mesh=unstructured --solver ksp --pc jacobi --checkpoint runs/darcy64-unstructured.safetensors --test $TEST --k 1"
  [nonlinear_poisson_snes_state_unstructured]="bench --family nonlinear-poisson --solver snes --checkpoint runs/nlp32-state.safetensors --test-family nonlinear-poisson:mesh=unstructured --test $TEST --k 1"
  [nonlinear_poisson_snes_state_unstructured_trained]="bench --family nonlinear-poisson:mesh=unstructured --solver snes --train ${NLP_TRAIN:-400} --test $TEST --epochs $EPOCHS --pde-solution-state on --anchor nearest --save-checkpoint runs/nlp32-state-unstructured.safetensors"
  [navier_stokes_snes_unstructured]="bench --family navier-stokes:mesh=unstructured --solver snes --train ${NS_TRAIN:-120} --test $TEST --epochs $EPOCHS --anchor nearest --save-checkpoint runs/ns16-unstructured.safetensors"
  # the network's start on those two checkpoints (retrained, their automatic k can be 0)
  [nonlinear_poisson_snes_state_unstructured_trained_k1]="bench --family nonlinear-poisson:mesh=unstructured --solver snes --checkpoint runs/nlp32-state-unstructured.safetensors --test $TEST --k 1"
  [navier_stokes_snes_unstructured_k1]="bench --family navier-stokes:mesh=unstructured --solver snes --checkpoint runs/ns16-unstructured.safetensors --test $TEST --k 1"
  # a wider, longer-trained nonlinear-poisson model
  [nonlinear_poisson_snes_w64_k16]="bench --family nonlinear-poisson --solver snes --train 400 --test $TEST --epochs 60 --pde-width 64 --k 16 --pde-solution-state off --anchor nearest --save-checkpoint runs/nlp32_w64.safetensors"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(navier_stokes_snes navier_stokes_snes_k1 nonlinear_poisson_snes darcy_ksp_gamg darcy_ksp_jacobi
                                 darcy_ksp_gamg_checkpoint darcy_ksp_gamg_refined128 darcy_ksp_gamg_k16
                                 darcy_ksp_jacobi_k16
                                 darcy_ksp_gamg_refined128_k16 nonlinear_poisson_snes_k16 scaling_darcy
                                 scaling_nonlinear_poisson scaling_navier_stokes darcy_ksp_gamg_k16_rtol1e-5
                                 darcy_ksp_jacobi_k16_rtol1e-5 nonlinear_poisson_snes_w64_k16 scaling_darcy_float64
                                 darcy_ksp_jacobi_k8 darcy_ksp_jacobi_k16_float64 darcy_ksp_gamg_k4
                                 darcy_ksp_gamg_decoded scaling_darcy_decoded nonlinear_poisson_snes_state
                                 nonlinear_poisson_snes_state_k1 nonlinear_poisson_snes_state_checkpoint
                                 navier_stokes_snes_checkpoint
                                 nonlinear_poisson_snes_state_k8 scaling_nonlinear_poisson_state
                                 scaling_nonlinear_poisson_state_float64 nonlinear_poisson_snes_state_refined96
                                 nonlinear_poisson_snes_state_refined96_k8 nonlinear_poisson_snes_state_refined256
                                 darcy_ksp_gamg_refined84 darcy_ksp_gamg_refined84_k4 darcy_ksp_gamg_unstructured
                                 darcy_ksp_gamg_unstructured_k16 darcy_ksp_gamg_unstructured_trained
                                 darcy_ksp_jacobi_unstructured_trained nonlinear_poisson_snes_state_unstructured
                                 navier_stokes_snes_unstructured nonlinear_poisson_snes_state_unstructured_trained
                                 navier_stokes_snes_kernel navier_stokes_snes_kernel_k1
                                 nonlinear_poisson_snes_state_kernel nonlinear_poisson_snes_state_kernel_k1
                                 darcy_ksp_gamg_kernel darcy_ksp_jacobi_kernel darcy_ksp_gamg_kernel_k1
                                 darcy_ksp_jacobi_kernel_k1 nonlinear_poisson_snes_state_kernel_train1500
                                 nonlinear_poisson_snes_state_kernel_refined96 nonlinear_poisson_snes_state_kernel_refined256
                                 nonlinear_poisson_snes_state_kernel_checkpoint
                                 nonlinear_poisson_snes_state_kernel_train1500_checkpoint
                                 nonlinear_poisson_snes_state_unstructured_trained_k1 navier_stokes_snes_unstructured_k1
                                 nonlinear_poisson_snes_state_k8_threads2 nonlinear_poisson_snes_state_refined48_k8
                                 nonlinear_poisson_snes_state_refined48_k8_threads1 darcy_ksp_gamg_k4_threads1
                                 nonlinear_poisson_snes_state_refined96_k8_threads1)
for name in "${names[@]}"; do  # every name first: a typo must not stop the list halfway
  [ -n "${RUNS[$name]+x}" ] || { echo "$(basename "$0"): no run named $name; runs: ${!RUNS[*]}" >&2; exit 2; }
done
for name in "${names[@]}"; do
  echo "== $name"
  $LS ${RUNS[$name]} --out "$R/$name.json" | tee "$R/$name.txt"
done
exit
}
