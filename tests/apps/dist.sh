#!/usr/bin/env bash
# dist.sh CASE WORK [ARGS] -- CMD... (ARGS: equal TOL; bad STATUS PATTERN): data-parallel checks over loopback Gloo (tests/apps/dist.cmake).
#   equal TOL -- CMD...   CMD --out WORK/one (1 process) vs 2 processes --out WORK/two: every tensor of model.pt
#                         within TOL (max |difference| / max(max |value|, 0.01): the floor keeps tensors whose
#                         gradient is zero, e.g. attention key biases, at rounding noise); says if bit-identical
#   killed -- CMD...      2 processes; rank 1 gets kill -9 after the first checkpoint: rank 0 must exit with
#                         status 4 within its --dist-timeout (+ slack), naming rank 1; then --resume with 2
#                         processes must end with the weights of an uninterrupted 2-process run (bit-identical)
#   hung -- CMD...        2 processes; rank 1 gets SIGSTOP: rank 0 must exit with status 4 after its
#                         --dist-timeout, naming rank 1
#   selfstop STATUS PATTERN -- CMD...  2 processes of a CMD whose rank 1 stops itself (dist_probe wedge): rank 0
#                         must exit with STATUS within 30 s, with a message matching PATTERN
#   bad STATUS PATTERN -- CMD...  2 processes: each must exit with STATUS and print one line matching PATTERN
#   resize -- CMD...      CMD --iters 10 as 2 processes, then --resume --iters 20 as 1 process: it continues
#                         from iteration 10 and says that the world size changed
# CMD must write checkpoints often (--checkpoint-every 1) and, for killed / hung, run long enough.
set -u
case_=$1 work=$2
shift 2
tol="" want="" pattern=""
[ "$case_" = equal ] && { tol=$1; shift; }
case $case_ in bad | selfstop) want=$1 pattern=$2; shift 2 ;; esac
[ "$1" = "--" ] && shift
here=$(cd "$(dirname "$0")" && pwd)
launch=$here/../../scripts/launch
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work"
mkdir -p "$work"
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
params_sha() { grep -o '"params_sha256": *"[0-9a-f]*"' "$1/metrics.json"; }

# start_ranks OUT EXTRA...: starts rank 0 and rank 1 of CMD in the background (pids in $p0 $p1).
start_ranks() {
  local out=$1
  shift
  local port
  port=$(free_port)
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "${cmd[@]}" --out "$out" "$@" >"$work/rank$r.out" 2>"$work/rank$r.err" &
    eval "p$r=\$!"
  done
}

# wait_checkpoint: until rank 0 has written a checkpoint (at most 20 s).
wait_checkpoint() {
  local t0=$SECONDS
  until find "$work/run" -name '*.ckpt' 2>/dev/null | grep -q .; do
    [ $((SECONDS - t0)) -ge 20 ] && fail "no checkpoint appeared within 20 s: $(cat "$work/rank0.err")"
    sleep 0.05
  done
}

# end_rank1: kills rank 1 (stopped or not) and reaps it.
end_rank1() {
  kill -9 "$p1" 2>/dev/null
  kill -CONT "$p1" 2>/dev/null
  wait "$p1" 2>/dev/null
}

# wait_rank0 LIMIT WHAT: waits at most LIMIT s for rank 0 to exit (status in $s0, seconds in $secs). A rank 0
# still running then is a failure of its own, reported with its threads' stacks (gdb, when installed), not a
# ctest timeout without a word.
wait_rank0() {
  local limit=$1 what=$2 t0=$SECONDS
  while kill -0 "$p0" 2>/dev/null && [ $((SECONDS - t0)) -lt "$limit" ]; do sleep 0.1; done
  if kill -0 "$p0" 2>/dev/null; then
    local stacks=""
    command -v gdb >/dev/null && stacks=$(timeout 20 gdb -p "$p0" -batch -ex "thread apply all bt 12" 2>/dev/null |
                                          grep -E '^#[0-9]+ +0x[0-9a-f]+ in [A-Za-z_]' | cut -c1-150 | head -30)
    kill -9 "$p0" 2>/dev/null
    end_rank1
    fail "rank 0 was still running ${limit} s after $what; its message: $(cat "$work/rank0.err"); stacks: ${stacks:-(no gdb)}"
  fi
  wait "$p0"
  s0=$?
  secs=$((SECONDS - t0))
}

cmd=("$@")
case $case_ in
  equal)
    "${cmd[@]}" --out "$work/one" >/dev/null 2>"$work/one.err" || fail "1 process: $(cat "$work/one.err")"
    "$launch" --direct --nproc 2 --port "$(free_port)" "${cmd[@]}" --out "$work/two" >/dev/null 2>"$work/two.err" ||
      fail "2 processes: $(tail -5 "$work/two.err")"
    /usr/bin/python3 - "$work/one/model.pt" "$work/two/model.pt" "$tol" <<'EOF' || exit 1
import sys, torch
a, b, tol = torch.load(sys.argv[1]), torch.load(sys.argv[2]), float(sys.argv[3])
assert a.keys() == b.keys(), "different tensors"
worst, same = 0.0, True
for k in a:
    x, y = a[k].double(), b[k].double()
    same = same and torch.equal(a[k], b[k])
    worst = max(worst, ((x - y).abs().max() / x.abs().max().clamp_min(0.01)).item())
state = "bit-identical" if same else "not bit-identical"
print(f"{len(a)} tensors, max relative difference {worst:.3g} (tolerance {tol:g}), {state}")
if worst > tol:
    print("FAIL: 1 and 2 processes disagree beyond the tolerance"); sys.exit(1)
EOF
    ;;
  killed)
    "$launch" --direct --nproc 2 --port "$(free_port)" "${cmd[@]}" --out "$work/ref" >/dev/null 2>"$work/ref.err" ||
      fail "uninterrupted 2-process run: $(tail -5 "$work/ref.err")"
    start_ranks "$work/run"
    wait_checkpoint
    kill -9 "$p1"
    wait_rank0 60 "rank 1 was killed"
    wait "$p1" 2>/dev/null
    [ "$s0" = 4 ] || fail "rank 0 exited with $s0 after rank 1 was killed, expected 4: $(cat "$work/rank0.err")"
    grep -q "rank 1" "$work/rank0.err" || fail "rank 0's message does not name rank 1: $(cat "$work/rank0.err")"
    echo "rank 0 stopped ${secs} s after rank 1 was killed: $(tail -1 "$work/rank0.err")"
    ls "$work/run" | grep -q '\.tmp\.' && fail "temporary files left in $work/run"
    "$launch" --direct --nproc 2 --port "$(free_port)" "${cmd[@]}" --out "$work/run" --resume >/dev/null 2>"$work/resume.err" ||
      fail "resumed run: $(tail -5 "$work/resume.err")"
    a=$(params_sha "$work/ref") b=$(params_sha "$work/run")
    [ -n "$a" ] && [ "$a" = "$b" ] || fail "resumed weights differ from the uninterrupted 2-process run: $a vs $b"
    grep -v '"resumed"' "$work/ref/metrics.json" >"$work/ref.m"
    grep -v '"resumed"' "$work/run/metrics.json" >"$work/run.m"
    cmp -s "$work/ref.m" "$work/run.m" || fail "metrics.json differs after the resume: $(diff "$work/ref.m" "$work/run.m" | head -5)"
    echo "ok: resumed with 2 processes, bit-identical to the uninterrupted run ($b), metrics.json identical but for 'resumed'"
    ;;
  hung)
    start_ranks "$work/run"
    wait_checkpoint
    kill -STOP "$p1"
    wait_rank0 30 "rank 1 was stopped"
    end_rank1
    [ "$s0" = 4 ] || fail "rank 0 exited with $s0 while rank 1 hung, expected 4: $(cat "$work/rank0.err")"
    grep -q "rank 1" "$work/rank0.err" || fail "rank 0's message does not name rank 1: $(cat "$work/rank0.err")"
    echo "rank 0 stopped ${secs} s after rank 1 hung: $(tail -1 "$work/rank0.err")"
    ;;
  selfstop)
    start_ranks "$work/run"
    wait_rank0 30 "the start"
    end_rank1
    [ "$s0" = "$want" ] || fail "rank 0 exited with $s0, expected $want: $(cat "$work/rank0.err")"
    grep -Eq -- "$pattern" "$work/rank0.err" || fail "rank 0: '$(cat "$work/rank0.err")' does not match '$pattern'"
    echo "rank 0 exited ${secs} s after the start: $(tail -1 "$work/rank0.err")"
    ;;
  bad)
    start_ranks "$work/run"
    wait "$p0"
    s0=$?
    wait "$p1"
    s1=$?
    for r in 0 1; do
      eval "s=\$s$r"
      [ "$s" = "$want" ] || fail "rank $r exited with $s, expected $want: $(cat "$work/rank$r.err")"
      [ "$(wc -l <"$work/rank$r.err")" = 1 ] || fail "rank $r printed more than one line: $(cat "$work/rank$r.err")"
      grep -Eq -- "$pattern" "$work/rank$r.err" || fail "rank $r: '$(cat "$work/rank$r.err")' does not match '$pattern'"
    done
    echo "rank 0: $(cat "$work/rank0.err")"
    ;;
  resize)
    "$launch" --direct --nproc 2 --port "$(free_port)" "${cmd[@]}" --iters 10 --out "$work/run" >/dev/null 2>"$work/two.err" ||
      fail "2 processes: $(tail -5 "$work/two.err")"
    "${cmd[@]}" --iters 20 --resume --out "$work/run" >/dev/null 2>"$work/one.err" || fail "1 process resuming: $(cat "$work/one.err")"
    grep -q "resuming a checkpoint written by 2 data-parallel process(es) with 1" "$work/one.err" ||
      fail "no note about the changed world size: $(cat "$work/one.err")"
    grep -q '"iters": 20' "$work/run/metrics.json" || fail "the resumed run did not reach 20 iterations"
    echo "$(cat "$work/one.err")"
    ;;
  *) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
