#!/usr/bin/env bash
# jobs_equal.sh WORK -- COMPARE_CMD...: the toy comparison with its methods in 2 worker processes of 1 thread
# (--jobs 2 --threads 2) must write the same metrics.json, byte for byte, as the methods one after another in one
# process of 1 thread (--jobs 1 --threads 1).
set -u
work=$1
shift
[ "$1" = "--" ] && shift
rm -rf "$work"
mkdir -p "$work"
"$@" --jobs 2 --threads 2 --out "$work/jobs2" >/dev/null 2>"$work/jobs2.err" || { echo "FAIL: --jobs 2 failed: $(cat "$work/jobs2.err")"; exit 1; }
"$@" --jobs 1 --threads 1 --out "$work/jobs1" >/dev/null 2>"$work/jobs1.err" || { echo "FAIL: --jobs 1 failed: $(cat "$work/jobs1.err")"; exit 1; }
grep -q '"jobs": 2' "$work/jobs2/config.json" || { echo "FAIL: config.json of the --jobs 2 run does not record 2 jobs"; exit 1; }
if ! cmp -s "$work/jobs1/metrics.json" "$work/jobs2/metrics.json"; then
  echo "FAIL: metrics.json differs between --jobs 2 and --jobs 1 --threads 1:"
  diff "$work/jobs1/metrics.json" "$work/jobs2/metrics.json" | head -20
  exit 1
fi
ls "$work/jobs2/checkpoints/"*.outcome.json >/dev/null 2>&1 || { echo "FAIL: the workers left no outcome files"; exit 1; }
echo "ok: metrics.json identical ($(wc -c <"$work/jobs1/metrics.json") bytes)"
