#!/usr/bin/env bash
# reports/ardm (issue 15): order-agnostic autoregressive diffusion (ARDM, Hoogeboom et al. 2022) beside plain AR.
# Parts:
#   toy    the 25-component 2-D mixture (mog), SEEDS_TOY (default 0 1 2 3 4): `compare --method ar,ardm` at the toy
#          defaults (ARDM on 256 bins per coordinate, one coordinate per step), and ARDM again from its checkpoints
#          with --ardm-steps 1 (both coordinates drawn at once from their conditionals given nothing: parallel
#          decoding's limit). About 10 minutes.
#   toy-ring  the same on mog-ring (8 modes on a circle: x1 and x2 dependent, unlike the grid).
#   mnist  the small preset, one seed (SEED, default 0), ITERS (default 800) iterations at batch 16 for each model:
#          PixelCNN++ (ar) and the ARDM U-Net; SAMPLES (200) samples per row with ARDM at --ardm-steps 196 (4 pixels
#          per step); inpainting of INPAINT (50) test images on the left-half mask, where raster-order PixelCNN++
#          cannot see the known pixels below the one it draws and ARDM sees them all; then ARDM's samples at 784, 49
#          and 8 steps from the same checkpoints (100 samples each). About 45 minutes on one core.
# Resumable: finished runs (metrics.json) are reused; compare resumes training from its checkpoints.
# From the repository root: reports/ardm/run.sh [toy] [toy-ring] [mnist]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/ardm
parts=${*:-toy toy-ring mnist}
for part in $parts; do
  case $part in
    toy|toy-ring)
      # mog: the 5x5 grid of equal modes is a product distribution (x1 and x2 independent), so parallel decoding
      # loses nothing there; mog-ring (modes on a circle) is not, and shows what one step costs.
      data=mog; [ "$part" = toy-ring ] && data=mog-ring
      mkdir -p "$out/$part"
      for s in ${SEEDS_TOY:-0 1 2 3 4}; do
        d=$out/$part/seed-$s
        [ -f "$d/metrics.json" ] ||
          "$apps/compare" --dataset "$data" --method ar,ardm --seed "$s" --threads 1 --quiet --out "$d" > "$d.log" 2>&1 ||
          { echo "$out: $part seed $s failed; see $d.log" >&2; exit 1; }
        [ -f "$d-steps1/metrics.json" ] || { mkdir -p "$d-steps1" && cp -r "$d/checkpoints" "$d-steps1/" &&
          "$apps/compare" --dataset "$data" --method ardm --ardm-steps 1 --resume --seed "$s" --threads 1 --quiet \
            --out "$d-steps1" > "$d-steps1.log" 2>&1; } ||
          { echo "$out: $part seed $s (1 step) failed; see $d-steps1.log" >&2; exit 1; }
      done ;;
    mnist)
      ./scripts/get-data mnist
      [ -f data/classifiers/mnist/classifier.pt ] ||
        "$apps/classifier" --dataset mnist --epochs 3 --seed 0 --threads 2 --out data/classifiers/mnist
      mkdir -p "$out/mnist"
      s=${SEED:-0}
      d=$out/mnist/seed-$s
      common=(--dataset mnist --preset small --seed "$s" --threads 1 --quiet --mask left-half)
      [ -f "$d/metrics.json" ] ||
        "$apps/compare" "${common[@]}" --method ar,ardm --iters "${ITERS:-800}" --samples "${SAMPLES:-200}" \
          --ardm-steps 196 --inpaint-images "${INPAINT:-50}" --likelihood-images 50 --vlb-strata 32 --out "$d" \
          > "$d.log" 2>&1 || { echo "$out: MNIST failed; see $d.log" >&2; exit 1; }
      for k in 784 49 8; do
        [ -f "$d-steps$k/metrics.json" ] ||
          "$apps/compare" "${common[@]}" --method ardm --from-checkpoints "$d/checkpoints" --samples 100 --ardm-steps "$k" \
            --inpaint-images 0 --likelihood-images 0 --out "$d-steps$k" >> "$d.log" 2>&1 ||
          { echo "$out: MNIST ardm-steps $k failed; see $d.log" >&2; exit 1; }
      done ;;
    *) echo "run.sh: unknown part '$part'; expected toy or mnist" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 "$out/summarize.py"
