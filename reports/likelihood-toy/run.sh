#!/usr/bin/env bash
# Every method's test-set likelihood on mog (2-D, 25 sharp modes) and mog-1d, beside the true entropy, with
# the learned models and the exact-score rows (ncsn and ddpm on the data's exact score / eps).
# Usage: reports/likelihood-toy/run.sh   (from the repository root; ~15 min on 2 cores)
# SCORELAB_APPS=DIR runs the apps in DIR instead of build/apps (e.g. a copy, while build/ is rebuilt).
set -euo pipefail
cd "$(dirname "$0")/../.."
apps=${SCORELAB_APPS:-build/apps}
out=reports/likelihood-toy
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
for ds in mog mog-1d; do
  "$apps/compare" --method ar,smoothed-ar,ncsn,ddpm --dataset "$ds" --test-size 2000 --samples 2000 --seed 0 --threads 1 --no-plots --quiet \
    --out "$out/$ds-learned" > /dev/null
  "$apps/compare" --method ncsn,ddpm --score exact --dataset "$ds" --test-size 2000 --samples 2000 --seed 0 --threads 1 \
    --no-plots --quiet --out "$out/$ds-exact" > /dev/null
  rm -rf "$out/$ds-learned/checkpoints" "$out/$ds-exact/checkpoints"
  echo "$ds done"
done
/usr/bin/python3 "$out/summarize.py"
