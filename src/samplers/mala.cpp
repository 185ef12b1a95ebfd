#include "samplers/mala.h"

#include <torch/torch.h>

#include <algorithm>

#include "samplers/langevin.h"

namespace scorelab {

MalaSampler::MalaSampler(LogDensityFn log_density, std::shared_ptr<const SigmaSchedule> sigmas,
                         const SamplerConfig& config, std::string name)
    : log_density_(std::move(log_density)),
      name_(std::move(name)),
      init_low_(config.init_low),
      init_high_(config.init_high) {
  TORCH_CHECK(log_density_, "mala: the log-density function is empty");
  config.validate();
  sigmas_ = sigmas ? sigmas->sigmas() : std::vector<double>{config.langevin_sigma};
  const std::vector<double> h =
      sigmas ? annealed_step_sizes(sigmas_, config.step_size, config.alpha_rule) : std::vector<double>{config.step_size};
  for (double hi : h) {
    auto [a, b] = langevin_coefficients(config.step_rule, hi);
    drift_.push_back(a);
    noise_.push_back(b);
  }
  steps_ = LevelSteps(sigmas ? annealed_level_steps(static_cast<int64_t>(sigmas_.size()), config.steps_per_level,
                                                   config.level_steps)
                            : std::vector<int64_t>{config.steps_per_level});
  accepted_level_.assign(sigmas_.size(), 0.0);
  proposed_level_.assign(sigmas_.size(), 0.0);
}

void MalaSampler::reset_counts() const {
  accepted_ = proposed_ = 0;
  evaluations_ = 0;
  std::fill(accepted_level_.begin(), accepted_level_.end(), 0.0);
  std::fill(proposed_level_.begin(), proposed_level_.end(), 0.0);
}

at::Tensor MalaSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  reset_counts();
  return uniform_box(n, sample_shape, init_low_, init_high_, gen);
}

std::map<std::string, double> MalaSampler::stats() const {
  std::map<std::string, double> out{{"nfe", static_cast<double>(evaluations_)}};
  if (proposed_ > 0) out["acceptance_rate"] = accepted_ / proposed_;
  if (sigmas_.size() > 1)  // per level, largest sigma first: acceptance_rate_level_0 ..
    for (size_t l = 0; l < sigmas_.size(); ++l)
      if (proposed_level_[l] > 0) out["acceptance_rate_level_" + std::to_string(l)] = accepted_level_[l] / proposed_level_[l];
  return out;
}

std::pair<at::Tensor, at::Tensor> MalaSampler::density_and_grad(const at::Tensor& x, double sigma) const {
  torch::AutoGradMode grad_mode(true);
  at::Tensor xi = x.detach().requires_grad_(true);
  at::Tensor lp = log_density_(xi, sigma);
  TORCH_CHECK(lp.defined() && lp.dim() == 1 && lp.size(0) == x.size(0), "mala: the log-density returned shape ",
              lp.defined() ? lp.sizes() : at::IntArrayRef{}, " for ", x.size(0), " samples; expected one value each");
  at::Tensor g = torch::autograd::grad({lp.sum()}, {xi})[0];
  ++evaluations_;
  return {lp.detach(), g.detach()};
}

StepOutput MalaSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < num_steps(), "mala: step ", i, " outside [0, ", num_steps(), ")");
  if (i == 0) reset_counts();
  const size_t level = steps_.level_of(i);
  const double sigma = sigmas_[level], a = drift_[level], b = noise_[level];
  auto [lp_x, g_x] = density_and_grad(x, sigma);
  at::Tensor z = torch::randn(x.sizes(), gen, x.options());
  at::Tensor y = x.add(g_x, a).add_(z, b);
  auto [lp_y, g_y] = density_and_grad(y, sigma);
  auto sq = [](const at::Tensor& v) { return v.pow(2).reshape({v.size(0), -1}).sum(1); };
  // log q(x | y) - log q(y | x), with y - x - a g(x) = b z.
  at::Tensor log_q = (sq(x - y - a * g_y) - sq(b * z)) * (-0.5 / (b * b));
  at::Tensor log_r = lp_y - lp_x + log_q;
  at::Tensor u = torch::rand({x.size(0)}, gen, log_r.options());
  at::Tensor accept = u.log() < log_r;
  const double took = accept.sum().item<double>();
  accepted_ += took;
  proposed_ += static_cast<double>(x.size(0));
  accepted_level_[level] += took;
  proposed_level_[level] += static_cast<double>(x.size(0));
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  at::Tensor out = torch::where(accept.reshape(shape), y, x);
  at::Tensor denoised = sigma > 0 ? x.add(g_x, sigma * sigma) : at::Tensor();
  return {out, sigma > 0 ? NoiseLevel::ve(sigma, static_cast<int64_t>(level)) : NoiseLevel::none(), denoised};
}

std::unique_ptr<Sampler> make_mala(const SamplerArgs& a) {
  require_input(static_cast<bool>(a.log_density), "mala", "log_density (the exact mixture or an AR model)", a);
  return std::make_unique<MalaSampler>(a.log_density, a.sigmas, a.config);
}

}  // namespace scorelab
