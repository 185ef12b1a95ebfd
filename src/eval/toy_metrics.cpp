#include "eval/toy_metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace scorelab {
namespace {

// Pairwise entries held at once per buffer: 4M doubles = 32 MB; three buffers live at a time.
constexpr int64_t kMaxChunkEntries = 4'000'000;

// sum over i in x, j in y of k(x_i, y_j); with `same` (x is y) the diagonal i == j is left out.
double kernel_sum(const at::Tensor& x, const at::Tensor& y, const std::vector<double>& bandwidths, bool same,
                  int64_t chunk_rows) {
  const int64_t n = x.size(0);
  const int64_t m = y.size(0);
  if (chunk_rows <= 0) chunk_rows = std::max<int64_t>(1, kMaxChunkEntries / std::max<int64_t>(m, 1));
  const at::Tensor y_sq = y.pow(2).sum(1);  // [M]
  double total = 0.0;
  for (int64_t r0 = 0; r0 < n; r0 += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, n - r0);
    const at::Tensor xc = x.narrow(0, r0, rows);
    // ||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y, clamped at 0 against rounding.
    at::Tensor d2 = torch::addmm(y_sq.unsqueeze(0), xc, y.t(), /*beta=*/1, /*alpha=*/-2);
    d2.add_(xc.pow(2).sum(1, /*keepdim=*/true)).clamp_min_(0.0);
    at::Tensor k = torch::zeros_like(d2);
    for (double b : bandwidths) k.add_(d2.mul(-1.0 / (2.0 * b * b)).exp_());
    if (same) k.narrow(1, r0, rows).diagonal().zero_();
    total += k.sum().item<double>();
  }
  return total;
}

at::Tensor to_cpu_double(const at::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat64).contiguous(); }

}  // namespace

std::vector<double> default_bandwidths(const GaussianMixture& truth) {
  const auto& w = truth.weights();
  const auto& mu = truth.means();
  const auto& sd = truth.stds();
  const auto dim = static_cast<size_t>(truth.dim());
  double s = 0.0;
  std::vector<double> mean(dim, 0.0);
  for (size_t k = 0; k < w.size(); ++k) {
    s += w[k] * sd[k];
    for (size_t d = 0; d < dim; ++d) mean[d] += w[k] * mu[k][d];
  }
  double var = 0.0;
  for (size_t k = 0; k < w.size(); ++k) {
    double dist2 = 0.0;
    for (size_t d = 0; d < dim; ++d) dist2 += (mu[k][d] - mean[d]) * (mu[k][d] - mean[d]);
    var += w[k] * (sd[k] * sd[k] + dist2 / static_cast<double>(dim));
  }
  return {0.5 * s, s, 2.0 * s, std::max(std::sqrt(var), 4.0 * s)};
}

double mmd2_unbiased(const at::Tensor& x_in, const at::Tensor& y_in, const std::vector<double>& bandwidths,
                     int64_t chunk_rows) {
  TORCH_CHECK(x_in.dim() == 2 && y_in.dim() == 2 && x_in.size(1) == y_in.size(1),
              "mmd2_unbiased: expected x [N, D] and y [M, D], got ", x_in.sizes(), " and ", y_in.sizes());
  TORCH_CHECK(x_in.size(0) >= 2 && y_in.size(0) >= 2, "mmd2_unbiased: needs at least 2 rows in each set, got ",
              x_in.size(0), " and ", y_in.size(0));
  TORCH_CHECK(!bandwidths.empty(), "mmd2_unbiased: no bandwidths");
  for (double b : bandwidths) TORCH_CHECK(b > 0 && std::isfinite(b), "mmd2_unbiased: bandwidth must be > 0, got ", b);
  torch::NoGradGuard no_grad;
  const at::Tensor x = to_cpu_double(x_in);
  const at::Tensor y = to_cpu_double(y_in);
  const auto n = static_cast<double>(x.size(0));
  const auto m = static_cast<double>(y.size(0));
  const double kxx = kernel_sum(x, x, bandwidths, true, chunk_rows);
  const double kyy = kernel_sum(y, y, bandwidths, true, chunk_rows);
  const double kxy = kernel_sum(x, y, bandwidths, false, chunk_rows);
  return kxx / (n * (n - 1)) + kyy / (m * (m - 1)) - 2.0 * kxy / (n * m);
}

ToyMetrics compute_toy_metrics(const at::Tensor& samples, const at::Tensor& reference, const GaussianMixture& truth,
                               const std::vector<double>& bandwidths) {
  const int64_t dim = truth.dim();
  TORCH_CHECK(samples.dim() == 2 && samples.size(1) == dim, "compute_toy_metrics: samples must be [N, ", dim,
              "], got ", samples.sizes());
  TORCH_CHECK(reference.dim() == 2 && reference.size(1) == dim, "compute_toy_metrics: reference must be [M, ", dim,
              "], got ", reference.sizes());
  TORCH_CHECK(samples.size(0) >= 1, "compute_toy_metrics: no samples");
  torch::NoGradGuard no_grad;
  const at::Tensor x = to_cpu_double(samples);
  const at::Tensor ref = to_cpu_double(reference);
  TORCH_CHECK(ref.isfinite().all().item<bool>(), "compute_toy_metrics: the reference draws must be finite");
  const std::vector<double> bw = bandwidths.empty() ? default_bandwidths(truth) : bandwidths;

  const at::Tensor finite = x.isfinite().all(1);  // [N]
  const at::Tensor xf = x.index({finite});
  const int64_t n = x.size(0);
  const int64_t nf = xf.size(0);
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

  ToyMetrics out;
  out.nonfinite = n - nf;
  out.mmd2 = nf >= 2 ? mmd2_unbiased(xf, ref, bw) : kNaN;
  out.true_logp = nf >= 1 ? truth.log_prob(xf).mean().item<double>() : kNaN;

  // Distance to each mean in units of that component's std: [Nf, K].
  const at::Tensor mu = truth.means_tensor().to(torch::kFloat64);
  const at::Tensor sd = truth.stds_tensor().to(torch::kFloat64);
  const at::Tensor scaled = torch::cdist(xf, mu) / sd.unsqueeze(0);
  const int64_t k_count = truth.components();
  std::vector<double> counts(static_cast<size_t>(k_count), 0.0);
  int64_t off = out.nonfinite;
  if (nf > 0) {
    const auto [min_dist, nearest] = scaled.min(1);
    const at::Tensor hist = torch::bincount(nearest, /*weights=*/{}, k_count).to(torch::kFloat64);
    for (int64_t k = 0; k < k_count; ++k) counts[static_cast<size_t>(k)] = hist[k].item<double>();
    off += (min_dist > 3.0).sum().item<int64_t>();
  }
  const auto& w = truth.weights();
  double tv = static_cast<double>(out.nonfinite) / static_cast<double>(n);
  for (size_t k = 0; k < counts.size(); ++k) {
    const double w_hat = counts[k] / static_cast<double>(n);
    out.mode_weights.push_back(w_hat);
    tv += std::fabs(w_hat - w[k]);
  }
  out.mode_tv = 0.5 * tv;
  out.off_mode = static_cast<double>(off) / static_cast<double>(n);
  return out;
}

}  // namespace scorelab
