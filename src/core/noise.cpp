#include "core/noise.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"
#include "core/schedule.h"

namespace scorelab {

at::Tensor perturb(const at::Tensor& x0, const NoiseLevel& level, at::Generator& gen) {
  TORCH_CHECK(level.known(), "perturb: the noise level is not a known marginal");
  if (level.clean()) return x0;
  const at::Tensor z = torch::randn(x0.sizes(), gen, x0.options());
  // alpha = 1 (VE) adds the noise to x0 itself: no multiplication of the data.
  return level.alpha == 1.0 ? x0 + level.std * z : level.alpha * x0 + level.std * z;
}

double NoiseProcess::sigma_max() const {
  const NoiseLevel a = level(0), b = level(size() - 1);
  return std::max(a.sigma, b.sigma);
}

double NoiseProcess::sigma_min() const {
  const NoiseLevel a = level(0), b = level(size() - 1);
  return std::min(a.sigma, b.sigma);
}

at::Tensor NoiseProcess::prior_ve(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  const NoiseLevel top = at_sigma(sigma_max());
  const at::Tensor z = torch::randn(shape, gen, torch::TensorOptions().dtype(torch::kFloat32).device(gen.device()));
  // VE: x = x0 + sigma_max z ~ sigma_max z; VP: x_T ~ N(0, I), so x_T / alpha_T.
  return kind() == "vp" ? z * (1.0 / top.alpha) : z * top.sigma;
}

namespace {
at::Tensor per_example(const at::Tensor& v, const at::Tensor& like) {
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return v.reshape(shape);
}
at::Tensor gather(const std::vector<double>& table, const at::Tensor& index, const at::Tensor& like) {
  return torch::tensor(table, torch::kFloat64).to(like.device()).to(like.scalar_type()).index_select(0, index);
}
}  // namespace

Perturbed perturb_ve(const at::Tensor& x0, double sigma, at::Generator& gen) {
  TORCH_CHECK(sigma >= 0, "noise sigma must be >= 0, got ", sigma);
  at::Tensor z = torch::randn(x0.sizes(), gen, x0.options());
  return {x0 + sigma * z, z};
}

Perturbed perturb_ve(const at::Tensor& x0, const at::Tensor& sigma, at::Generator& gen) {
  TORCH_CHECK(sigma.dim() == 1 && sigma.size(0) == x0.size(0), "per-example sigma must be [N]");
  at::Tensor z = torch::randn(x0.sizes(), gen, x0.options());
  return {x0 + per_example(sigma.to(x0.scalar_type()), x0) * z, z};
}

Perturbed perturb_vp(const at::Tensor& x0, const at::Tensor& alpha_bar, at::Generator& gen) {
  TORCH_CHECK(alpha_bar.dim() == 1 && alpha_bar.size(0) == x0.size(0), "per-example alpha_bar must be [N]");
  const at::Tensor a = per_example(alpha_bar, x0);
  at::Tensor z = torch::randn(x0.sizes(), gen, x0.options());
  return {torch::sqrt(a) * x0 + torch::sqrt(1 - a) * z, z};
}

VarianceExploding::VarianceExploding(std::vector<double> sigmas) : sigmas_(std::move(sigmas)) {
  if (sigmas_.empty()) throw ConfigError("variance-exploding process: no noise levels");
  for (size_t i = 0; i < sigmas_.size(); ++i) {
    if (!(sigmas_[i] > 0) || !std::isfinite(sigmas_[i]) || (i > 0 && !(sigmas_[i] < sigmas_[i - 1])))
      throw ConfigError("variance-exploding process: expected decreasing finite sigmas > 0");
  }
}

VarianceExploding::VarianceExploding(const SigmaSchedule& sigmas) : VarianceExploding(sigmas.sigmas()) {}

NoiseLevel VarianceExploding::level(int64_t index) const {
  TORCH_CHECK(index >= 0 && index < size(), "variance-exploding level ", index, " outside [0, ", size(), ")");
  return NoiseLevel::ve(sigmas_[static_cast<size_t>(index)], index);
}

Perturbed VarianceExploding::perturb_batch(const at::Tensor& x0, const at::Tensor& index, at::Generator& gen) const {
  return perturb_ve(x0, gather(sigmas_, index, x0), gen);
}

NoiseLevel VarianceExploding::at_sigma(double sigma) const {
  TORCH_CHECK(sigma >= 0 && std::isfinite(sigma), "variance-exploding: sigma must be finite and >= 0, got ", sigma);
  if (sigma == 0) return NoiseLevel::none();
  for (size_t i = 0; i < sigmas_.size(); ++i)
    if (sigmas_[i] == sigma) return NoiseLevel::ve(sigma, static_cast<int64_t>(i));
  return NoiseLevel::ve(sigma);
}

VariancePreserving::VariancePreserving(const BetaSchedule& betas) : alpha_bar_(betas.alpha_bars()) {
  sigma_.resize(alpha_bar_.size());
  log_sigma_.resize(alpha_bar_.size());
  for (size_t t = 0; t < alpha_bar_.size(); ++t) {
    sigma_[t] = betas.sigma_equivalent(static_cast<int64_t>(t));
    log_sigma_[t] = std::log(sigma_[t]);
  }
}

NoiseLevel VariancePreserving::level(int64_t t) const {
  TORCH_CHECK(t >= 0 && t < size(), "variance-preserving timestep ", t, " outside [0, ", size(), ")");
  const double a = alpha_bar_[static_cast<size_t>(t)];
  return {sigma_[static_cast<size_t>(t)], std::sqrt(a), std::sqrt(1 - a), t};
}

Perturbed VariancePreserving::perturb_batch(const at::Tensor& x0, const at::Tensor& index, at::Generator& gen) const {
  return perturb_vp(x0, gather(alpha_bar_, index, x0), gen);
}

NoiseLevel VariancePreserving::at_sigma(double sigma) const {
  if (!(sigma > 0)) return level(0);
  const double ls = std::log(sigma);
  auto it = std::lower_bound(log_sigma_.begin(), log_sigma_.end(), ls);
  int64_t t;
  if (it == log_sigma_.begin()) t = 0;
  else if (it == log_sigma_.end()) t = size() - 1;
  else {
    const auto hi = static_cast<int64_t>(it - log_sigma_.begin());
    t = (*it - ls) < (ls - *(it - 1)) ? hi : hi - 1;
  }
  return level(t);
}

std::vector<NoiseLevel> levels_for(const NoiseProcess& process, const std::vector<double>& sigmas) {
  std::vector<NoiseLevel> out;
  for (double s : sigmas) {
    NoiseLevel l = process.at_sigma(s);
    if (!process.continuous() && !out.empty() && out.back().index == l.index) continue;
    out.push_back(l);
  }
  return out;
}

std::vector<double> geometric_sigmas(double hi, double lo, int64_t n) {
  TORCH_CHECK(n >= 1 && hi >= lo && lo > 0, "geometric_sigmas: expected n >= 1 and hi >= lo > 0");
  std::vector<double> out(static_cast<size_t>(n));
  const double lh = std::log(hi), ll = std::log(lo);
  for (int64_t i = 0; i < n; ++i)
    out[static_cast<size_t>(i)] = n == 1 ? hi : std::exp(lh + (ll - lh) * static_cast<double>(i) / static_cast<double>(n - 1));
  out.front() = hi;
  out.back() = n == 1 ? hi : lo;
  return out;
}

}  // namespace scorelab
