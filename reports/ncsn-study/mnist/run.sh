#!/usr/bin/env bash
# reports/ncsn-study/mnist (issue 14, the MNIST halves of experiments 10 and 11): NCSN on MNIST with
#   - the NCSNv2 RefineNet (--score-net ncsnv2) against the smaller DDPM U-Net with an NCSN head (--score-net unet:
#     s(x, sigma) = UNet(2x - 1, 1000 log(sigma / sigma_min) / log(sigma_max / sigma_min)) / sigma), experiment 11;
#   - each unconditional and class-conditional on the digit (--condition class), experiment 10.
# Equal budget for all four: small preset, 1000 iterations at batch 16, sigma 1 -> 0.01 over 10 levels, DSM;
# annealed Langevin with 5 steps per level, eps 5e-5, and the final denoising step; 200 samples per row; 3 seeds.
# The score is the evaluation classifier's (FD/KID-classifier, class histogram, and for the conditional models its
# agreement with the label each sample was drawn for). Two lanes of one thread each; resumable (finished seeds are
# reused, training resumes from the checkpoints). About 90 minutes on 2 cores (measured: 1000 NCSNv2 iterations take 15-30 minutes per lane).
# From the repository root: reports/ncsn-study/mnist/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
./scripts/get-data mnist
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/ncsn-study/mnist
[ -f data/classifiers/mnist/classifier.pt ] ||
  "$apps/classifier" --dataset mnist --epochs 3 --seed 0 --threads 2 --out data/classifiers/mnist
run() {  # NET CONDITION
  "$apps/compare" --dataset mnist --preset small --method ncsn --score-net "$1" --condition "$2" --iters 1000 \
    --seeds 3 --samples 200 --steps-per-level 5 --step-size 5e-5 --final-denoise --likelihood-images 0 \
    --inpaint-images 0 --threads 1 --quiet --out "$out/cells/$1-$2" > "$out/cells/$1-$2.log" 2>&1
}
mkdir -p "$out/cells"
(run ncsnv2 none && run unet none) &
lane1=$!
(run ncsnv2 class && run unet class) &
lane2=$!
status=0
wait "$lane1" || status=1
wait "$lane2" || status=1
[ "$status" = 0 ] || { echo "$out: a run failed; see $out/cells/*.log" >&2; exit 1; }
/usr/bin/python3 "$out/summarize.py"
