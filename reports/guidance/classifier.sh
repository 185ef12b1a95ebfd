#!/usr/bin/env bash
# reports/guidance, classifier guidance (issue 15): an unconditional DDPM U-Net (small preset, 1000 iterations at
# batch 16: the classifier-free sweep's budget, run.sh) is trained once per seed with a noise-aware classifier of the
# digit beside it (2000 steps at batch 128 on training images moved to the U-Net's VE coordinates, log sigma uniform
# over its noise range); then each classifier scale S samples 300 images with DDIM (50 steps, eta 0) along
# eps - S sigma_t grad log p(y | x_t) for uniformly random digits y, and the evaluation classifier scores them as in
# run.sh. SEEDS (default "0 1 2") run in two lanes of one thread each. Resumable: finished cells are reused, the
# models and the guide classifier stay in cells-classifier/seed-S/s-0/checkpoints. About an hour on 2 cores.
# GUIDE_ITERS=N (with SCALES) guides the same trained U-Nets with a classifier trained for N steps instead: its
# folder is cells-classifier/seed-S/s-0/checkpoints/ddpm-guide-classifier-N, its cells cells-classifier-guideN/.
# From the repository root: reports/guidance/classifier.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source reports/guidance/lanes.sh
./scripts/get-data mnist
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/guidance
seeds=${SEEDS:-0 1 2}
scales=${SCALES:-0 1 2 4 8 16 32}
[ -f data/classifiers/mnist/classifier.pt ] ||
  "$apps/classifier" --dataset mnist --epochs 3 --seed 0 --threads 2 --out data/classifiers/mnist
common=(--dataset mnist --preset small --method ddpm --iters 1000 --samples 300 --sampler ddim --steps 50 --eta 0
        --likelihood-images 0 --inpaint-images 0 --threads 1 --quiet)
guide=()
cells=$out/cells-classifier
if [ -n "${GUIDE_ITERS:-}" ]; then cells=$out/cells-classifier-guide$GUIDE_ITERS; fi
seed_run() {  # SEED: train (S = 0 row), then every other scale from the checkpoints
  local s=$1 dir=$out/cells-classifier/seed-$1 cdir=$cells/seed-$1
  [ -f "$dir/s-0/metrics.json" ] || "$apps/compare" "${common[@]}" --seed "$s" --out "$dir/s-0" > "$dir.log" 2>&1
  [ -n "${GUIDE_ITERS:-}" ] && guide=(--guide-classifier "$dir/s-0/checkpoints/ddpm-guide-classifier-$GUIDE_ITERS"
                                      --guide-classifier-iters "$GUIDE_ITERS")
  for c in $scales; do
    [ "$c" = 0 ] && continue
    [ -f "$cdir/s-$c/metrics.json" ] ||
      "$apps/compare" "${common[@]}" --seed "$s" --classifier-scale "$c" --from-checkpoints "$dir/s-0/checkpoints" \
        "${guide[@]}" --out "$cdir/s-$c" >> "$cdir.log" 2>&1
  done
}
mkdir -p "$out/cells-classifier" "$cells"
read -r -a all <<< "$seeds"
run_lanes "$cells/seed-*.log" "${all[@]}"
/usr/bin/python3 "$out/summarize.py" classifier ${GUIDE_ITERS:+$GUIDE_ITERS}
