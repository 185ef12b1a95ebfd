// The one sampler contract (STYLE 1-2). Samplers take functions, not models: adapters turn a network
// (or the exact score of a mixture) into a ScoreFn / EpsFn / ARConditionalFn. Method knobs are
// constructor config; a short loop (`run_sampler`) drives every sampler the same way.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "core/noise.h"

namespace scorelab {

// s(x, sigma) ~ grad_x log p_sigma(x), where p_sigma is the data smoothed by N(0, sigma^2 I).
using ScoreFn = std::function<at::Tensor(const at::Tensor& x, double sigma)>;
// eps_theta(x_t, t) for DDPM time index t in [0, T).
using EpsFn = std::function<at::Tensor(const at::Tensor& x, int64_t t)>;
// Autoregressive conditional: given the partially filled x [N, D] and a position, draws x[:, pos]
// (the sampler owns the fill order; positions are its levels).
using ARDrawFn = std::function<at::Tensor(const at::Tensor& x, int64_t pos, at::Generator& gen)>;
// log p_sigma(x) per example [N], up to a constant, differentiable in x (the exact mixture smoothed at
// sigma, or an autoregressive model's log-likelihood, which ignores sigma). For Metropolis corrections.
using LogDensityFn = std::function<at::Tensor(const at::Tensor& x, double sigma)>;

// Adapters between parameterisations: score = -eps / sqrt(1 - abar_t) for x_t; see schedule.h.
// A VP sample x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) e is, divided by sqrt(abar_t), the VE sample
// x = x0 + sigma_t e with sigma_t = sigma_equivalent(t) = sqrt((1 - abar_t) / abar_t). Hence
//   score_from_eps: s(x, sigma) = -eps(sqrt(abar_t) x, t) / sigma_t, t = the timestep whose sigma_t is
//                   nearest to sigma in log scale (clamped to [0, T); sigma <= 0 gives t = 0). The result
//                   is the score at sigma_t, exactly the requested level only when sigma is on the grid.
//   eps_from_score: eps(x_t, t) = -sigma_t s(x_t / sqrt(abar_t), sigma_t).
// The two are inverse to each other at grid levels.
class BetaSchedule;
ScoreFn score_from_eps(EpsFn eps, const BetaSchedule& schedule);  // nearest t by sigma_equivalent
EpsFn eps_from_score(ScoreFn score, const BetaSchedule& schedule);
// The timestep used by score_from_eps for noise level sigma.
int64_t nearest_timestep(const BetaSchedule& schedule, double sigma);

// What one step returns (diffusers' prev_sample / pred_original_sample, k-diffusion's callback dict).
struct StepOutput {
  at::Tensor x;         // the new state x_{i+1}
  NoiseLevel level;     // its marginal x = alpha x0 + std e where the sampler knows it (unknown otherwise;
                        // clean once the state is a sample, e.g. after an AR position or DDPM's t = 0)
  at::Tensor denoised;  // the model's estimate of x0 at this step where it has one (undefined otherwise)
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::string name() const = 0;
  // How it runs, for reports (e.g. "ddim, 50 steps, eta 0"); its name unless it has settings worth saying.
  virtual std::string describe() const { return name(); }
  // Number of steps the loop runs (noise levels x steps per level, DDPM timesteps, raster positions).
  virtual int64_t num_steps() const = 0;
  // Starting point for `n` samples of shape `sample_shape` (without the batch dimension).
  virtual at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const = 0;
  // The marginal of init's state (unknown for a uniform box; the prior level for diffusion samplers).
  virtual NoiseLevel init_level() const { return NoiseLevel::unknown(); }
  // One update x_i -> x_{i+1}. No history is kept.
  virtual StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const = 0;
  // Counters of the last run where the sampler keeps them: "nfe" (model evaluations per sample),
  // "acceptance_rate" (mala). Keys are stable; absent keys mean "not counted".
  virtual std::map<std::string, double> stats() const { return {}; }
};

// Progress callback: (step index, steps in all, current x). Used for progress lines and snapshots.
using StepCallback = std::function<void(int64_t, int64_t, const at::Tensor&)>;
// Projection of a state with a known marginal onto a constraint (inpainting: the known pixels drawn from
// q(x | x0_known) at `level`, exactly x0 at a clean level). Called after init and after every step.
using ProjectFn = std::function<at::Tensor(const at::Tensor& x, const NoiseLevel& level, at::Generator& gen)>;

// The loop's hooks. Order per step: step -> on_output (the raw output) -> project -> on_step (the state kept).
struct SamplerHooks {
  SamplerHooks() = default;
  // A bare progress callback (any callable of (i, steps, x)).
  template <typename F, typename = std::enable_if_t<std::is_constructible_v<StepCallback, F> &&
                                                    !std::is_same_v<std::decay_t<F>, SamplerHooks>>>
  SamplerHooks(F&& progress) : on_step(std::forward<F>(progress)) {}  // NOLINT(google-explicit-constructor)
  StepCallback on_step;
  std::function<void(int64_t, const StepOutput&)> on_output;
  ProjectFn project;
};

// [n, sample_shape...]: the batch shape of `n` samples.
std::vector<int64_t> batch_shape(int64_t n, at::IntArrayRef sample_shape);
// TORCH_CHECKs that a model function (`fn`, e.g. "score") returned a tensor of x's shape.
void check_model_output(const at::Tensor& out, const at::Tensor& x, const char* sampler, const char* fn);

// The whole sampling loop, the one loop for every sampler: x = init (projected when its level is known);
// for i in steps: x = step(x, i).x, projected where the step's level is known. Runs under NoGradGuard
// unless the sampler needs gradients itself (denoisers re-enable them locally).
at::Tensor run_sampler(const Sampler& sampler, int64_t n, at::IntArrayRef sample_shape, at::Generator& gen,
                       const SamplerHooks& hooks = {});
// Same, from a given starting point (not projected: it is the caller's).
at::Tensor run_sampler_from(const Sampler& sampler, at::Tensor x, at::Generator& gen, const SamplerHooks& hooks = {});

}  // namespace scorelab
