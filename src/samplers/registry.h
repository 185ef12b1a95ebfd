// Sampler configuration and the sampler registry. Every registered sampler honours the contract in
// sampler.h; tests/samplers run one contract suite over all names.
#pragma once
#include <boost/program_options/options_description.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/registry.h"
#include "core/schedule.h"
#include "samplers/sampler.h"

namespace scorelab {

struct SamplerConfig {
  // Langevin family (Song & Ermon 2019, REFERENCE 3).
  double step_size = 2e-5;           // --step-size: eps; alpha_i = eps * sigma_i^2 / sigma_L^2
  int64_t steps_per_level = 100;     // --steps-per-level: T
  std::string step_rule = "ncsn";    // --step-rule ncsn | ncsnv2
  bool final_denoise = false;        // --final-denoise: x + sigma_L^2 s(x, sigma_L)
  double langevin_sigma = 0.0;       // sigma used by plain `langevin` (0: the data score itself)
  // Initial box for Langevin samplers: uniform on [lo, hi]^D.
  double init_low = -1.0, init_high = 1.0;
  // DDPM / DDIM (Ho et al. 2020; Song et al. 2021).
  std::string variance = "small";    // --ddpm-variance small (beta~_t) | large (beta_t)
  std::optional<double> clip_x0;     // --clip-x0 C: clip predicted x0 to [-C, C]
  int64_t ddim_steps = 50;           // --steps
  double eta = 0.0;                  // --eta
  std::string spacing = "uniform";   // --spacing uniform | quad

  void add_options(boost::program_options::options_description& desc);
  void validate() const;
};

// What a sampler may need; a factory checks that its inputs are set and says which one is missing.
struct SamplerArgs {
  SamplerConfig config;
  ScoreFn score;
  EpsFn eps;
  ARDrawFn ar_draw;
  int64_t ar_positions = 0;                 // D for the toy AR model
  std::shared_ptr<const SigmaSchedule> sigmas;
  std::shared_ptr<const BetaSchedule> betas;
};

using SamplerFactory = std::function<std::unique_ptr<Sampler>(const SamplerArgs&)>;
using SamplerRegistry = Registry<SamplerFactory>;

// The registry of all samplers: langevin, annealed-langevin, ddpm, ddim, autoregressive, single-step.
const SamplerRegistry& sampler_registry();

// DDIM timestep subsequence (descending) for `steps` out of T with the given spacing.
std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps, const std::string& spacing);

}  // namespace scorelab
