#!/usr/bin/env bash
# disk_full.sh OUT KB -- CMD...: runs CMD --out OUT with a file-size limit of KB KiB (ulimit -f, with SIGXFSZ
# ignored, so that a write past it fails with EFBIG like a full disk) and requires exit status 3, one
# stderr line "cannot write ... (disk full?)", and no metrics.json left in OUT.
set -u
out=$1 kb=$2
shift 2
[ "$1" = "--" ] && shift
rm -rf "$out"
err=$(mktemp)
( trap '' XFSZ; ulimit -f "$kb"; exec "$@" --out "$out" ) >/dev/null 2>"$err"
status=$?
msg=$(cat "$err")
rm -f "$err"
[ "$status" = 3 ] || { echo "FAIL: exit status $status, expected 3; stderr: $msg"; exit 1; }
[ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] || { echo "FAIL: expected one stderr line: $msg"; exit 1; }
grep -Eq "cannot write .*(disk full|No space|File too large)" <<<"$msg" || { echo "FAIL: unexpected message: $msg"; exit 1; }
[ -e "$out/metrics.json" ] && { echo "FAIL: metrics.json left behind"; exit 1; }
ls "$out" | grep -q '\.tmp\.' && { echo "FAIL: temporary files left behind: $(ls "$out")"; exit 1; }
echo "ok: $msg"
