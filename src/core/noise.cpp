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

Perturbed NoiseProcess::perturb_batch(const at::Tensor& x0, const at::Tensor& index, at::Generator& gen) const {
  TORCH_CHECK(index.dim() == 1 && index.size(0) == x0.size(0), "perturb_batch: expected one index per example");
  const int64_t n = index.size(0);
  std::vector<double> alpha(static_cast<size_t>(n)), stdv(static_cast<size_t>(n));
  const at::Tensor idx = index.to(torch::kCPU).to(torch::kLong).contiguous();
  const auto* p = idx.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const NoiseLevel l = level(p[i]);
    alpha[static_cast<size_t>(i)] = l.alpha;
    stdv[static_cast<size_t>(i)] = l.std;
  }
  std::vector<int64_t> shape(static_cast<size_t>(x0.dim()), 1);
  shape[0] = n;
  auto as = [&](const std::vector<double>& v) {
    return torch::tensor(v, torch::kFloat64).to(x0.device()).to(x0.scalar_type()).reshape(shape);
  };
  const at::Tensor z = torch::randn(x0.sizes(), gen, x0.options());
  return {as(alpha) * x0 + as(stdv) * z, z};
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
