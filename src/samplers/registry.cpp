#include "samplers/registry.h"

#include <boost/program_options.hpp>
#include <cmath>
#include <sstream>

#include "core/cli.h"
#include "samplers/autoregressive.h"
#include "samplers/ddpm.h"
#include "samplers/denoise.h"
#include "samplers/langevin.h"

namespace po = boost::program_options;

namespace scorelab {

void SamplerConfig::add_options(po::options_description& desc) {
  desc.add_options()
      ("step-size", po::value(&step_size)->default_value(step_size),
       "Langevin step size eps (annealed: alpha_i = eps sigma_i^2 / sigma_L^2)")
      ("steps-per-level", po::value(&steps_per_level)->default_value(steps_per_level),
       "Langevin steps T per noise level")
      ("step-rule", po::value(&step_rule)->default_value(step_rule),
       "ncsn (x += alpha/2 s + sqrt(alpha) z) | ncsnv2 (x += alpha s + sqrt(2 alpha) z)")
      ("final-denoise", po::bool_switch(&final_denoise),
       "annealed Langevin: finish with x + sigma_L^2 s(x, sigma_L)")
      ("ddpm-variance", po::value(&variance)->default_value(variance),
       "DDPM reverse variance: small (beta~_t) | large (beta_t)")
      ("clip-x0", po::value<double>()->notifier([this](double c) { clip_x0 = c; }),
       "DDPM/DDIM: clip the predicted x0 to [-C, C] (off unless given)")
      ("steps", po::value(&ddim_steps)->default_value(ddim_steps), "DDIM: number of timesteps")
      ("eta", po::value(&eta)->default_value(eta), "DDIM: eta in [0, 1] (0: deterministic)")
      ("spacing", po::value(&spacing)->default_value(spacing), "DDIM timestep spacing: uniform | quad");
}

void SamplerConfig::validate() const {
  require_positive("--step-size", step_size);
  if (steps_per_level < 1)
    throw ConfigError(flag_error("--steps-per-level", std::to_string(steps_per_level), "an integer >= 1"));
  require_one_of("--step-rule", step_rule, {"ncsn", "ncsnv2"});
  require_nonnegative("langevin_sigma", langevin_sigma);
  if (!(init_low < init_high) || !std::isfinite(init_low) || !std::isfinite(init_high)) {
    std::ostringstream os;
    os << "[" << init_low << ", " << init_high << "]";
    throw ConfigError(flag_error("init box", os.str(), "finite bounds with low < high"));
  }
  require_one_of("--ddpm-variance", variance, {"small", "large"});
  if (clip_x0) require_positive("--clip-x0", *clip_x0);
  if (ddim_steps < 1) throw ConfigError(flag_error("--steps", std::to_string(ddim_steps), "an integer >= 1"));
  require_range("--eta", eta, 0.0, 1.0);
  require_one_of("--spacing", spacing, {"uniform", "quad"});
}

namespace {

void require_input(bool present, const std::string& sampler, const std::string& what) {
  if (!present) throw ConfigError("sampler '" + sampler + "' needs SamplerArgs::" + what + ", which is not set");
}

void register_samplers(SamplerRegistry& reg) {
  reg.add(
      "langevin",
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "langevin", "score (a ScoreFn s(x, sigma))");
        return std::make_unique<LangevinSampler>(a.score, a.config);
      },
      "plain Langevin dynamics at one noise level (needs a score)");
  reg.add(
      "annealed-langevin",
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "annealed-langevin", "score (a ScoreFn s(x, sigma))");
        require_input(a.sigmas != nullptr, "annealed-langevin", "sigmas (a SigmaSchedule)");
        return std::make_unique<AnnealedLangevinSampler>(a.score, *a.sigmas, a.config);
      },
      "NCSN annealed Langevin over the sigma schedule (needs a score and sigmas)");
  reg.add(
      "ddpm",
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.eps), "ddpm", "eps (an EpsFn eps(x_t, t))");
        require_input(a.betas != nullptr, "ddpm", "betas (a BetaSchedule)");
        return std::make_unique<DdpmSampler>(a.eps, *a.betas, a.config);
      },
      "DDPM ancestral sampling (needs eps and betas)");
  reg.add(
      "ddim",
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.eps), "ddim", "eps (an EpsFn eps(x_t, t))");
        require_input(a.betas != nullptr, "ddim", "betas (a BetaSchedule)");
        return std::make_unique<DdimSampler>(a.eps, *a.betas, a.config);
      },
      "DDIM over a timestep subsequence (needs eps and betas)");
  reg.add(
      "autoregressive",
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.ar_draw), "autoregressive", "ar_draw (an ARDrawFn)");
        require_input(a.ar_positions > 0, "autoregressive", "ar_positions (> 0)");
        a.config.validate();
        return std::make_unique<AutoregressiveSampler>(a.ar_draw, a.ar_positions);
      },
      "ancestral autoregressive sampling, one position per step (needs ar_draw and ar_positions)");
  reg.add(
      "single-step",
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "single-step", "score (a ScoreFn s(x, sigma))");
        require_input(a.sigmas != nullptr, "single-step", "sigmas (its smallest level is the smoothing sigma)");
        a.config.validate();
        return std::make_unique<SingleStepDenoiser>(a.score, a.sigmas->sigmas().back());
      },
      "Tweedie denoising x + sigma^2 s(x, sigma) of given noisy samples, sigma = the smallest level");
}

}  // namespace

const SamplerRegistry& sampler_registry() {
  static const SamplerRegistry registry = [] {
    SamplerRegistry reg("sampler");
    register_samplers(reg);
    return reg;
  }();
  return registry;
}

}  // namespace scorelab
