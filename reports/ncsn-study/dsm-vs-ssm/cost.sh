#!/usr/bin/env bash
# Cost per training iteration of DSM and the SSM variants (issue 14, experiment 1), each alone on one thread so
# that nothing else shares the core: `compare --method ncsn` with 2,000 iterations and a token sampling run,
# timed by its timings.json (train_s), and its peak resident memory from /usr/bin/time. Writes cost.md here.
# From the repository root, on an otherwise idle machine: reports/ncsn-study/dsm-vs-ssm/cost.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
here=reports/ncsn-study/dsm-vs-ssm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
configs=("dsm|--objective dsm" "ssm gaussian vr 1|--objective ssm" "ssm gaussian vr 4|--objective ssm --projections 4"
         "ssm rademacher vr 1|--objective ssm --projection rademacher" "ssm gaussian full 1|--objective ssm --ssm-form full")
{
  echo "# Cost per training iteration: DSM vs SSM"
  echo
  echo "Command: \`reports/ncsn-study/dsm-vs-ssm/cost.sh\` (each configuration alone, one thread, 2,000 iterations of"
  echo "batch 512 on \`mog\`; peak RSS of the whole \`compare\` process, which includes LibTorch and the evaluation)."
  echo
  echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores."
  echo
  echo "| objective | ms / iteration | relative to DSM | peak RSS MB |"
  echo "|---|---:|---:|---:|"
} > "$tmp/cost.md"
base_ms=""
for c in "${configs[@]}"; do
  name=${c%%|*}
  flags=${c#*|}
  # shellcheck disable=SC2086
  /usr/bin/time -f "%M" -o "$tmp/rss" "$apps/compare" --method ncsn --dataset mog --no-plots --quiet --threads 1 \
    --iters 2000 --samples 200 --steps-per-level 1 --ode-examples 10 $flags --out "$tmp/run" > /dev/null
  ms=$(/usr/bin/python3 -c "import json; print(1e3 * json.load(open('$tmp/run/timings.json'))['methods']['ncsn']['train_s'] / 2000)")
  rss=$(( $(cat "$tmp/rss") / 1024 ))
  [ -n "$base_ms" ] || base_ms=$ms
  rel=$(/usr/bin/python3 -c "print(f'{$ms / $base_ms:.2f}')")
  printf '| %s | %.2f | %s | %s |\n' "$name" "$ms" "$rel" "$rss" >> "$tmp/cost.md"
  rm -rf "$tmp/run"
done
cp "$tmp/cost.md" "$here/cost.md"
cat "$here/cost.md"
