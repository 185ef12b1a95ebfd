#!/usr/bin/env bash
# bench/threads_under_load.sh [--toy] : how the thread count and libgomp's wait policy behave on an idle machine and
# with one competing CPU-bound process (a busy loop) on this machine's cores (issue 17). Prints one line per case:
#   case=NAME load=idle|busy value=... [unit]
# PixelCNN++ training step (scripts/bench's pixelcnnpp-train, MNIST preset, batch 80, median of 3 after 1 warm-up)
# with 2 threads under libgomp's default wait policy, GOMP_SPINCOUNT=10000, OMP_WAIT_POLICY=passive, and 1 thread.
# With --toy also the toy comparison (`compare --method all --dataset mog`, wall seconds) with --jobs 2 (the
# default), --jobs 1 (2 threads) and --jobs 1 --threads 1 (TOY_LOADS="busy" runs those only under load).
# From the repository root, on an otherwise idle machine (anything else running shifts every number).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SCORELAB_BUILD_DIR:-build}
cmake --build "$build" --target scorelab_bench compare >/dev/null
cpu="cpu=\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\" cores=$(nproc)"
busy_pid=""
start_load() { /usr/bin/python3 -c 'while True: pass' & busy_pid=$!; sleep 1; }
stop_load() { [ -z "$busy_pid" ] || kill "$busy_pid"; wait "$busy_pid" 2>/dev/null || true; busy_pid=""; }
trap stop_load EXIT
step() {  # NAME THREADS ENV...
  local name=$1 threads=$2
  shift 2
  local ms
  ms=$(env "$@" "$build/bench/scorelab_bench" pixelcnnpp-train --threads "$threads" --iters 3 --warmup 1 |
       sed -n 's/.*scorelab_ms=\([^ ]*\).*/\1/p')
  echo "case=$name load=$load pixelcnnpp_step_ms=$ms $cpu"
}
toy() {  # NAME FLAGS...
  local name=$1 t0 t1
  shift
  local out
  out=$(mktemp -d)
  t0=$(date +%s.%N)
  "$build/apps/compare" --method all --dataset mog --quiet --no-plots --out "$out" "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  rm -rf "$out"
  echo "case=$name load=$load toy_compare_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') $cpu"
}
for load in idle busy; do
  [ "$load" = busy ] && start_load
  step threads2-default 2
  step threads2-spin10k 2 GOMP_SPINCOUNT=10000
  step threads2-passive 2 OMP_WAIT_POLICY=passive
  step threads1 1
  if [ "${1:-}" = --toy ] && [[ " ${TOY_LOADS:-idle busy} " == *" $load "* ]]; then
    toy jobs2 --jobs 2
    toy jobs1-threads2 --jobs 1 --threads 2
    toy jobs1-threads1 --jobs 1 --threads 1
  fi
  stop_load
done
