#!/usr/bin/env bash
# MNIST test likelihoods of every method (issue 12) at the reports/mnist budget: the mnist-small models
# (small preset, 1000 iterations of batch 16), trained here into WORK_DIR, then `evaluate` on the first
# N test images (bits/dim on the 8-bit scale; seconds and function evaluations per image in metrics/timings).
# From the repository root: reports/mnist-likelihood/run.sh [WORK_DIR] [N]   (default runs/mnist-small, 100)
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-runs/mnist-small}
n=${2:-100}
out=reports/mnist-likelihood
mkdir -p "$work"
apps=${SCORELAB_APPS:-build/apps}
./scripts/get-data mnist
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
# PixelCNN++ as trained before issue 16's faithful defaults (per-output-channel deconvolution norm, mean loss),
# so that this report's numbers are reproduced; drop the two flags for the authors' defaults.
pre16="--deconv-norm output --loss-reduction mean"
declare -A runs=(
  [ar]="--method ar $pre16"
  [smoothed-ar-stage1]="--method smoothed-ar --stage 1 $pre16"
  [smoothed-ar-stage2-stacked]="--method smoothed-ar --stage 2 --conditioning stacked $pre16"
  [ncsn]="--method ncsn"
  [ddpm]="--method ddpm"
)
for name in ar smoothed-ar-stage1 smoothed-ar-stage2-stacked ncsn ddpm; do
  # shellcheck disable=SC2086
  "$apps/train" --dataset mnist --preset small --quiet --resume --out "$work/$name" ${runs[$name]} > "$work.$name.log" 2>&1
  echo "trained $name"
done
ev() {  # name model likelihood [flags...]
  local name=$1 model=$2 kind=$3
  shift 3
  "$apps/evaluate" --model-dir "$work/$model" --likelihood "$kind" --images "$n" --seed 0 --out "$out/$name" "$@"
}
ev ar ar exact
ev smoothed-ar smoothed-ar-stage1 bound --stage2-dir "$work/smoothed-ar-stage2-stacked"
ev ddpm-bound ddpm bound --vlb-strata 25
ev ncsn-ode ncsn ode --probes 1 --lik-rtol 1e-3 --lik-atol 1e-3 --lik-batch-size 50
ev ddpm-ode ddpm ode --probes 1 --lik-rtol 1e-3 --lik-atol 1e-3 --lik-batch-size 50
/usr/bin/python3 "$out/summarize.py" "$n"
