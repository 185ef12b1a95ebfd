#!/usr/bin/env bash
# interrupt_resume.sh SIGNAL WORK CKPT LOG -- TRAIN_CMD...
# Fault injection for `train`: runs TRAIN_CMD --out WORK/ref uninterrupted; runs it again with --out WORK/run,
# sends SIGNAL (KILL, TERM or INT) at a random moment after the first checkpoint WORK/run/CKPT exists, checks
# the exit status (137 / 143 / 130), that no metrics.json was left behind, and for TERM / INT the one
# "stopped: ... SIGTERM at iteration N ... --resume" line; then reruns with --resume and requires the same
# params_sha256 as the uninterrupted run (bit-identical weights, when metrics.json has one), the same
# metrics.json but for the "resumed" flags, the same iter,loss,lr rows in LOG and no temporary files left.
# $SCORELAB_KILL_DELAY_MS fixes the delay (default: random in 0..300 ms, printed for reruns).
set -u
sig=$1 work=$2 ckpt=$3 logname=$4
shift 4
[ "$1" = "--" ] && shift
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work"
mkdir -p "$work"
ref=$work/ref run=$work/run

"$@" --out "$ref" >/dev/null 2>"$work/ref.err" || fail "uninterrupted run failed: $(cat "$work/ref.err")"

"$@" --out "$run" >/dev/null 2>"$work/run.err" &
pid=$!
for _ in $(seq 1 600); do
  [ -f "$run/$ckpt" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
[ -f "$run/$ckpt" ] || fail "no checkpoint $run/$ckpt appeared; stderr: $(cat "$work/run.err")"
delay=${SCORELAB_KILL_DELAY_MS:-$((RANDOM % 300))}
sleep "$(printf '0.%03d' "$delay")"
kill -s "$sig" "$pid" 2>/dev/null
wait "$pid"
status=$?
case $sig in KILL) want=137 ;; TERM) want=143 ;; INT) want=130 ;; *) fail "unknown signal $sig" ;; esac
rows_at_kill=$(($(wc -l <"$run/$logname" 2>/dev/null || echo 1) - 1))
[ "$status" = 0 ] && fail "the run finished before SIG$sig (after ${delay} ms); give it more --iters"
[ "$status" = "$want" ] || fail "exit status $status after SIG$sig, expected $want; stderr: $(cat "$work/run.err")"
[ -e "$run/metrics.json" ] && fail "metrics.json left behind by the interrupted run"
if [ "$sig" != KILL ]; then
  lines=$(wc -l <"$work/run.err")
  [ "$lines" = 1 ] || fail "expected one line on stderr after SIG$sig, got $lines: $(cat "$work/run.err")"
  grep -Eq "stopped: .*SIG$sig at iteration [0-9]+ of [0-9]+; checkpoint written to '.*'; rerun the same command with --resume" \
    "$work/run.err" || fail "unexpected message: $(cat "$work/run.err")"
fi

"$@" --out "$run" --resume >/dev/null 2>"$work/resume.err" || fail "resumed run failed: $(cat "$work/resume.err")"
sha() { grep -o '"params_sha256": *"[0-9a-f]*"' "$1/metrics.json" | head -1; }
a=$(sha "$ref") b=$(sha "$run")
# train writes params_sha256; compare reports no weights, and its metrics.json check below covers it.
if [ -n "$a" ]; then
  [ "$a" = "$b" ] || fail "resumed weights differ after SIG$sig at ${delay} ms: $a vs $b"
else
  b="metrics.json"
fi
# Every figure the same as the uninterrupted run's (the loss curve travels in the checkpoint), but for the
# flags that say the run was resumed.
grep -v '"resumed"' "$ref/metrics.json" >"$work/ref.metrics"
grep -v '"resumed"' "$run/metrics.json" >"$work/run.metrics"
cmp -s "$work/ref.metrics" "$work/run.metrics" ||
  fail "metrics.json differs after the resume (not counting 'resumed'): $(diff "$work/ref.metrics" "$work/run.metrics" | head -6 | tr '\n' ' ')"
ls "$run" | grep -q '\.tmp\.' && fail "temporary files left in $run: $(ls "$run")"
rows() { cut -d, -f1-3 "$1/$logname"; }
[ "$(rows "$ref")" = "$(rows "$run")" ] || fail "the loss log $logname differs after the resume"
echo "ok: SIG$sig after the first checkpoint + ${delay} ms ($rows_at_kill of $(($(wc -l <"$ref/$logname") - 1)) log rows written) ($(head -c 200 "$work/run.err" | tr '\n' ' ')), resumed: $b"
