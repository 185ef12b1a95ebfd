// Exact-truth metrics for the 1-D / 2-D mixture toys (REFERENCE 5: "for the 2-D toys, everything is
// exact"): kernel MMD against exact draws, mode weights by nearest mode, off-mode mass, true log-density.
#pragma once
#include <nlohmann/json.hpp>
#include <ATen/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "data/mixture.h"

namespace scorelab {

struct ToyMetrics {
  // Unbiased MMD^2 (Gretton et al. 2012, eq. 3) between the finite samples and the reference,
  // kernel k(x, y) = sum_b exp(-||x - y||^2 / (2 b^2)). Can be slightly negative; NaN if < 2 finite samples.
  double mmd2 = 0.0;
  // Total variation between estimated and true mode weights, 0.5 sum_k |w_hat_k - w_k|, with the
  // non-finite samples as one extra category of true weight 0 (so it is a proper TV in [0, 1]).
  double mode_tv = 0.0;
  // Fraction of samples with ||x - mu_k|| > 3 std_k for every component k (non-finite rows included).
  double off_mode = 0.0;
  // Mean of truth.log_prob over the finite samples (nats); NaN if none is finite.
  double true_logp = 0.0;
  // w_hat_k: fraction of all N samples whose nearest mode (smallest ||x - mu_k|| / std_k) is k.
  // Non-finite rows belong to no mode, so these sum to 1 - nonfinite / N.
  std::vector<double> mode_weights;
  // Rows with a NaN or infinite coordinate: counted here, off-mode, and left out of mmd2 / true_logp.
  int64_t nonfinite = 0;
};

// Fixed bandwidths scaled to the mixture, independent of any samples: with s = sum_k w_k std_k
// (mean component std) and S the mixture's overall per-dimension std,
// sqrt(sum_k w_k (std_k^2 + ||mu_k - mu||^2 / D)), returns {0.5 s, s, 2 s, max(S, 4 s)}: the first
// three resolve the shape of each mode, the last the placement of mass between modes.
std::vector<double> default_bandwidths(const GaussianMixture& truth);

// samples [N, D] and reference [M, D] (exact draws from `truth`, all finite, M >= 2) of any float
// dtype / device; computed on CPU in float64. The kernel sums are taken in row chunks so that no
// more than ~256K pairwise entries exist at once (three reused 2 MB buffers, whatever N and M).
// `bandwidths` empty: default_bandwidths(truth); otherwise every entry must be > 0.
ToyMetrics compute_toy_metrics(const at::Tensor& samples, const at::Tensor& reference, const GaussianMixture& truth,
                               const std::vector<double>& bandwidths = {});

// The unbiased MMD^2 alone, x [N, D] and y [M, D] finite, N, M >= 2; `chunk_rows` > 0 fixes the
// row-chunk size (0: chosen from the memory budget above). Exposed for tests and other toy reports.
double mmd2_unbiased(const at::Tensor& x, const at::Tensor& y, const std::vector<double>& bandwidths,
                     int64_t chunk_rows = 0);

// A score model against the exact score of the mixture smoothed by N(0, sigma^2 I), over n exact draws
// x ~ p_sigma from `gen`: mse = E ||s(x, sigma) - grad log p_sigma(x)||^2 (the Fisher divergence) and
// fisher = E ||grad log p_sigma(x)||^2 (the Fisher information), in float64.
struct ScoreError {
  double mse = 0.0, fisher = 0.0;
  double relative() const { return mse / fisher; }
};
ScoreError score_error(const GaussianMixture& truth, const std::function<at::Tensor(const at::Tensor&, double)>& score,
                       double sigma, int64_t n, at::Generator& gen);

// {"mmd2", "mode_tv", "off_mode", "true_logp", "mode_weights", "nonfinite"}: the keys of metrics.json.
nlohmann::json toy_metrics_json(const ToyMetrics& m);

}  // namespace scorelab
