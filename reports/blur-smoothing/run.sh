#!/usr/bin/env bash
# reports/blur-smoothing (issue 15): smoothed-ar with a Gaussian blur instead of noise (smoothed-ar-blur, x~ = B x),
# with blur and noise (smoothed-ar-blur-noise, x~ = B x + sigma z) and with noise (smoothed-ar, the paper's), all at
# an equal budget: the same networks and iterations for each stage, each reversed by its stage-2 AR model
# (smoothed-ar also by single-step denoising). B is scipy.ndimage.gaussian_filter (reflect boundary) with std 1 pixel
# (on the toy: the two coordinates seen as a 1-D signal). Parts:
#   toy    the 25-component 2-D mixture, SEEDS_TOY (default 0 1 2 3 4), the toy defaults (5000 iterations): ~20 min;
#   mnist  the small preset, ITERS (default 400) iterations per stage at batch 16, SAMPLES (300) per row,
#          SEEDS_MNIST (default 0 1) in parallel, one thread each: ~1.5 hours on 2 cores.
# Resumable: finished runs (metrics.json) are reused, and compare resumes training from its checkpoints.
# From the repository root: reports/blur-smoothing/run.sh [toy] [mnist]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/blur-smoothing
parts=${*:-toy mnist}
methods=smoothed-ar,smoothed-ar-blur,smoothed-ar-blur-noise
for part in $parts; do
  case $part in
    toy)
      for s in ${SEEDS_TOY:-0 1 2 3 4}; do
        d=$out/toy/seed-$s
        mkdir -p "$out/toy"
        [ -f "$d/metrics.json" ] ||
          "$apps/compare" --dataset mog --method "$methods" --seed "$s" --threads 1 --quiet --out "$d" > "$d.log" 2>&1 ||
          { echo "$out: toy seed $s failed; see $d.log" >&2; exit 1; }
      done ;;
    mnist)
      ./scripts/get-data mnist
      [ -f data/classifiers/mnist/classifier.pt ] ||
        "$apps/classifier" --dataset mnist --epochs 3 --seed 0 --threads 2 --out data/classifiers/mnist
      pids=()
      for s in ${SEEDS_MNIST:-0 1}; do
        d=$out/mnist/seed-$s
        mkdir -p "$out/mnist"
        [ -f "$d/metrics.json" ] || {
          "$apps/compare" --dataset mnist --preset small --method "$methods" --iters "${ITERS:-400}" \
            --samples "${SAMPLES:-300}" --seed "$s" --threads 1 --quiet --out "$d" > "$d.log" 2>&1 &
          pids+=($!)
        }
      done
      status=0
      for p in "${pids[@]}"; do wait "$p" || status=1; done
      [ "$status" = 0 ] || { echo "$out: an MNIST seed failed; see $out/mnist/seed-*.log" >&2; exit 1; } ;;
    *) echo "run.sh: unknown part '$part'; expected toy or mnist" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 "$out/summarize.py"
