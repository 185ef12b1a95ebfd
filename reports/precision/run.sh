#!/usr/bin/env bash
# Issue 17: does --precision bf16 train the image networks as well as fp32? Each network at the small preset
# (1000 iterations of batch 16, MNIST), once in fp32 and once in bf16 from the same seed (same initialisation, data
# order, noise and dropout draws), one process of one thread at a time:
#   stage1  smoothed-ar stage 1: PixelCNN++ on x~ = x + 0.5 z (the smoothed likelihood)
#   stage2  smoothed-ar stage 2: stacked PixelCNN++ p(x | x~) (reverse smoothing)
#   ncsn    NCSNv2 (DSM)
#   ddpm    DDPM U-Net (L_simple)
# The runs use the CPU's bf16 (AVX512-BF16 or AMX); on a CPU without it `--precision bf16` falls back to fp32 and
# this script stops. From the repository root: reports/precision/run.sh   (SEEDS="0 1" for more seeds; finished runs
# are kept: a rerun only does what is missing; a second run.sh started beside it takes the runs the first has not
# claimed, so two of them use both cores). Then: /usr/bin/python3 reports/precision/summarize.py
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/get-data mnist
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/precision
grep -q -w -E 'avx512_bf16|amx_bf16' /proc/cpuinfo || { echo "$out/run.sh: this CPU has no bf16 (AVX512-BF16 / AMX-BF16): nothing to compare" >&2; exit 1; }
echo "$(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p' | head -1); bf16 flags: $(grep -o -w -E 'avx512_bf16|amx_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')" >> "$out/cpu.txt"
claimed=""
trap '[ -z "$claimed" ] || rmdir "$claimed" 2>/dev/null || true' EXIT
declare -A flags=([stage1]="--method smoothed-ar --stage 1" [stage2]="--method smoothed-ar --stage 2"
                  [ncsn]="--method ncsn" [ddpm]="--method ddpm")
for seed in ${SEEDS:-0}; do
  for net in stage1 ncsn ddpm stage2; do
    for p in fp32 bf16; do
      dir="$out/runs/$net-$p-s$seed"
      [ -f "$dir/metrics.json" ] && continue
      mkdir "$dir.lock" 2>/dev/null || continue  # another run.sh beside this one has it
      claimed="$dir.lock"
      echo "== $net $p seed $seed"
      # shellcheck disable=SC2086
      "$apps/train" ${flags[$net]} --dataset mnist --preset small --threads 1 --quiet --seed "$seed" --precision "$p" \
        --eval-every 100 --out "$dir" > "$dir.log" 2>&1 || { rmdir "$dir.lock"; echo "failed: see $dir.log" >&2; exit 1; }
      rmdir "$dir.lock"
      claimed=""
    done
  done
done
/usr/bin/python3 "$out/summarize.py"
