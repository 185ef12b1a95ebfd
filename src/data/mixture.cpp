#include "data/mixture.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace scorelab {

namespace {
constexpr double kLog2Pi = 1.8378770664093453;
}

GaussianMixture::GaussianMixture(std::vector<double> weights, std::vector<std::vector<double>> means,
                                 std::vector<double> stds)
    : weights_(std::move(weights)), means_(std::move(means)), stds_(std::move(stds)) {
  if (weights_.empty()) throw ConfigError("mixture: needs at least one component");
  if (means_.size() != weights_.size() || stds_.size() != weights_.size())
    throw ConfigError("mixture: weights, means and stds must have one entry per component (got " +
                      std::to_string(weights_.size()) + ", " + std::to_string(means_.size()) + ", " +
                      std::to_string(stds_.size()) + ")");
  dim_ = static_cast<int64_t>(means_[0].size());
  if (dim_ < 1) throw ConfigError("mixture: means must have at least one coordinate");
  double total = 0;
  for (size_t k = 0; k < weights_.size(); ++k) {
    if (!(weights_[k] > 0) || !std::isfinite(weights_[k]))
      throw ConfigError("mixture: weight " + std::to_string(k) + " must be a finite number > 0");
    if (!(stds_[k] > 0) || !std::isfinite(stds_[k]))
      throw ConfigError("mixture: std " + std::to_string(k) + " must be a finite number > 0");
    if (static_cast<int64_t>(means_[k].size()) != dim_)
      throw ConfigError("mixture: mean " + std::to_string(k) + " has " + std::to_string(means_[k].size()) +
                        " coordinates, expected " + std::to_string(dim_));
    for (double m : means_[k])
      if (!std::isfinite(m)) throw ConfigError("mixture: mean " + std::to_string(k) + " is not finite");
    total += weights_[k];
  }
  for (double& w : weights_) w /= total;
}

at::Tensor GaussianMixture::means_tensor() const {
  auto t = torch::empty({components(), dim_}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (int64_t k = 0; k < components(); ++k)
    for (int64_t d = 0; d < dim_; ++d) a[k][d] = means_[k][d];
  return t;
}

at::Tensor GaussianMixture::weights_tensor() const {
  return torch::tensor(weights_, torch::kFloat64);
}

at::Tensor GaussianMixture::stds_tensor() const { return torch::tensor(stds_, torch::kFloat64); }

at::Tensor GaussianMixture::sample(int64_t n, at::Generator& gen) const { return sample_labelled(n, gen).first; }

std::pair<at::Tensor, at::Tensor> GaussianMixture::sample_labelled(int64_t n, at::Generator& gen) const {
  TORCH_CHECK(n >= 0, "sample count must be >= 0");
  auto device = gen.device();
  auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(device);
  auto comp = torch::multinomial(weights_tensor().to(device), n, /*replacement=*/true, gen);
  auto mu = means_tensor().to(device).index_select(0, comp);
  auto sd = stds_tensor().to(device).index_select(0, comp).unsqueeze(1);
  auto z = at::normal(0.0, 1.0, {n, dim_}, gen, opts);
  return {(mu + sd * z).to(torch::kFloat32), comp};
}

// log N(x; mu_k, s_k^2 I) + log w_k, [N, K], in float64.
static at::Tensor component_log_joint(const GaussianMixture& m, const at::Tensor& x64) {
  auto dev = x64.device();
  auto mu = m.means_tensor().to(dev);
  auto sd = m.stds_tensor().to(dev);
  auto w = m.weights_tensor().to(dev);
  auto d2 = (x64.unsqueeze(1) - mu.unsqueeze(0)).pow(2).sum(-1);  // [N, K]
  const double D = static_cast<double>(m.dim());
  return w.log().unsqueeze(0) - 0.5 * d2 / sd.pow(2).unsqueeze(0) - D * sd.log().unsqueeze(0) - 0.5 * D * kLog2Pi;
}

at::Tensor GaussianMixture::log_prob(const at::Tensor& x) const {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == dim_, "mixture log_prob: x must be [N, ", dim_, "], got ", x.sizes());
  auto x64 = x.to(torch::kFloat64);
  return torch::logsumexp(component_log_joint(*this, x64), 1).to(x.scalar_type());
}

at::Tensor GaussianMixture::responsibilities(const at::Tensor& x) const {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == dim_, "mixture responsibilities: x must be [N, ", dim_, "], got ", x.sizes());
  return torch::softmax(component_log_joint(*this, x.to(torch::kFloat64)), 1);
}

at::Tensor GaussianMixture::score(const at::Tensor& x) const {
  // grad log p(x) = sum_k r_k(x) (mu_k - x) / s_k^2.
  TORCH_CHECK(x.dim() == 2 && x.size(1) == dim_, "mixture score: x must be [N, ", dim_, "], got ", x.sizes());
  auto x64 = x.to(torch::kFloat64);
  auto r = torch::softmax(component_log_joint(*this, x64), 1);  // [N, K]
  auto dev = x64.device();
  auto mu = means_tensor().to(dev);
  auto inv_var = stds_tensor().to(dev).pow(-2);
  auto rw = r * inv_var.unsqueeze(0);                            // [N, K]
  auto s = torch::matmul(rw, mu) - rw.sum(1, true) * x64;        // [N, D]
  return s.to(x.scalar_type());
}

GaussianMixture GaussianMixture::smoothed(double sigma) const {
  if (!(sigma >= 0) || !std::isfinite(sigma)) throw ConfigError("mixture: smoothing sigma must be >= 0");
  std::vector<double> s(stds_.size());
  for (size_t k = 0; k < s.size(); ++k) s[k] = std::sqrt(stds_[k] * stds_[k] + sigma * sigma);
  return GaussianMixture(weights_, means_, s);
}

double GaussianMixture::max_pairwise_distance() const {
  double best = 0, max_sd = 0;
  for (size_t i = 0; i < means_.size(); ++i) {
    max_sd = std::max(max_sd, stds_[i]);
    for (size_t j = i + 1; j < means_.size(); ++j) {
      double d2 = 0;
      for (int64_t d = 0; d < dim_; ++d) d2 += (means_[i][d] - means_[j][d]) * (means_[i][d] - means_[j][d]);
      best = std::max(best, std::sqrt(d2));
    }
  }
  return best + 3 * max_sd;
}

double GaussianMixture::entropy_estimate(int64_t n, at::Generator& gen) const {
  auto x = sample(n, gen);
  return -log_prob(x.to(torch::kFloat64)).mean().item<double>();
}

std::vector<std::pair<double, double>> GaussianMixture::bounding_box(double pad_stds) const {
  std::vector<std::pair<double, double>> box(static_cast<size_t>(dim_), {1e300, -1e300});
  for (size_t k = 0; k < means_.size(); ++k)
    for (int64_t d = 0; d < dim_; ++d) {
      box[d].first = std::min(box[d].first, means_[k][d] - pad_stds * stds_[k]);
      box[d].second = std::max(box[d].second, means_[k][d] + pad_stds * stds_[k]);
    }
  return box;
}

std::string GaussianMixture::describe() const {
  std::ostringstream os;
  os << components() << "-component " << dim_ << "-D Gaussian mixture";
  return os.str();
}

}  // namespace scorelab
