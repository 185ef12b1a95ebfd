#include "samplers/sampler.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/schedule.h"

namespace scorelab {

namespace {

// sigma_t for every t, increasing in t because alpha_bar decreases.
struct SigmaTable {
  std::vector<double> sigma;       // sigma_equivalent(t)
  std::vector<double> log_sigma;
  std::vector<double> sqrt_abar;   // sqrt(alpha_bar(t))

  explicit SigmaTable(const BetaSchedule& schedule) {
    const auto T = static_cast<size_t>(schedule.steps());
    sigma.resize(T);
    log_sigma.resize(T);
    sqrt_abar.resize(T);
    for (size_t t = 0; t < T; ++t) {
      sigma[t] = schedule.sigma_equivalent(static_cast<int64_t>(t));
      log_sigma[t] = std::log(sigma[t]);
      sqrt_abar[t] = std::sqrt(schedule.alpha_bar(static_cast<int64_t>(t)));
    }
  }

  int64_t nearest(double s) const {
    if (!(s > 0)) return 0;
    const double ls = std::log(s);
    auto it = std::lower_bound(log_sigma.begin(), log_sigma.end(), ls);
    if (it == log_sigma.begin()) return 0;
    if (it == log_sigma.end()) return static_cast<int64_t>(log_sigma.size()) - 1;
    const auto hi = static_cast<int64_t>(it - log_sigma.begin());
    return (*it - ls) < (ls - *(it - 1)) ? hi : hi - 1;
  }
};

}  // namespace

int64_t nearest_timestep(const BetaSchedule& schedule, double sigma) { return SigmaTable(schedule).nearest(sigma); }

ScoreFn score_from_eps(EpsFn eps, const BetaSchedule& schedule) {
  TORCH_CHECK(eps, "score_from_eps: the eps function is empty");
  auto table = std::make_shared<const SigmaTable>(schedule);
  return [eps = std::move(eps), table](const at::Tensor& x, double sigma) {
    const int64_t t = table->nearest(sigma);
    const auto ti = static_cast<size_t>(t);
    at::Tensor e = eps(x * table->sqrt_abar[ti], t);
    return e.mul(-1.0 / table->sigma[ti]);
  };
}

EpsFn eps_from_score(ScoreFn score, const BetaSchedule& schedule) {
  TORCH_CHECK(score, "eps_from_score: the score function is empty");
  auto table = std::make_shared<const SigmaTable>(schedule);
  return [score = std::move(score), table](const at::Tensor& x_t, int64_t t) {
    TORCH_CHECK(t >= 0 && t < static_cast<int64_t>(table->sigma.size()), "eps_from_score: timestep ", t,
                " outside [0, ", table->sigma.size(), ")");
    const auto ti = static_cast<size_t>(t);
    at::Tensor s = score(x_t * (1.0 / table->sqrt_abar[ti]), table->sigma[ti]);
    return s.mul(-table->sigma[ti]);
  };
}

std::vector<int64_t> batch_shape(int64_t n, at::IntArrayRef sample_shape) {
  TORCH_CHECK(n >= 0, "batch_shape: negative sample count ", n);
  std::vector<int64_t> shape;
  shape.reserve(sample_shape.size() + 1);
  shape.push_back(n);
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  return shape;
}

void check_model_output(const at::Tensor& out, const at::Tensor& x, const char* sampler, const char* fn) {
  TORCH_CHECK(out.defined(), sampler, ": the ", fn, " function returned an undefined tensor");
  TORCH_CHECK(out.sizes() == x.sizes(), sampler, ": the ", fn, " function returned shape ", out.sizes(),
              " for input shape ", x.sizes());
}

at::Tensor run_sampler(const Sampler& sampler, int64_t n, at::IntArrayRef sample_shape, at::Generator& gen,
                       const SamplerHooks& hooks) {
  torch::NoGradGuard no_grad;
  at::Tensor x = sampler.init(n, sample_shape, gen);
  const NoiseLevel level = sampler.init_level();
  if (hooks.project && level.known()) x = hooks.project(x, level, gen);
  return run_sampler_from(sampler, std::move(x), gen, hooks);
}

at::Tensor run_sampler_from(const Sampler& sampler, at::Tensor x, at::Generator& gen, const SamplerHooks& hooks) {
  // Score functions that need autograd (e.g. a likelihood gradient) enable it locally themselves.
  torch::NoGradGuard no_grad;
  const int64_t steps = sampler.num_steps();
  for (int64_t i = 0; i < steps; ++i) {
    StepOutput out = sampler.step(x, i, gen);
    if (hooks.on_output) hooks.on_output(i, out);
    x = hooks.project && out.level.known() ? hooks.project(out.x, out.level, gen) : std::move(out.x);
    if (hooks.on_step) hooks.on_step(i, steps, x);
  }
  return x;
}

}  // namespace scorelab
