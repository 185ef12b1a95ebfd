#!/usr/bin/env bash
# determinism.sh WORK -- CMD...: runs CMD --out WORK/a and CMD --out WORK/b (same seed, same build) and
# requires metrics.json to be identical byte for byte, except the lines of wall-clock timings
# ("train_s", "sample_s", "seconds", "eval_seconds", "images_per_s"), which no seed can fix.
set -u
work=$1
shift
[ "$1" = "--" ] && shift
rm -rf "$work"
mkdir -p "$work"
for r in a b; do
  "$@" --out "$work/$r" >/dev/null 2>"$work/$r.err" || { echo "FAIL: run $r failed: $(cat "$work/$r.err")"; exit 1; }
  [ -f "$work/$r/metrics.json" ] || { echo "FAIL: run $r wrote no metrics.json"; exit 1; }
  grep -Ev '^ *"(train_s|sample_s|seconds|eval_seconds|images_per_s)": ' "$work/$r/metrics.json" >"$work/$r.metrics"
done
if ! cmp -s "$work/a.metrics" "$work/b.metrics"; then
  echo "FAIL: metrics.json differs between two runs with the same seed:"
  diff "$work/a.metrics" "$work/b.metrics" | head -20
  exit 1
fi
echo "ok: identical metrics.json ($(wc -l <"$work/a.metrics") lines compared, timings excluded)"
