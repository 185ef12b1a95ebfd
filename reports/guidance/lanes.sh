# Sourced by run.sh and classifier.sh. run_lanes LOGS SEED...: the caller's seed_run for each seed, in two lanes of
# one thread each (the first seed and the third onwards in one, the second seed in the other); when a run failed it
# names LOGS (and $out) on stderr and exits 1.
run_lanes() {
  local logs=$1
  shift
  local all=("$@") pids=() status=0 p
  lane() { for s in "$@"; do seed_run "$s"; done; }
  lane "${all[@]:0:1}" "${all[@]:2}" &
  pids+=($!)
  if [ "${#all[@]}" -gt 1 ]; then
    lane "${all[1]}" &
    pids+=($!)
  fi
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  [ "$status" = 0 ] || { echo "$out: a run failed; see $logs" >&2; exit 1; }
}
