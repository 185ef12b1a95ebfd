#!/usr/bin/env bash
# Short MNIST runs of every method at the small preset (minutes each on 2 cores), then report.md.
# From the repository root: reports/mnist-small/run.sh [NAME...]   (default: all runs below)
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/get-data mnist
./scripts/setup
# PixelCNN++ as trained before issue 16's faithful defaults (per-output-channel deconvolution norm, mean loss),
# so that this report's numbers are reproduced; drop the two flags for the authors' defaults.
pre16="--deconv-norm output --loss-reduction mean"
declare -A runs=(
  [ar]="--method ar $pre16"
  [smoothed-ar-stage1]="--method smoothed-ar --stage 1 $pre16"
  [smoothed-ar-stage2-stacked]="--method smoothed-ar --stage 2 --conditioning stacked $pre16"
  [smoothed-ar-stage2-stream]="--method smoothed-ar --stage 2 --conditioning stream $pre16"
  [ncsn]="--method ncsn"
  [ddpm]="--method ddpm"
  [ddpm-hybrid]="--method ddpm --hybrid"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(ar smoothed-ar-stage1 smoothed-ar-stage2-stacked smoothed-ar-stage2-stream ncsn ddpm ddpm-hybrid)
for name in "${names[@]}"; do
  # shellcheck disable=SC2086
  build/apps/train --dataset mnist --preset small --quiet --out "reports/mnist-small/$name" ${runs[$name]}
done
/usr/bin/python3 reports/mnist-small/summarize.py
