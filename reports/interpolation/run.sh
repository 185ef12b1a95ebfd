#!/usr/bin/env bash
# reports/interpolation (issue 15, seed 003): latent interpolation on MNIST. An unconditional DDPM U-Net and an NCSN
# score network (the U-Net with an NCSN head) are trained (small preset, 1000 iterations at batch 16); then 4 pairs of
# noises are joined by a spherical and by a linear path, 9 frames each, decoded by deterministic DDIM (50 steps,
# eta 0) and by the probability-flow ODE (Heun, 50 steps). Writes cells/<model>-<sampler>-<path>/ (interpolation.png,
# metrics.json) and, through summarize.py, summary.md with the grids. About 10 minutes on 2 cores.
# From the repository root: reports/interpolation/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/get-data mnist
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
out=reports/interpolation
mkdir -p "$out/cells"
train() {  # KEY FLAGS...
  local key=$1
  shift
  [ -f "$out/cells/$key/model.pt" ] ||
    "$apps/train" --dataset mnist --preset small --iters 1000 --threads 1 --quiet --seed 0 "$@" --out "$out/cells/$key" \
      > "$out/cells/$key.log" 2>&1
}
train ddpm --method ddpm &
p1=$!
train ncsn-unet --method ncsn --score-net unet &
p2=$!
wait $p1
wait $p2
for path in slerp linear; do
  "$apps/interpolate" --model-dir "$out/cells/ddpm" --sampler ddim --steps 50 --eta 0 --path $path --threads 1 \
    --out "$out/cells/ddpm-ddim-$path" &
  "$apps/interpolate" --model-dir "$out/cells/ddpm" --sampler ode --ode-solver heun --steps 50 --path $path --threads 1 \
    --out "$out/cells/ddpm-ode-$path"
  wait
  "$apps/interpolate" --model-dir "$out/cells/ncsn-unet" --sampler ode --ode-solver heun --steps 50 --path $path \
    --threads 2 --out "$out/cells/ncsn-unet-ode-$path"
done
/usr/bin/python3 "$out/summarize.py"
