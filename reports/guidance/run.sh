#!/usr/bin/env bash
# reports/guidance (issue 15): classifier-free guidance on MNIST, the guidance-scale sweep. A class-conditional DDPM
# U-Net (small preset, 1000 iterations at batch 16, label dropout 0.1) is trained once per seed; then each guidance
# scale w samples 300 images with DDIM (50 steps, eta 0) for uniformly random digits, and the evaluation classifier
# scores them: its agreement with the digit asked for (fidelity to the label) against FD/KID-classifier and the
# class histogram (diversity and overall quality). SEEDS (default "0 1 2") run in two lanes of one thread each.
# Resumable: finished cells are reused, training resumes from its checkpoints. About 40 minutes on 2 cores.
# From the repository root: reports/guidance/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source reports/guidance/lanes.sh
./scripts/get-data mnist
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/guidance
seeds=${SEEDS:-0 1 2}
scales=${SCALES:-0 0.5 1 2 4}
[ -f data/classifiers/mnist/classifier.pt ] ||
  "$apps/classifier" --dataset mnist --epochs 3 --seed 0 --threads 2 --out data/classifiers/mnist
common=(--dataset mnist --preset small --method ddpm --condition class --label-dropout 0.1 --iters 1000 --samples 300
        --sampler ddim --steps 50 --eta 0 --likelihood-images 0 --inpaint-images 0 --threads 1 --quiet)
seed_run() {  # SEED: train (w = 0 row), then every other scale from the checkpoints
  local s=$1 dir=$out/cells/seed-$1
  [ -f "$dir/w-0/metrics.json" ] || "$apps/compare" "${common[@]}" --seed "$s" --out "$dir/w-0" > "$dir.log" 2>&1
  for w in $scales; do
    [ "$w" = 0 ] && continue
    [ -f "$dir/w-$w/metrics.json" ] ||
      "$apps/compare" "${common[@]}" --seed "$s" --guidance-scale "$w" --from-checkpoints "$dir/w-0/checkpoints" \
        --out "$dir/w-$w" >> "$dir.log" 2>&1
  done
}
mkdir -p "$out/cells"
read -r -a all <<< "$seeds"
run_lanes "$out/cells/seed-*.log" "${all[@]}"
/usr/bin/python3 "$out/summarize.py"
