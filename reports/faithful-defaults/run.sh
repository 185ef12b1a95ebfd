#!/usr/bin/env bash
# Issue 16: do the authors' PixelCNN++ training defaults change a small MNIST model? Three settings of the
# small-preset `ar` model (1000 iterations of batch 16), two seeds each, two processes of one thread at a time:
#   input-sum    the new defaults (deconvolution weight norm per input channel, summed loss)
#   input-mean   per-input-channel norm, per-dimension mean loss: isolates the loss reduction
#   output-mean  scorelab before issue 16
# From the repository root: reports/faithful-defaults/run.sh   (about 25 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/get-data mnist
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/faithful-defaults
declare -A flags=([input-sum]="--deconv-norm input --loss-reduction sum" [input-mean]="--deconv-norm input --loss-reduction mean"
                  [output-mean]="--deconv-norm output --loss-reduction mean")
run() {
  # shellcheck disable=SC2086
  "$apps/train" --method ar --dataset mnist --preset small --threads 1 --quiet --seed "$2" ${flags[$1]} \
    --out "$out/$1-s$2" > "$out/$1-s$2.log" 2>&1
}
run input-sum 0 & run input-mean 0 & wait
run output-mean 0 & run input-sum 1 & wait
run input-mean 1 & run output-mean 1 & wait
/usr/bin/python3 "$out/summarize.py"
