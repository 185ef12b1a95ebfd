#!/usr/bin/env bash
# study_failed_run.sh STUDY ARGS...: a sweep with one failing run must still finish the others and write the
# summary, then exit 3 with a last line naming the failed run and its log.
set -u
prev=""
dir=""
out=$("$@" 2>&1)
status=$?
last=$(tail -1 <<<"$out")
echo "$last"
[ "$status" = 3 ] || { echo "exit status $status, expected 3"; exit 1; }
grep -Eq 'study: error: 1 run\(s\) failed .*levels=1/seed-0 \(log: .*study.log\)' <<<"$last" || { echo "unexpected last line"; exit 1; }
grep -q 'finished .*levels=3/seed-0' <<<"$out" || { echo "the other run did not finish"; exit 1; }
for a in "$@"; do case "$prev" in --out) dir=$a ;; esac; prev=$a; done
[ -f "$dir/report.md" ] || { echo "no report.md in $dir"; exit 1; }
echo ok
