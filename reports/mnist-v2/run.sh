#!/usr/bin/env bash
# reports/mnist-v2 (issue 16): does distribution smoothing improve PixelCNN++ samples on MNIST at an equal
# training budget, which denoiser wins, and how do the likelihoods compare? Protocol:
#   - methods ar and smoothed-ar (one set of stage-1 draws reversed by single-step denoising with the authors'
#     detached gradient, with the full gradient, and by the stage-2 PixelCNN++), small preset, the authors'
#     defaults (deconvolution norm per input channel, summed loss, stage 2 unclamped);
#   - budget curves: every model is trained once and evaluated after each of BUDGETS iterations (batch 16);
#     each smoothed-ar stage gets the same iterations as ar, so smoothed-ar at b iterations costs about as
#     much training as ar at 2b (the figures plot against cumulative training seconds);
#   - 1000 samples per row, FD/KID-classifier (MNIST LeNet) with bootstrap 95% intervals, the floor;
#   - one process per seed, one thread each, in parallel (two processes of one thread beat one of two here).
# Resumable: rerun the same command after an interruption; finished budgets are reused and training resumes
# from the checkpoints. A longer BUDGETS list or more SEEDS extends the study.
# From the repository root: reports/mnist-v2/run.sh   (BUDGETS=200,400,800,1600 SEEDS="0 1": about 2 hours)
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/get-data mnist
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/mnist-v2
budgets=${BUDGETS:-200,400,800,1600}
seeds=${SEEDS:-0 1}
[ -f data/classifiers/mnist/classifier.pt ] ||
  "$apps/classifier" --dataset mnist --epochs 3 --seed 0 --threads 2 --out data/classifiers/mnist
pids=()
for s in $seeds; do
  "$apps/compare" --dataset mnist --preset small --method ar,smoothed-ar --budget-iters "$budgets" --samples 1000 \
    --seed "$s" --threads 1 --quiet --out "$out/seed-$s" > "$out/seed-$s.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ "$status" = 0 ] || { echo "reports/mnist-v2: a seed failed; see $out/seed-*.log" >&2; exit 1; }
/usr/bin/python3 "$out/summarize.py"
