// Offline sample-quality scores on the features of our own classifiers (REFERENCE 5). They use the FID
// and KID formulas but not Inception features, so they are reported as "fd_classifier" / "kid_classifier"
// and are never comparable to published FID / KID; the real-test-vs-real-train value is always reported
// next to them as the floor.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/image_data.h"
#include "eval/classifier.h"

namespace scorelab {

// Frechet distance between N(mu1, S1) and N(mu2, S2) (Dowson & Landau 1982; the FID formula):
//   d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}),
// with Tr (S1 S2)^{1/2} = Tr (S1^{1/2} S2 S1^{1/2})^{1/2} taken from symmetric eigendecompositions in
// float64 (eigenvalues clamped at 0), so no complex square roots arise. mu [F], S [F, F] symmetric PSD.
// The result is clamped at 0 (round-off).
double frechet_distance_gaussian(const at::Tensor& mu1, const at::Tensor& cov1, const at::Tensor& mu2,
                                 const at::Tensor& cov2);

// The same between the Gaussians fitted to two feature sets f1 [N1, F], f2 [N2, F] (N >= 2; sample mean
// and the unbiased covariance, as in FID).
double frechet_distance(const at::Tensor& f1, const at::Tensor& f2);

// Unbiased MMD^2 (Gretton et al. 2012, eq. 3) with the cubic polynomial kernel of KID (Binkowski et al.
// 2018), k(x, y) = (x.y / d + 1)^3, d = feature dimension:
//   1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j).
// x [M, d], y [N, d], M, N >= 2; float64, in row chunks (memory O(chunk * max(M, N))). Can be < 0.
double polynomial_mmd2_unbiased(const at::Tensor& x, const at::Tensor& y);

struct KidResult {
  double mean = 0.0;  // mean of the subset estimates
  double std = 0.0;   // their standard deviation (population std, as torch-fidelity reports)
  int64_t subsets = 0;
  int64_t subset_size = 0;
};

// KID as Binkowski et al. compute it: `subsets` times, draw `subset_size` rows of f1 and of f2 without
// replacement (randperm from `gen`) and take polynomial_mmd2_unbiased; subset_size is clipped to
// min(N1, N2). subsets >= 1, subset_size >= 2 (ConfigError otherwise).
KidResult kid(const at::Tensor& f1, const at::Tensor& f2, at::Generator& gen, int64_t subsets = 100,
              int64_t subset_size = 1000);

// Bootstrap 95% intervals from `resamples` draws of both feature sets with replacement (from `gen`), for the
// two-sample statistics above:
//   fd: the basic (reverse-percentile) interval [2 d - q_97.5, 2 d - q_2.5] (clamped at 0) of frechet_distance
//       over the resamples: FD is biased upwards, more so on a resample with duplicate rows, and a plain
//       percentile interval would sit above the estimate d;
//   kid: the percentile interval (2.5% and 97.5% quantiles) of the full-set unbiased MMD^2, evaluated on a resample from its kernel matrices with every pair of
//        rows that share an original row left out (a duplicated row would otherwise pair with itself and
//        bias the within-set means upwards; a resample made of copies of one row has no pair and is skipped,
//        so `resamples` in the result counts the rest). Sets above `max_rows` rows are first subsampled to max_rows
//        (kernel matrices of max_rows^2 doubles); the interval is then wider than the full set's.
struct Interval {
  double lo = 0.0, hi = 0.0;
  int64_t resamples = 0;
};
Interval bootstrap_fd(const at::Tensor& f1, const at::Tensor& f2, at::Generator& gen, int64_t resamples = 200);
Interval bootstrap_kid(const at::Tensor& f1, const at::Tensor& f2, at::Generator& gen, int64_t resamples = 200,
                       int64_t max_rows = 4096);

// Scores read off the classifier's predictions p(y | x) (softmax of logits [N, K]). Honest names: they
// resemble the Inception Score but use our classifier.
struct ClassifierScores {
  double mean_max_prob = 0.0;       // mean_i max_y p(y | x_i): confidence (high = recognisable samples)
  double mean_entropy = 0.0;        // mean_i H(p(y | x_i)) in nats (low = recognisable samples)
  double marginal_entropy = 0.0;    // H(mean_i p(y | x_i)) in nats (log K = all classes equally present)
  double class_hist_entropy = 0.0;  // entropy of the histogram of argmax classes, nats
  // exp(mean_i KL(p(y | x_i) || p(y))) = exp(marginal_entropy - mean_entropy): the Inception-Score formula on
  // our classifier, in [1, K]. Reported as "classifier_score_exp_kl", never as "IS".
  double exp_mean_kl = 0.0;
  std::vector<int64_t> class_counts;  // argmax histogram, K entries
};
ClassifierScores classifier_scores(const at::Tensor& logits);
nlohmann::json to_json(const ClassifierScores& scores);

struct SampleQualityOptions {
  int64_t kid_subsets = 100;
  int64_t kid_subset_size = 1000;
  int64_t batch_size = 500;          // classifier batch
  int64_t bootstrap = 200;           // --bootstrap resamples for the 95% intervals (0: none)
  std::string classifier_path;       // "" : default_classifier_path(dataset, data_dir)
  void validate() const;             // ConfigError naming --kid-subsets / --kid-subset-size / --batch-size
};

// Scores `samples` [N, C, H, W] (float on the model scale, or uint8 levels) against the test set.
// Float samples are first quantized with to_uint8 (clamp, round, NaN -> grey), as a saved PNG would be;
// the number of samples with a non-finite value is reported. With R = min(N, test size) real images drawn
// without replacement (gen): fd / kid of samples vs R test images, and the floor: R test vs R train
// images (same count). Returns
//   {dataset, classifier_arch, feature_dim, n_samples, n_reference, nonfinite_samples,
//    fd_classifier, fd_classifier_ci95: [lo, hi],
//    kid_classifier: {mean, std, subsets, subset_size, all, ci95: [lo, hi]},
//    floor: {fd_classifier, fd_classifier_ci95, kid_classifier: {...}, what},
// where kid_classifier.mean / std are over random subsets (real subsets when subset_size < N) and `all` is the
// unbiased MMD^2 of all N x R rows, whose percentile-bootstrap interval is ci95 (the intervals: options.bootstrap
// resamples, drawn from `gen` after every other draw, so the point values do not depend on it).
//    classifier_scores: {...}, classifier_scores_real_test: {...}, note}.
nlohmann::json evaluate_sample_quality(ImageClassifier& classifier, const at::Tensor& samples, const ImageDataset& train,
                                       const ImageDataset& test, at::Generator& gen,
                                       const SampleQualityOptions& options = {});

// Convenience: loads the dataset's splits and its classifier (load_or_train_classifier: trains and caches
// one, a few minutes for MNIST, if options.classifier_path / the default cache has none), then scores with
// a generator seeded from `seed`.
nlohmann::json evaluate_sample_quality(const at::Tensor& samples, const std::string& dataset,
                                       const std::string& data_dir = "", uint64_t seed = 0,
                                       const SampleQualityOptions& options = {});

}  // namespace scorelab
