#!/usr/bin/env bash
# reports/guidance/toy (issue 15): the guidance-scale sweep on the toy, 25 equal modes on a 5x5 grid (mog), where the
# "class" is the mixture component. Three guided samplers, each trained once per seed, then sampled at every scale
# from the same checkpoints:
#   ncsn-classifier   classifier guidance on the unconditional NCSN (annealed Langevin): s(x, sigma) + s grad log
#                     p(k | x, sigma), with a noise-aware classifier MLP trained beside it (--classifier-scale);
#   ddpm-classifier   the same on DDPM (ancestral sampling; the guided eps in its VE coordinates);
#   ncsn-free         classifier-free guidance: ncsn --condition component --label-dropout 0.1 --guidance-scale w.
# k is drawn from the mixture weights; each row reports label_agreement (samples whose nearest component is their k),
# MMD^2, mode TV and off-mode fraction. SEEDS (default 0 1 2), SCALES (default 0 1 2 4). About 30 minutes on one core.
# Resumable: finished cells (metrics.json) are reused.
# From the repository root: reports/guidance/toy.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/guidance/toy
mkdir -p "$out"
cell() {  # NAME SEED SCALE TRAIN_SCALE FLAGS...: train once at TRAIN_SCALE, then sample the others from its checkpoints
  local name=$1 s=$2 w=$3 tw=$4; shift 4
  local base=$out/cells/$name/seed-$s d=$out/cells/$name/seed-$s/w-$w
  local scale_flag=--classifier-scale; [ "$name" = ncsn-free ] && scale_flag=--guidance-scale
  [ -f "$d/metrics.json" ] && return 0
  mkdir -p "$base"
  if [ "$w" != "$tw" ]; then
    cell "$name" "$s" "$tw" "$tw" "$@"
    mkdir -p "$d" && cp -r "$base/w-$tw/checkpoints" "$d/"
    "$apps/compare" --dataset mog "$@" "$scale_flag" "$w" --resume --seed "$s" --threads 1 --quiet --no-plots --out "$d" \
      > "$d.log" 2>&1
  else
    "$apps/compare" --dataset mog "$@" "$scale_flag" "$w" --seed "$s" --threads 1 --quiet --no-plots --out "$d" > "$d.log" 2>&1
  fi
}
for s in ${SEEDS:-0 1 2}; do
  for w in ${SCALES:-0 1 2 4}; do
    cell ncsn-classifier "$s" "$w" 1 --method ncsn
    cell ddpm-classifier "$s" "$w" 1 --method ddpm
    cell ncsn-free "$s" "$w" 0 --method ncsn --condition component --label-dropout 0.1
  done
done
/usr/bin/python3 reports/guidance/toy_summarize.py
