#include "samplers/registry.h"

#include <boost/program_options.hpp>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/cli.h"
#include "samplers/autoregressive.h"
#include "samplers/ddpm.h"
#include "samplers/denoise.h"
#include "samplers/edm.h"
#include "samplers/langevin.h"
#include "samplers/mala.h"
#include "samplers/ode.h"
#include "samplers/pc.h"

namespace po = boost::program_options;

namespace scorelab {

LangevinSettings langevin_preset(const std::string& name) {
  if (name == "ncsn-paper") return {2e-5, 100, "ncsn", false};
  if (name == "ncsn-mnist") return {2e-5, 100, "ncsnv2", false};
  if (name == "ncsnv2-cifar10") return {6.2e-6, 5, "ncsnv2", true};
  throw ConfigError(flag_error("--langevin-preset", name, "none, ncsn-paper, ncsn-mnist or ncsnv2-cifar10"));
}

std::vector<std::string> langevin_preset_names() { return {"none", "ncsn-paper", "ncsn-mnist", "ncsnv2-cifar10"}; }

void SamplerConfig::resolve_langevin() {
  LangevinSettings s = langevin_base_;
  if (langevin_preset != "none") {
    const auto names = langevin_preset_names();
    if (std::find(names.begin(), names.end(), langevin_preset) == names.end()) return;  // validate() says so
    s = scorelab::langevin_preset(langevin_preset);
  }
  step_size = step_size_given_.value_or(s.step_size);
  steps_per_level = steps_given_.value_or(s.steps_per_level);
  step_rule = rule_given_.value_or(s.step_rule);
  final_denoise = final_denoise_given_ || s.final_denoise;
}

void SamplerConfig::add_options(po::options_description& desc) {
  // The values before parsing are the defaults (a toy config may have set its own).
  langevin_base_ = {step_size, steps_per_level, step_rule, final_denoise};
  std::ostringstream step_default, steps_default;
  step_default << step_size;
  steps_default << steps_per_level;
  desc.add_options()
      ("langevin-preset", po::value<std::string>()->notifier([this](const std::string& v) {
         langevin_preset = v;
         resolve_langevin();
       }),
       "the references' Langevin settings: ncsn-paper (Algorithm 1: eps 2e-5, T 100, ncsn rule) | ncsn-mnist "
       "(the released NCSN code: eps 2e-5, T 100, ncsnv2 rule) | ncsnv2-cifar10 (eps 6.2e-6, T 5, ncsnv2 rule, final "
       "denoise); explicit --step-size / --steps-per-level / --step-rule win")
      ("step-size", po::value<double>()->notifier([this](double v) {
         step_size_given_ = v;
         resolve_langevin();
       }),
       ("Langevin step size eps (annealed: alpha_i = eps sigma_i^2 / sigma_L^2; default " + step_default.str() + ")").c_str())
      ("steps-per-level", po::value<int64_t>()->notifier([this](int64_t v) {
         steps_given_ = v;
         resolve_langevin();
       }),
       ("Langevin steps T per noise level (default " + steps_default.str() + ")").c_str())
      ("step-rule", po::value<std::string>()->notifier([this](const std::string& v) {
         rule_given_ = v;
         resolve_langevin();
       }),
       ("ncsn (x += alpha/2 s + sqrt(alpha) z, the NCSN paper) | ncsnv2 (x += alpha s + sqrt(2 alpha) z, the released "
        "NCSN and NCSNv2 code); default " + step_rule).c_str())
      ("final-denoise", po::bool_switch()->notifier([this](bool v) {
         final_denoise_given_ = v;
         resolve_langevin();
       }),
       "annealed Langevin: finish with x + sigma_L^2 s(x, sigma_L)")
      ("alpha-rule", po::value(&alpha_rule)->default_value(alpha_rule),
       "annealed Langevin / mala step size per level: sigma2 (alpha_i = eps sigma_i^2 / sigma_L^2, NCSN) | constant "
       "(alpha_i = eps) | sigma (alpha_i = eps sigma_i / sigma_L)")
      ("level-steps", po::value(&level_steps)->default_value(level_steps),
       "annealed Langevin / mala steps per level: uniform (T each) | more-small (T_i rising linearly towards the "
       "smallest sigma) | more-large (towards the largest); L T steps in all, at least 1 per level")
      ("ddpm-variance", po::value(&variance)->default_value(variance),
       "DDPM reverse variance: small (beta~_t) | large (beta_t)")
      ("clip-x0", po::value<double>()->notifier([this](double c) { clip_x0 = c; }),
       "DDPM/DDIM: clip the predicted x0 to [-C, C] (off unless given)")
      ("steps", po::value(&ddim_steps)->default_value(ddim_steps), "DDIM: number of timesteps")
      ("eta", po::value(&eta)->default_value(eta), "DDIM: eta in [0, 1] (0: deterministic)")
      ("spacing", po::value(&spacing)->default_value(spacing), "DDIM timestep spacing: uniform | quad")
      ("snr", po::value(&snr)->default_value(snr), "pc: corrector signal-to-noise ratio r, step 2 (r ||z|| / ||s||)^2")
      ("corrector-steps", po::value(&corrector_steps)->default_value(corrector_steps),
       "pc: Langevin corrector steps per level (0: predictor only)")
      ("ode-solver", po::value(&ode_solver)->default_value(ode_solver),
       "ode: euler | heun | rk4 | rk45 (Dormand-Prince, adaptive with --rtol/--atol) per --steps interval")
      ("rtol", po::value(&rtol)->default_value(rtol), "ode rk45: relative tolerance")
      ("atol", po::value(&atol)->default_value(atol), "ode rk45: absolute tolerance")
      ("rho", po::value(&rho)->default_value(rho), "edm: exponent of the Karras sigma schedule")
      ("churn", po::value(&churn)->default_value(churn), "edm: S_churn (0: deterministic Heun)")
      ("s-tmin", po::value(&s_tmin)->default_value(s_tmin), "edm: churn only for sigma >= S_tmin")
      ("s-tmax", po::value(&s_tmax)->default_value(s_tmax), "edm: churn only for sigma <= S_tmax")
      ("s-noise", po::value(&s_noise)->default_value(s_noise), "edm: S_noise, the scale of the churn noise");
}

void SamplerConfig::validate() const {
  require_one_of("--langevin-preset", langevin_preset, langevin_preset_names());
  require_positive("--step-size", step_size);
  if (steps_per_level < 1)
    throw ConfigError(flag_error("--steps-per-level", std::to_string(steps_per_level), "an integer >= 1"));
  require_one_of("--step-rule", step_rule, {"ncsn", "ncsnv2"});
  require_one_of("--alpha-rule", alpha_rule, {"sigma2", "constant", "sigma"});
  require_one_of("--level-steps", level_steps, {"uniform", "more-small", "more-large"});
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
  require_positive("--snr", snr);
  if (corrector_steps < 0)
    throw ConfigError(flag_error("--corrector-steps", std::to_string(corrector_steps), "an integer >= 0"));
  require_one_of("--ode-solver", ode_solver, {"euler", "heun", "rk4", "rk45"});
  require_positive("--rtol", rtol);
  require_positive("--atol", atol);
  require_positive("--rho", rho);
  require_nonnegative("--churn", churn);
  require_nonnegative("--s-tmin", s_tmin);
  require_positive("--s-tmax", s_tmax);
  if (!(s_tmax >= s_tmin)) throw ConfigError(flag_error("--s-tmax", std::to_string(s_tmax), "a number >= --s-tmin"));
  require_nonnegative("--s-noise", s_noise);
}

bool sampler_fits(const std::string& sampler, const std::vector<std::string>& offered) {
  for (const auto& need : sampler_registry().get(sampler).needs)
    if (std::find(offered.begin(), offered.end(), need) == offered.end()) return false;
  return true;
}

void check_sampler(const std::string& sampler, const std::vector<std::string>& offered, const std::string& model) {
  const SamplerSpec& spec = sampler_registry().get(sampler);
  std::string missing;
  for (const auto& need : spec.needs)
    if (std::find(offered.begin(), offered.end(), need) == offered.end()) missing += (missing.empty() ? "" : ", ") + need;
  if (missing.empty()) return;
  std::string fits;
  for (const auto& name : sampler_registry().names())
    if (sampler_fits(name, offered)) fits += (fits.empty() ? "" : ", ") + name;
  throw ConfigError("flag --sampler: " + model + " cannot use '" + sampler + "': it needs " + missing +
                    (fits.empty() ? std::string() : "; samplers that fit: " + fits));
}

void require_input(bool present, const std::string& sampler, const std::string& what, const SamplerArgs& args) {
  if (present) return;
  if (args.model.empty()) throw ConfigError("sampler '" + sampler + "' needs SamplerArgs::" + what + ", which is not set");
  throw ConfigError("flag --sampler: '" + sampler + "' needs " + what + ", which " + args.model + " does not offer");
}

namespace {

void register_samplers(SamplerRegistry& reg) {
  reg.add(
      "langevin",
      SamplerSpec{{"score"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "langevin", "score (a ScoreFn s(x, sigma))", a);
        return std::make_unique<LangevinSampler>(a.score, a.config);
      }},
      "plain Langevin dynamics at one noise level (needs a score)");
  reg.add(
      "annealed-langevin",
      SamplerSpec{{"score", "sigmas"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "annealed-langevin", "score (a ScoreFn s(x, sigma))", a);
        require_input(a.sigmas != nullptr, "annealed-langevin", "sigmas (a SigmaSchedule)", a);
        return std::make_unique<AnnealedLangevinSampler>(a.score, *a.sigmas, a.config);
      }},
      "NCSN annealed Langevin over the sigma schedule (needs a score and sigmas)");
  reg.add(
      "ddpm",
      SamplerSpec{{"eps", "betas"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.eps), "ddpm", "eps (an EpsFn eps(x_t, t))", a);
        require_input(a.betas != nullptr, "ddpm", "betas (a BetaSchedule)", a);
        return std::make_unique<DdpmSampler>(a.eps, *a.betas, a.config);
      }},
      "DDPM ancestral sampling (needs eps and betas)");
  reg.add(
      "ddim",
      SamplerSpec{{"eps", "betas"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.eps), "ddim", "eps (an EpsFn eps(x_t, t))", a);
        require_input(a.betas != nullptr, "ddim", "betas (a BetaSchedule)", a);
        return std::make_unique<DdimSampler>(a.eps, *a.betas, a.config);
      }},
      "DDIM over a timestep subsequence (needs eps and betas)");
  reg.add(
      "autoregressive",
      SamplerSpec{{"ar_draw"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.ar_draw), "autoregressive", "ar_draw (an ARDrawFn)", a);
        require_input(a.ar_positions > 0, "autoregressive", "ar_positions (> 0)", a);
        a.config.validate();
        return std::make_unique<AutoregressiveSampler>(a.ar_draw, a.ar_positions);
      }},
      "ancestral autoregressive sampling, one position per step (needs ar_draw and ar_positions)");
  reg.add(
      "single-step",
      SamplerSpec{{"score", "sigmas", "noisy_samples"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "single-step", "score (a ScoreFn s(x, sigma))", a);
        require_input(a.sigmas != nullptr, "single-step", "sigmas (its smallest level is the smoothing sigma)", a);
        a.config.validate();
        return std::make_unique<SingleStepDenoiser>(a.score, a.sigmas->sigmas().back());
      }},
      "Tweedie denoising x + sigma^2 s(x, sigma) of given noisy samples, sigma = the smallest level");
  reg.add(
      "pc",
      SamplerSpec{{"score", "process"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "pc", "a score s(x, sigma)", a);
        require_input(a.process != nullptr, "pc", "a noise process (VE or VP)", a);
        return std::make_unique<PredictorCorrectorSampler>(a.score, a.process, a.config);
      }},
      "predictor-corrector (score_sde): reverse-diffusion predictor + Langevin corrector (--snr, --corrector-steps)");
  reg.add(
      "ode",
      SamplerSpec{{"score", "process"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "ode", "a score s(x, sigma)", a);
        require_input(a.process != nullptr, "ode", "a noise process (VE or VP)", a);
        return std::make_unique<ProbabilityFlowSampler>(a.score, a.process, a.config);
      }},
      "probability-flow ODE, --ode-solver euler | heun | rk4 | rk45 (--rtol, --atol); reports its NFE");
  reg.add(
      "edm",
      SamplerSpec{{"score", "process"},
      [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
        require_input(static_cast<bool>(a.score), "edm", "a score s(x, sigma)", a);
        require_input(a.process != nullptr, "edm", "a noise process (VE or VP)", a);
        return std::make_unique<EdmSampler>(a.score, a.process, a.config);
      }},
      "Karras et al. 2022 Heun sampler on the rho = 7 schedule (--rho, --churn, --s-tmin, --s-tmax, --s-noise)");
  reg.add("mala", SamplerSpec{{"log_density"}, make_mala},
          "Metropolis-adjusted Langevin on a log-density (annealed over the model's noise levels when it has them)");
  reg.add(
      "mala-plain",
      SamplerSpec{{"log_density"},
                  [](const SamplerArgs& a) -> std::unique_ptr<Sampler> {
                    require_input(static_cast<bool>(a.log_density), "mala-plain",
                                  "log_density (the exact mixture or an AR model)", a);
                    return std::make_unique<MalaSampler>(a.log_density, nullptr, a.config, "mala-plain");
                  }},
      "Metropolis-adjusted Langevin at one level, like plain langevin (needs a log-density)");
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
