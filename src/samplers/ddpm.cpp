#include "samplers/ddpm.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/cli.h"
#include "core/noise.h"

namespace scorelab {

namespace {

// ca a + cb b + noise z, z ~ N(0, I); draws nothing when noise == 0. One allocation.
at::Tensor combine(const at::Tensor& a, double ca, const at::Tensor& b, double cb, double noise, at::Generator& gen) {
  at::Tensor out;
  if (noise > 0) {
    out = at::empty_like(a, at::MemoryFormat::Contiguous).normal_(0.0, noise, gen);
    out.add_(a, ca);
  } else {
    out = a.mul(ca);
  }
  out.add_(b, cb);
  return out;
}

}  // namespace

std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps, const std::string& spacing) {
  require_one_of("--spacing", spacing, {"uniform", "quad"});
  if (T < 1) throw ConfigError("ddim_timesteps: the beta schedule has T = " + std::to_string(T) + " steps; expected >= 1");
  if (steps < 1 || steps > T)
    throw ConfigError(flag_error("--steps", std::to_string(steps), "an integer in [1, T = " + std::to_string(T) + "]"));
  std::vector<int64_t> seq(static_cast<size_t>(steps));
  if (spacing == "uniform") {
    // floor(k T / steps): the DDIM code's range(0, T, T // steps) when steps divides T; otherwise the
    // same even spread (the top timestep stays within T / steps of T, so x_T ~ N(0, I) still holds).
    for (int64_t k = 0; k < steps; ++k) seq[static_cast<size_t>(k)] = (k * T) / steps;
  } else {
    // DDIM code: int(linspace(0, sqrt(0.8 T), steps)^2), numpy's linspace arithmetic (last point exact).
    const double stop = std::sqrt(0.8 * static_cast<double>(T));
    const double delta = steps > 1 ? stop / static_cast<double>(steps - 1) : 0.0;
    for (int64_t k = 0; k < steps; ++k) {
      const double y = k == steps - 1 ? stop : static_cast<double>(k) * delta;
      seq[static_cast<size_t>(k)] = static_cast<int64_t>(y * y);
    }
    // With steps >= sqrt(0.8 T) + 1 the first squares repeat (0, 0, 1, ...). The DDIM code runs every entry, but
    // a step from tau to the same tau is the identity (a = a', c1 = 0) that costs a network call: drop repeats.
    seq.erase(std::unique(seq.begin(), seq.end()), seq.end());
  }
  return {seq.rbegin(), seq.rend()};
}

at::Tensor standard_normal(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) {
  return at::empty(batch_shape(n, sample_shape), at::TensorOptions().dtype(at::kFloat).device(gen.device()))
      .normal_(0.0, 1.0, gen);
}

DdpmSampler::DdpmSampler(EpsFn eps, const BetaSchedule& betas, const SamplerConfig& config)
    : eps_(std::move(eps)), clip_x0_(config.clip_x0) {
  TORCH_CHECK(eps_, "ddpm: the eps function is empty");
  config.validate();
  const bool small = config.variance == "small";
  for (int64_t t = 0; t < betas.steps(); ++t) {
    const double beta = betas.beta(t), alpha = 1.0 - beta;
    const double abar = betas.alpha_bar(t), abar_prev = t > 0 ? betas.alpha_bar(t - 1) : 1.0;
    Coef c{};
    c.mean_x = 1.0 / std::sqrt(alpha);
    c.mean_eps = beta / (std::sqrt(alpha) * std::sqrt(1.0 - abar));
    c.x0_x = 1.0 / std::sqrt(abar);
    c.x0_eps = std::sqrt(1.0 / abar - 1.0);
    c.post_x0 = beta * std::sqrt(abar_prev) / (1.0 - abar);
    c.post_x = (1.0 - abar_prev) * std::sqrt(alpha) / (1.0 - abar);
    c.noise = t == 0 ? 0.0 : std::sqrt(small ? betas.posterior_variance(t) : beta);
    coef_.push_back(c);
  }
  const VariancePreserving vp(betas);
  for (int64_t t = 0; t < betas.steps(); ++t) levels_.push_back(vp.level(t));
}

at::Tensor DdpmSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  return standard_normal(n, sample_shape, gen);
}

StepOutput DdpmSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < num_steps(), "ddpm: step ", i, " outside [0, ", num_steps(), ")");
  const int64_t t = num_steps() - 1 - i;
  const Coef& c = coef_[static_cast<size_t>(t)];
  at::Tensor e = eps_(x, t);
  check_model_output(e, x, "ddpm", "eps");
  const NoiseLevel next = t > 0 ? levels_[static_cast<size_t>(t - 1)] : NoiseLevel::none();
  at::Tensor x0 = x.mul(c.x0_x).sub_(e, c.x0_eps);
  if (!clip_x0_) return {combine(x, c.mean_x, e, -c.mean_eps, c.noise, gen), next, x0};
  x0.clamp_(-*clip_x0_, *clip_x0_);
  return {combine(x0, c.post_x0, x, c.post_x, c.noise, gen), next, x0};
}

std::string DdimSampler::describe() const {
  std::ostringstream os;
  os << "ddim, " << num_steps() << " steps, eta " << eta_;
  return os.str();
}

DdimSampler::DdimSampler(EpsFn eps, const BetaSchedule& betas, const SamplerConfig& config)
    : eps_(std::move(eps)),
      eta_(config.eta),
      timesteps_(ddim_timesteps(betas.steps(), config.ddim_steps, config.spacing)),
      clip_x0_(config.clip_x0) {
  TORCH_CHECK(eps_, "ddim: the eps function is empty");
  config.validate();
  for (size_t i = 0; i < timesteps_.size(); ++i) {
    const double a = betas.alpha_bar(timesteps_[i]);
    const double an = i + 1 < timesteps_.size() ? betas.alpha_bar(timesteps_[i + 1]) : 1.0;
    const double c1 = config.eta * std::sqrt((1.0 - a / an) * (1.0 - an) / (1.0 - a));
    const double c2 = std::sqrt(std::max(0.0, 1.0 - an - c1 * c1));
    Coef c{};
    c.x = std::sqrt(an / a);
    c.eps = c2 - std::sqrt(an) * std::sqrt((1.0 - a) / a);
    c.x0_x = 1.0 / std::sqrt(a);
    c.x0_eps = std::sqrt(1.0 / a - 1.0);
    // eps recomputed from the clipped x0: (x - sqrt(a) x0) / sqrt(1 - a).
    c.clip_x0 = std::sqrt(an) - c2 * std::sqrt(a / (1.0 - a));
    c.clip_x = c2 / std::sqrt(1.0 - a);
    c.noise = c1;
    coef_.push_back(c);
  }
  const VariancePreserving vp(betas);
  for (int64_t t : timesteps_) levels_.push_back(vp.level(t));
}

at::Tensor DdimSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  return standard_normal(n, sample_shape, gen);
}

StepOutput DdimSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < num_steps(), "ddim: step ", i, " outside [0, ", num_steps(), ")");
  const Coef& c = coef_[static_cast<size_t>(i)];
  at::Tensor e = eps_(x, timesteps_[static_cast<size_t>(i)]);
  check_model_output(e, x, "ddim", "eps");
  const auto k = static_cast<size_t>(i + 1);
  const NoiseLevel next = k < levels_.size() ? levels_[k] : NoiseLevel::none();
  at::Tensor x0 = x.mul(c.x0_x).sub_(e, c.x0_eps);
  if (!clip_x0_) return {combine(x, c.x, e, c.eps, c.noise, gen), next, x0};
  x0.clamp_(-*clip_x0_, *clip_x0_);
  return {combine(x0, c.clip_x0, x, c.clip_x, c.noise, gen), next, x0};
}

}  // namespace scorelab
