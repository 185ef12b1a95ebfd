#!/usr/bin/env bash
# expect_error.sh STATUS PATTERN CMD...: runs CMD and passes only if it exits with STATUS, prints exactly one
# line on stderr, and that line matches the extended regular expression PATTERN.
set -u
want=$1 pattern=$2
shift 2
err=$(mktemp)
"$@" >/dev/null 2>"$err"
got=$?
lines=$(wc -l <"$err")
msg=$(cat "$err")
rm -f "$err"
if [ "$got" != "$want" ]; then echo "exit status $got, expected $want; stderr: $msg"; exit 1; fi
if [ "$lines" != 1 ]; then echo "expected one line on stderr, got $lines: $msg"; exit 1; fi
if ! grep -Eq -- "$pattern" <<<"$msg"; then echo "stderr '$msg' does not match '$pattern'"; exit 1; fi
echo "ok: $msg"
