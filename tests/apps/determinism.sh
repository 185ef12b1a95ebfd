#!/usr/bin/env bash
# determinism.sh WORK -- CMD...: runs CMD --out WORK/a and CMD --out WORK/b (same seed, same build) and
# requires metrics.json to be identical byte for byte. Wall-clock timings, which no seed can fix, live
# in timings.json (written beside it, never compared); metrics.json must hold none of them.
set -u
work=$1
shift
[ "$1" = "--" ] && shift
rm -rf "$work"
mkdir -p "$work"
for r in a b; do
  "$@" --out "$work/$r" >/dev/null 2>"$work/$r.err" || { echo "FAIL: run $r failed: $(cat "$work/$r.err")"; exit 1; }
  [ -f "$work/$r/metrics.json" ] || { echo "FAIL: run $r wrote no metrics.json"; exit 1; }
  [ -f "$work/$r/timings.json" ] || { echo "FAIL: run $r wrote no timings.json"; exit 1; }
done
if grep -Eq '"(train_s|sample_s|seconds|eval_seconds|images_per_s|sample_s_per_image|stage1_sample_s_per_image|stage2_train_s|allreduce_s)":' "$work/a/metrics.json"; then
  echo "FAIL: metrics.json holds a wall-clock key (it belongs in timings.json)"
  exit 1
fi
if ! cmp -s "$work/a/metrics.json" "$work/b/metrics.json"; then
  echo "FAIL: metrics.json differs between two runs with the same seed:"
  diff "$work/a/metrics.json" "$work/b/metrics.json" | head -20
  exit 1
fi
echo "ok: metrics.json identical byte for byte ($(wc -c <"$work/a/metrics.json") bytes, $(wc -l <"$work/a/metrics.json") lines)"
