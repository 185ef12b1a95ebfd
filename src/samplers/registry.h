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

// The four Langevin settings a preset fixes (--langevin-preset).
struct LangevinSettings {
  double step_size;
  int64_t steps_per_level;
  std::string step_rule;
  bool final_denoise;
};
// Named settings of the references, for the data scale the reference used:
//   ncsn-paper      Song & Ermon (2019) Algorithm 1 as printed: x += alpha/2 s + sqrt(alpha) z ("ncsn" rule),
//                   eps 2e-5, T = 100;
//   ncsn-mnist      the released NCSN code (ermongroup/ncsn anneal_Langevin_dynamics with its MNIST
//                   anneal.yml: step_lr 2e-5, n_steps_each 100), whose update is x += alpha s + sqrt(2 alpha) z
//                   ("ncsnv2" rule: twice the paper's step at the same eps);
//   ncsnv2-cifar10  NCSNv2's configs/cifar10.yml sampling: step_lr 6.2e-6, n_steps_each 5, denoise true.
// NCSNv2 released no MNIST configuration; ncsn-mnist is the released code's MNIST setting. Unknown names are a
// ConfigError naming --langevin-preset.
LangevinSettings langevin_preset(const std::string& name);
std::vector<std::string> langevin_preset_names();

struct SamplerConfig {
  // --langevin-preset none | ncsn-paper | ncsn-mnist | ncsnv2-cifar10: sets the four Langevin settings below;
  // any of --step-size, --steps-per-level, --step-rule given explicitly wins (--final-denoise only turns on).
  std::string langevin_preset = "none";
  // Langevin family (Song & Ermon 2019, REFERENCE 3).
  double step_size = 2e-5;           // --step-size: eps; alpha_i = eps * sigma_i^2 / sigma_L^2
  int64_t steps_per_level = 100;     // --steps-per-level: T
  std::string step_rule = "ncsn";    // --step-rule ncsn | ncsnv2
  bool final_denoise = false;        // --final-denoise: x + sigma_L^2 s(x, sigma_L)
  double langevin_sigma = 0.0;       // sigma used by plain `langevin` (0: the data score itself)
  // Annealed Langevin / annealed MALA schedules (issue 14, experiments 3 and 5).
  std::string alpha_rule = "sigma2";   // --alpha-rule sigma2 (eps sigma_i^2 / sigma_L^2) | constant (eps) | sigma
  std::string level_steps = "uniform"; // --level-steps uniform (T each) | more-small | more-large (L T in all)
  // Initial box for Langevin samplers: uniform on [lo, hi]^D.
  double init_low = -1.0, init_high = 1.0;
  // DDPM / DDIM (Ho et al. 2020; Song et al. 2021).
  std::string variance = "small";    // --ddpm-variance small (beta~_t) | large (beta_t)
  std::optional<double> clip_x0;     // --clip-x0 C: clip predicted x0 to [-C, C]
  int64_t ddim_steps = 50;           // --steps
  double eta = 0.0;                  // --eta
  std::string spacing = "uniform";   // --spacing uniform | quad
  // Predictor-corrector (score_sde): --steps predictor levels, each followed by corrector Langevin steps.
  double snr = 0.16;                 // --snr: corrector step 2 (snr ||z|| / ||s||)^2
  int64_t corrector_steps = 1;       // --corrector-steps
  // Probability-flow ODE: --steps intervals between sigma_max and sigma_min.
  std::string ode_solver = "rk45";   // --ode-solver euler | heun | rk4 | rk45 (Dormand-Prince, adaptive)
  double rtol = 1e-5, atol = 1e-5;   // --rtol, --atol (rk45)
  // EDM (Karras et al. 2022, Alg. 2): --steps sigmas on the rho schedule, then 0.
  double rho = 7.0;                  // --rho
  double churn = 0.0;                // --churn S_churn
  double s_tmin = 0.0, s_tmax = 1e30;  // --s-tmin, --s-tmax: churn only for sigma in [S_tmin, S_tmax]
  double s_noise = 1.0;              // --s-noise

  void add_options(boost::program_options::options_description& desc);
  void validate() const;

 private:
  // What --langevin-preset resolves against: the settings before parsing and the flags given. Every
  // notifier of the five flags re-resolves, so the result does not depend on the order boost calls them in.
  void resolve_langevin();
  LangevinSettings langevin_base_{step_size, steps_per_level, step_rule, final_denoise};
  std::optional<double> step_size_given_;
  std::optional<int64_t> steps_given_;
  std::optional<std::string> rule_given_;
  bool final_denoise_given_ = false;
};

// What a sampler may need; a factory checks that its inputs are set and says which one is missing.
// A method fills in everything its model offers; each sampler takes what it needs and says what is missing.
struct SamplerArgs {
  SamplerConfig config;
  ScoreFn score;             // s(x, sigma) in the VE coordinates of `process` (x / alpha)
  EpsFn eps;                 // eps(x_t, t) of a VP network
  LogDensityFn log_density;  // where the model has one (mala)
  ARDrawFn ar_draw;
  int64_t ar_positions = 0;                 // D for the toy AR model
  std::shared_ptr<const SigmaSchedule> sigmas;   // the levels a noise-conditional network was trained on
  std::shared_ptr<const BetaSchedule> betas;
  std::shared_ptr<const NoiseProcess> process;  // the model's noise process (VE for NCSN, VP for DDPM)
  std::string model;          // what offers these (e.g. "method ncsn (--score learned)"), for error messages
};

using SamplerFactory = std::function<std::unique_ptr<Sampler>(const SamplerArgs&)>;
// A registered sampler: the inputs it needs (names of SamplerArgs fields: "score", "eps", "log_density",
// "ar_draw", "sigmas", "betas", "process"; "noisy_samples": it only maps given samples, e.g. smoothed-ar's x~)
// and its factory. Methods check a choice against the inputs they
// offer before training (check_sampler), so a wrong --sampler fails at once.
struct SamplerSpec {
  std::vector<std::string> needs;
  SamplerFactory make;
  std::unique_ptr<Sampler> operator()(const SamplerArgs& args) const { return make(args); }
};
using SamplerRegistry = Registry<SamplerSpec>;

// The registry of all samplers: langevin, annealed-langevin, ddpm, ddim, autoregressive, single-step, pc,
// ode, edm, mala, mala-plain.
const SamplerRegistry& sampler_registry();

// ConfigError unless `sampler` is registered and `offered` holds all it needs:
// "flag --sampler: MODEL cannot use 'NAME': it needs WHAT" (unknown names list the known ones).
void check_sampler(const std::string& sampler, const std::vector<std::string>& offered, const std::string& model);
// True when `offered` covers everything the registered `sampler` needs.
bool sampler_fits(const std::string& sampler, const std::vector<std::string>& offered);

// ConfigError for a sampler that lacks an input: "sampler 'NAME' needs WHAT, which ARGS.model does not offer".
void require_input(bool present, const std::string& sampler, const std::string& what, const SamplerArgs& args);

// DDIM timestep subsequence (descending) for `steps` out of T with the given spacing; quad drops repeated
// timesteps, so it may hold fewer than `steps` entries.
std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps, const std::string& spacing);

}  // namespace scorelab
