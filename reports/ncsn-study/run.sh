#!/usr/bin/env bash
# reports/ncsn-study (issue 14): the experiments of the score-matching study plan (../shared/seeds/004_*) as `study`
# sweeps on the 2-D toy `mog` (25 Gaussians on a 5x5 grid; exact density and score), 3 seeds each.
# Every run is `compare --method ncsn` with the toy defaults (MLP 128 x 3, 5,000 Adam steps, 10 geometric levels
# from the max-pairwise-distance rule to 0.01, annealed Langevin eps 2e-5, T 100, the NCSN paper's rule) unless
# the experiment changes a flag. Per experiment: EXPERIMENT/sweep*/report.md (means, std, 95% t-intervals),
# metrics.json and figures from `study`; EXPERIMENT/summary.md and extra figures from summarize.py.
# The per-run folders (EXPERIMENT/sweep*/cells/) are not kept; rerunning rebuilds them and resumes where stopped.
#
# From the repository root: reports/ncsn-study/run.sh [EXPERIMENT ...]   (default: all; about 2 hours on 2 cores, as measured here with other work beside it)
# Experiments: dsm-vs-ssm weighting step-rule step-size steps-per-level noise-sets mala noise-families estimators
#              class-conditional architecture. SEEDS (default 0-2) and JOBS (default 2 runs at once, one thread each) override.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${SCORELAB_APPS:-}" ] || ./scripts/setup
apps=${SCORELAB_APPS:-build/apps}
R=reports/ncsn-study
seeds=${SEEDS:-0-2}
jobs=${JOBS:-2}
base=(--method ncsn --dataset mog --no-plots --quiet --threads 1)
metrics=(--metric mmd2 --metric mode_tv --metric off_mode --metric test_nll --metric score_rel_error --metric score_esm)
exact_metrics=(--metric mmd2 --metric mode_tv --metric off_mode)

# sweep DIR [study flags ...] -- [compare flags ...]
sweep() {
  local dir=$1
  shift
  echo "== $dir"
  "$apps/study" --seeds "$seeds" --jobs "$jobs" --out "$R/$dir" "$@"
}

experiment() {
  case "$1" in
    dsm-vs-ssm)
      # Quality and cost at equal iterations; SSM's projections (number, Gaussian / Rademacher) and its form.
      sweep dsm-vs-ssm/objective --axis objective=dsm,ssm "${metrics[@]}" -- "${base[@]}"
      sweep dsm-vs-ssm/projections --axis projection=gaussian,rademacher --axis projections=1,2,4 "${metrics[@]}" \
        -- "${base[@]}" --objective ssm
      sweep dsm-vs-ssm/form --axis ssm-form=vr,full "${metrics[@]}" -- "${base[@]}" --objective ssm
      # Equal time: SSM given the iterations that fit in DSM's training time (measured by the objective sweep).
      iters=$(/usr/bin/python3 "$R/summarize.py" --equal-time-iters)
      sweep dsm-vs-ssm/equal-time --axis objective=ssm "${metrics[@]}" -- "${base[@]}" --iters "$iters"
      ;;
    weighting)
      sweep weighting --axis score-weight=sigma2,one,sigma "${metrics[@]}" -- "${base[@]}"
      ;;
    step-rule)
      # alpha(sigma_i) with the exact score (sampler error only), each rule over two decades of eps.
      sweep step-rule/exact --axis alpha-rule=sigma2,sigma,constant --axis step-size=2e-6,2e-5,2e-4,2e-3,2e-2 \
        "${exact_metrics[@]}" -- "${base[@]}" --score exact --ode-examples 100
      sweep step-rule/learned --axis alpha-rule=sigma2,sigma,constant "${metrics[@]}" -- "${base[@]}"
      ;;
    step-size)
      sweep step-size --axis score=exact,learned --axis step-size=2e-6,6.3e-6,2e-5,6.3e-5,2e-4 "${metrics[@]}" \
        -- "${base[@]}"
      ;;
    steps-per-level)
      sweep steps-per-level --axis score=exact,learned --axis steps-per-level=1,3,10,30,100,300,1000 "${metrics[@]}" \
        -- "${base[@]}" --samples 4000
      sweep steps-per-level/schedule --axis score=exact,learned --axis level-steps=uniform,more-small,more-large \
        "${metrics[@]}" -- "${base[@]}"
      ;;
    noise-sets)
      sweep noise-sets/levels --axis levels=2,5,10,20,50 "${metrics[@]}" -- "${base[@]}"
      # 0: the max-pairwise-distance rule (NCSNv2 technique 1): 11.6 on mog.
      sweep noise-sets/sigma-max --axis sigma-max=0,4,1,0.3 "${metrics[@]}" -- "${base[@]}"
      sweep noise-sets/sigma-min --axis sigma-min=0.001,0.01,0.05,0.2 "${metrics[@]}" -- "${base[@]}"
      sweep noise-sets/spacing --axis sigma-spacing=geometric,linear "${metrics[@]}" -- "${base[@]}"
      ;;
    mala)
      # Unadjusted vs Metropolis-adjusted Langevin with the exact density and score. mog-weights (0.2 / 0.8, modes
      # 14 apart) with NCSN's toy noise set, sigma 20 -> 1: plain chains (one level, the data itself, 1,000 steps)
      # and annealed ones (10 levels x 100 steps); mog with the default noise set, annealed.
      local w=(--method ncsn --dataset mog-weights --no-plots --quiet --threads 1 --score exact --sigma-max 20 --sigma-min 1 --ode-examples 100)
      sweep mala/mog-weights-plain --axis sampler=langevin,mala-plain --axis step-size=0.01,0.1,0.5 \
        "${exact_metrics[@]}" --metric acceptance_rate -- "${w[@]}" --steps-per-level 1000
      sweep mala/mog-weights-annealed --axis sampler=annealed-langevin,mala --axis step-size=0.01,0.1,0.5 \
        "${exact_metrics[@]}" --metric acceptance_rate -- "${w[@]}"
      sweep mala/mog --axis sampler=annealed-langevin,mala --axis step-size=2e-5,2e-4,2e-3 \
        "${exact_metrics[@]}" --metric acceptance_rate -- "${base[@]}" --score exact --ode-examples 100
      ;;
    noise-families)
      sweep noise-families --axis dsm-noise=gaussian,laplace,student-t \
        --metric mmd2 --metric mode_tv --metric off_mode -- "${base[@]}"
      ;;
    estimators)
      echo "== estimators/bias-variance"
      "$apps/dsm_estimators" --dataset mog --at-iters 1,500,5000 --repeats 1000 --quadrature 129 --threads 1 --quiet \
        --out "$R/estimators/bias-variance"
      sweep estimators/training --axis level-sampling=random,stratified,all,log-uniform "${metrics[@]}" -- "${base[@]}"
      # all levels per example evaluates the network 10x per step: random levels with a 10x batch costs the same.
      sweep estimators/equal-compute --axis batch-size=5120 "${metrics[@]}" -- "${base[@]}"
      ;;
    class-conditional)
      # s(x, sigma, k) on the mixture component k, k drawn from the mixture weights when sampling. mog-weights with
      # NCSN's toy noise set: plain Langevin (one level, 1,000 steps) and annealed (10 x 100), eps 0.1 as in NCSN's
      # toy experiment; mog with the defaults.
      local w=(--method ncsn --dataset mog-weights --no-plots --quiet --threads 1 --sigma-max 20 --sigma-min 1 --step-size 0.1)
      sweep class-conditional/mog-weights-plain --axis score=exact,learned --axis condition=none,component \
        "${exact_metrics[@]}" -- "${w[@]}" --sampler langevin --steps-per-level 1000 --ode-examples 100
      sweep class-conditional/mog-weights-annealed --axis score=exact,learned --axis condition=none,component \
        "${exact_metrics[@]}" -- "${w[@]}" --ode-examples 100
      sweep class-conditional/mog --axis condition=none,component "${exact_metrics[@]}" -- "${base[@]}"
      ;;
    architecture)
      sweep architecture --axis hidden=32,64,128,256 --axis depth=1,2,3,4 "${metrics[@]}" -- "${base[@]}"
      ;;
    *)
      echo "reports/ncsn-study/run.sh: unknown experiment '$1'" >&2
      exit 2
      ;;
  esac
}

all=(dsm-vs-ssm weighting step-rule step-size steps-per-level noise-sets mala noise-families estimators class-conditional
     architecture)
[ $# -gt 0 ] || set -- "${all[@]}"
for e in "$@"; do experiment "$e"; done
/usr/bin/python3 "$R/summarize.py"
