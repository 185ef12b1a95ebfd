#!/usr/bin/env bash
# Every sampler on the 2-D toy (mog: 25 sharp modes), with the exact score and with a learned one.
# Usage: reports/samplers-toy/run.sh [WORK_DIR]   (from the repository root; ~15 min on 2 cores)
# Each (method, score) pair trains once in WORK_DIR/<method>-<score>; every sampler then reuses those
# checkpoints with --resume and its metrics.json/timings.json are copied to reports/samplers-toy/runs/.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-runs/samplers-toy}
out=reports/samplers-toy/runs
mkdir -p "$out" "$work"
./scripts/setup
run() {  # method score sampler [flags...]
  local method=$1 score=$2 sampler=$3
  shift 3
  local dir=$work/$method-$score
  build/apps/compare --method "$method" --score "$score" --sampler "$sampler" --dataset mog --seed 0 --threads 1 \
    --no-plots --quiet --resume "$@" --out "$dir" > "$dir.log" 2>&1 || { echo "FAILED: $method $score $sampler" >&2; tail -3 "$dir.log" >&2; return 1; }
  cp "$dir/metrics.json" "$out/$method-$score-$sampler.metrics.json"
  cp "$dir/timings.json" "$out/$method-$score-$sampler.timings.json"
  echo "$method $score $sampler done"
}
for score in exact learned; do
  for s in annealed-langevin pc ode edm; do run ncsn "$score" "$s"; done
  for s in ddpm ddim pc ode edm; do run ddpm "$score" "$s"; done
done
run ncsn exact mala
run ncsn exact langevin
/usr/bin/python3 reports/samplers-toy/summarize.py
