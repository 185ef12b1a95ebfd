#!/usr/bin/env bash
# reports/mnist: `compare --method all` on MNIST on this 2-core CPU.
# Budget: every model is a small-preset model trained for 1000 iterations of batch 16 (seed 0) by
# reports/mnist-small/run.sh (2.5-6.5 min each on an idle machine); compare then loads them with
# --from-checkpoints, samples, scores with the MNIST LeNet classifier (data/classifiers/mnist, 3 epochs,
# 99.07% test accuracy) and inpaints. `compare --dataset mnist --method all --iters 1000 --out DIR` trains the
# same models itself in one command.
# Sampling budget on this shared 2-core CPU (one thread: two OpenMP threads thrash when the machine is loaded):
# annealed Langevin with 20 steps per level (NCSN uses 100; one NCSNv2 forward of 100 images took ~3 s here)
# plus the final denoising step, and DDIM with 100 steps (eta 0) instead of 1000 ancestral steps.
# From the repository root: reports/mnist/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/get-data mnist
./scripts/setup
for m in ar smoothed-ar-stage1 smoothed-ar-stage2-stacked ncsn ddpm; do
  [ -f "reports/mnist-small/$m/model.pt" ] || reports/mnist-small/run.sh "$m"
done
[ -f data/classifiers/mnist/classifier.pt ] || build/apps/classifier --dataset mnist --epochs 3 --seed 0 --out data/classifiers/mnist
build/apps/compare --dataset mnist --method ar,smoothed-ar,ncsn,ddpm --from-checkpoints reports/mnist-small --samples 100 \
  --clamp clean --inpaint-images 6 --mask bottom-half --final-denoise --steps-per-level 20 --sampler ddim --steps 100 --threads 1 --seed 0 --out reports/mnist 2> reports/mnist/compare.log
