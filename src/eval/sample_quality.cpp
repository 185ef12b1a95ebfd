#include "eval/sample_quality.h"

#include <torch/torch.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/cli.h"
#include "core/error.h"
#include "core/runtime.h"

namespace scorelab {
namespace {

constexpr int64_t kChunkRows = 1024;

Eigen::MatrixXd to_eigen_matrix(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kCPU, torch::kDouble).contiguous();
  Eigen::MatrixXd m(c.size(0), c.size(1));
  // Tensor is row-major; copy through a row-major map.
  m = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(c.data_ptr<double>(), c.size(0),
                                                                                               c.size(1));
  return m;
}

Eigen::VectorXd to_eigen_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kCPU, torch::kDouble).contiguous();
  return Eigen::Map<const Eigen::VectorXd>(c.data_ptr<double>(), c.numel());
}

// sum_{i,j} k(a_i, b_j), k(x, y) = (x.y / d + 1)^3, minus the diagonal when `same` (a == b).
double kernel_sum(const at::Tensor& a, const at::Tensor& b, bool same) {
  const double d = static_cast<double>(a.size(1));
  double total = 0.0;
  for (int64_t i = 0; i < a.size(0); i += kChunkRows) {
    const at::Tensor rows = a.slice(0, i, std::min(i + kChunkRows, a.size(0)));
    const at::Tensor k = (rows.matmul(b.t()) / d + 1.0).pow(3);
    total += k.sum().item<double>();
    if (same) total -= k.diagonal(i).sum().item<double>();
  }
  return total;
}

void check_features(const at::Tensor& f1, const at::Tensor& f2, const char* what) {
  TORCH_CHECK(f1.dim() == 2 && f2.dim() == 2, what, ": features must be [N, F], got ", f1.sizes(), " and ", f2.sizes());
  TORCH_CHECK(f1.size(1) == f2.size(1), what, ": feature dimensions differ: ", f1.size(1), " vs ", f2.size(1));
  TORCH_CHECK(f1.size(0) >= 2 && f2.size(0) >= 2, what, ": need at least 2 rows per set, got ", f1.size(0), " and ",
              f2.size(0));
  TORCH_CHECK(f1.size(1) >= 1, what, ": empty feature dimension");
}

nlohmann::json kid_json(const KidResult& k) {
  return {{"mean", k.mean}, {"std", k.std}, {"subsets", k.subsets}, {"subset_size", k.subset_size}};
}

}  // namespace

double frechet_distance_gaussian(const at::Tensor& mu1, const at::Tensor& cov1, const at::Tensor& mu2,
                                 const at::Tensor& cov2) {
  TORCH_CHECK(mu1.dim() == 1 && mu2.dim() == 1 && mu1.size(0) == mu2.size(0), "frechet_distance: means must be [F] of "
              "equal size, got ", mu1.sizes(), " and ", mu2.sizes());
  const int64_t f = mu1.size(0);
  TORCH_CHECK(cov1.dim() == 2 && cov2.dim() == 2 && cov1.size(0) == f && cov1.size(1) == f && cov2.size(0) == f &&
                  cov2.size(1) == f,
              "frechet_distance: covariances must be [", f, ", ", f, "], got ", cov1.sizes(), " and ", cov2.sizes());
  const Eigen::VectorXd m1 = to_eigen_vector(mu1), m2 = to_eigen_vector(mu2);
  Eigen::MatrixXd s1 = to_eigen_matrix(cov1), s2 = to_eigen_matrix(cov2);
  TORCH_CHECK(s1.allFinite() && s2.allFinite() && m1.allFinite() && m2.allFinite(),
              "frechet_distance: non-finite mean or covariance");
  s1 = 0.5 * (s1 + s1.transpose());
  s2 = 0.5 * (s2 + s2.transpose());
  // S1^{1/2} = V diag(sqrt(max(l, 0))) V^T.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig1(s1);
  const Eigen::VectorXd root = eig1.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  const Eigen::MatrixXd s1_half = eig1.eigenvectors() * root.asDiagonal() * eig1.eigenvectors().transpose();
  Eigen::MatrixXd m = s1_half * s2 * s1_half;
  m = 0.5 * (m + m.transpose());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig_m(m, Eigen::EigenvaluesOnly);
  const double tr_sqrt = eig_m.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  const double d2 = (m1 - m2).squaredNorm() + s1.trace() + s2.trace() - 2.0 * tr_sqrt;
  return std::max(0.0, d2);
}

double frechet_distance(const at::Tensor& f1, const at::Tensor& f2) {
  check_features(f1, f2, "frechet_distance");
  auto stats = [](const at::Tensor& f) {
    const at::Tensor x = f.to(torch::kCPU, torch::kDouble);
    const at::Tensor mu = x.mean(0);
    const at::Tensor c = x - mu;
    return std::make_pair(mu, c.t().matmul(c) / static_cast<double>(x.size(0) - 1));
  };
  const auto [mu1, s1] = stats(f1);
  const auto [mu2, s2] = stats(f2);
  return frechet_distance_gaussian(mu1, s1, mu2, s2);
}

double polynomial_mmd2_unbiased(const at::Tensor& x, const at::Tensor& y) {
  check_features(x, y, "polynomial_mmd2_unbiased");
  const at::Tensor a = x.to(torch::kCPU, torch::kDouble).contiguous();
  const at::Tensor b = y.to(torch::kCPU, torch::kDouble).contiguous();
  const double m = static_cast<double>(a.size(0)), n = static_cast<double>(b.size(0));
  return kernel_sum(a, a, true) / (m * (m - 1.0)) + kernel_sum(b, b, true) / (n * (n - 1.0)) -
         2.0 * kernel_sum(a, b, false) / (m * n);
}

KidResult kid(const at::Tensor& f1, const at::Tensor& f2, at::Generator& gen, int64_t subsets, int64_t subset_size) {
  check_features(f1, f2, "kid");
  if (subsets < 1) throw ConfigError(flag_error("--kid-subsets", std::to_string(subsets), "an integer >= 1"));
  if (subset_size < 2) throw ConfigError(flag_error("--kid-subset-size", std::to_string(subset_size), "an integer >= 2"));
  const at::Tensor a = f1.to(torch::kCPU, torch::kDouble);
  const at::Tensor b = f2.to(torch::kCPU, torch::kDouble);
  KidResult r;
  r.subsets = subsets;
  r.subset_size = std::min({subset_size, a.size(0), b.size(0)});
  std::vector<double> values;
  for (int64_t s = 0; s < subsets; ++s) {
    const at::Tensor ia = torch::randperm(a.size(0), gen, torch::kLong).slice(0, 0, r.subset_size);
    const at::Tensor ib = torch::randperm(b.size(0), gen, torch::kLong).slice(0, 0, r.subset_size);
    values.push_back(polynomial_mmd2_unbiased(a.index_select(0, ia), b.index_select(0, ib)));
  }
  double sum = 0.0;
  for (double v : values) sum += v;
  r.mean = sum / static_cast<double>(values.size());
  double sq = 0.0;
  for (double v : values) sq += (v - r.mean) * (v - r.mean);
  r.std = std::sqrt(sq / static_cast<double>(values.size()));
  return r;
}

namespace {
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  const size_t j = std::min(i + 1, v.size() - 1);
  return v[i] + (pos - static_cast<double>(i)) * (v[j] - v[i]);
}
Interval percentile_interval(const std::vector<double>& values) {
  Interval r;
  r.resamples = static_cast<int64_t>(values.size());
  if (values.empty()) return r;
  r.lo = quantile(values, 0.025);
  r.hi = quantile(values, 0.975);
  return r;
}
void check_resamples(int64_t resamples) {
  if (resamples < 1) throw ConfigError(flag_error("--bootstrap", std::to_string(resamples), "an integer >= 1 (0: no intervals)"));
}
// KID's kernel k(x, y) = (x.y / d + 1)^3 between the rows of a and b, float64.
at::Tensor poly_kernel(const at::Tensor& a, const at::Tensor& b) {
  return (a.matmul(b.t()) / static_cast<double>(a.size(1)) + 1.0).pow(3);
}
}  // namespace

Interval bootstrap_fd(const at::Tensor& f1, const at::Tensor& f2, at::Generator& gen, int64_t resamples) {
  check_features(f1, f2, "bootstrap_fd");
  check_resamples(resamples);
  const at::Tensor a = f1.to(torch::kCPU, torch::kDouble), b = f2.to(torch::kCPU, torch::kDouble);
  std::vector<double> values;
  for (int64_t r = 0; r < resamples; ++r) {
    const at::Tensor ia = torch::randint(a.size(0), {a.size(0)}, gen, torch::kLong);
    const at::Tensor ib = torch::randint(b.size(0), {b.size(0)}, gen, torch::kLong);
    values.push_back(frechet_distance(a.index_select(0, ia), b.index_select(0, ib)));
  }
  // The basic (reverse-percentile) interval 2 d - q_97.5 .. 2 d - q_2.5: FD is biased upwards and a resample
  // (with duplicate rows) more so, which would shift a percentile interval above the estimate.
  const Interval p = percentile_interval(values);
  const double d = frechet_distance(a, b);
  Interval r = p;
  r.lo = std::max(0.0, 2.0 * d - p.hi);
  r.hi = std::max(0.0, 2.0 * d - p.lo);
  return r;
}

Interval bootstrap_kid(const at::Tensor& f1, const at::Tensor& f2, at::Generator& gen, int64_t resamples,
                       int64_t max_rows) {
  check_features(f1, f2, "bootstrap_kid");
  check_resamples(resamples);
  TORCH_CHECK(max_rows >= 2, "bootstrap_kid: max_rows must be >= 2");
  at::Tensor a = f1.to(torch::kCPU, torch::kDouble), b = f2.to(torch::kCPU, torch::kDouble);
  if (a.size(0) > max_rows) a = a.index_select(0, torch::randperm(a.size(0), gen, torch::kLong).slice(0, 0, max_rows));
  if (b.size(0) > max_rows) b = b.index_select(0, torch::randperm(b.size(0), gen, torch::kLong).slice(0, 0, max_rows));
  const int64_t m = a.size(0), n = b.size(0);
  const at::Tensor kaa = poly_kernel(a, a), kbb = poly_kernel(b, b), kab = poly_kernel(a, b);
  const at::Tensor daa = kaa.diagonal(), dbb = kbb.diagonal();
  // With counts c (how often each original row was drawn), the pairs of drawn rows with different originals
  // sum to c' K c - sum_i c_i^2 K_ii, and there are (sum c)^2 - sum c_i^2 of them.
  auto pairs = [](const at::Tensor& c) { return c.sum().item<double>() * c.sum().item<double>() - c.pow(2).sum().item<double>(); };
  auto within = [&](const at::Tensor& k, const at::Tensor& d, const at::Tensor& c) {
    return (c.matmul(k.matmul(c)).item<double>() - (c.pow(2) * d).sum().item<double>()) / pairs(c);
  };
  std::vector<double> values;
  for (int64_t r = 0; r < resamples; ++r) {
    const at::Tensor ca = torch::bincount(torch::randint(m, {m}, gen, torch::kLong), {}, m).to(torch::kDouble);
    const at::Tensor cb = torch::bincount(torch::randint(n, {n}, gen, torch::kLong), {}, n).to(torch::kDouble);
    // A resample of one original row only (likely only for a handful of rows) has no pair: skipped.
    if (pairs(ca) <= 0.0 || pairs(cb) <= 0.0) continue;
    const double cross = ca.matmul(kab.matmul(cb)).item<double>() / (static_cast<double>(m) * static_cast<double>(n));
    values.push_back(within(kaa, daa, ca) + within(kbb, dbb, cb) - 2.0 * cross);
  }
  return percentile_interval(values);
}

ClassifierScores classifier_scores(const at::Tensor& logits) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) >= 1 && logits.size(1) >= 2,
              "classifier_scores: logits must be [N >= 1, K >= 2], got ", logits.sizes());
  const at::Tensor lp = torch::log_softmax(logits.to(torch::kCPU, torch::kDouble), 1);
  const at::Tensor p = lp.exp();
  ClassifierScores s;
  s.mean_max_prob = p.amax(1).mean().item<double>();
  // 0 log 0 = 0: p * log p with p = 0 gives 0 * (-inf) = NaN, so use xlogy-style masking.
  const at::Tensor plogp = torch::where(p > 0, p * lp, torch::zeros_like(p));
  s.mean_entropy = -plogp.sum(1).mean().item<double>();
  const at::Tensor marginal = p.mean(0);
  s.marginal_entropy = -torch::where(marginal > 0, marginal * marginal.log(), torch::zeros_like(marginal)).sum().item<double>();
  const at::Tensor counts = torch::bincount(p.argmax(1), {}, logits.size(1));
  const at::Tensor freq = counts.to(torch::kDouble) / static_cast<double>(logits.size(0));
  s.class_hist_entropy = -torch::where(freq > 0, freq * freq.log(), torch::zeros_like(freq)).sum().item<double>();
  // mean_i KL(p_i || marginal) = H(marginal) - mean_i H(p_i).
  s.exp_mean_kl = std::exp(std::max(0.0, s.marginal_entropy - s.mean_entropy));
  const at::Tensor c = counts.to(torch::kLong).contiguous();
  s.class_counts.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  return s;
}

nlohmann::json to_json(const ClassifierScores& s) {
  return {{"mean_max_prob", s.mean_max_prob},
          {"mean_entropy_nats", s.mean_entropy},
          {"marginal_entropy_nats", s.marginal_entropy},
          {"class_hist_entropy_nats", s.class_hist_entropy},
          {"classifier_score_exp_kl", s.exp_mean_kl},
          {"class_counts", s.class_counts}};
}

void SampleQualityOptions::validate() const {
  if (kid_subsets < 1) throw ConfigError(flag_error("--kid-subsets", std::to_string(kid_subsets), "an integer >= 1"));
  if (kid_subset_size < 2)
    throw ConfigError(flag_error("--kid-subset-size", std::to_string(kid_subset_size), "an integer >= 2"));
  if (batch_size < 1) throw ConfigError(flag_error("--batch-size", std::to_string(batch_size), "an integer >= 1"));
  if (bootstrap < 0) throw ConfigError(flag_error("--bootstrap", std::to_string(bootstrap), "an integer >= 0 (0: no intervals)"));
}

nlohmann::json evaluate_sample_quality(ImageClassifier& classifier, const at::Tensor& samples, const ImageDataset& train,
                                       const ImageDataset& test, at::Generator& gen, const SampleQualityOptions& options) {
  options.validate();
  if (classifier_arch_for(test.name) != classifier->arch() || train.name != test.name)
    throw ConfigError("evaluate_sample_quality: a '" + classifier->arch() + "' classifier cannot score '" + test.name +
                      "' data (train split '" + train.name + "')");
  TORCH_CHECK(samples.dim() == 4 && samples.sizes().slice(1) == test.images.sizes().slice(1),
              "evaluate_sample_quality: samples must be [N, ", test.images.size(1), ", ", test.images.size(2), ", ",
              test.images.size(3), "] like the ", test.name, " images, got ", samples.sizes());
  const int64_t n = samples.size(0);
  TORCH_CHECK(n >= 2, "evaluate_sample_quality: need at least 2 samples, got ", n);
  int64_t nonfinite = 0;
  at::Tensor levels = samples;
  if (samples.scalar_type() != torch::kUInt8) {
    TORCH_CHECK(samples.is_floating_point(), "evaluate_sample_quality: samples must be float or uint8, got ",
                samples.scalar_type());
    nonfinite = (~torch::isfinite(samples)).flatten(1).any(1).sum().item<int64_t>();
    levels = to_uint8(samples);
  }
  const int64_t r = std::min({n, test.images.size(0), train.images.size(0)});
  const at::Tensor test_idx = torch::randperm(test.images.size(0), gen, torch::kLong).slice(0, 0, r);
  const at::Tensor train_idx = torch::randperm(train.images.size(0), gen, torch::kLong).slice(0, 0, r);
  const at::Tensor test_images = test.images.index_select(0, test_idx);
  const at::Tensor train_images = train.images.index_select(0, train_idx);

  const at::Tensor f_samples = classifier_features(classifier, levels, options.batch_size);
  const at::Tensor f_test = classifier_features(classifier, test_images, options.batch_size);
  const at::Tensor f_train = classifier_features(classifier, train_images, options.batch_size);
  const double fd = frechet_distance(f_samples, f_test);
  const KidResult k = kid(f_samples, f_test, gen, options.kid_subsets, options.kid_subset_size);
  const double fd_floor = frechet_distance(f_test, f_train);
  const KidResult k_floor = kid(f_test, f_train, gen, options.kid_subsets, options.kid_subset_size);
  ClassifierScores s_samples, s_test;
  {
    torch::NoGradGuard no_grad;
    const c10::Device device = classifier->parameters().front().device();
    s_samples = classifier_scores(classifier->classify(f_samples.to(device)));
    s_test = classifier_scores(classifier->classify(f_test.to(device)));
  }
  nlohmann::json kid_samples = kid_json(k), kid_floor = kid_json(k_floor);
  kid_samples["all"] = polynomial_mmd2_unbiased(f_samples, f_test);
  kid_floor["all"] = polynomial_mmd2_unbiased(f_test, f_train);
  nlohmann::json fd_ci = nullptr, fd_floor_ci = nullptr;
  if (options.bootstrap > 0) {  // after every other draw from gen: the point values above do not depend on it
    // null when no resample was usable (a handful of identical rows)
    auto pair = [](const Interval& i) {
      return i.resamples > 0 ? nlohmann::json::array({i.lo, i.hi}) : nlohmann::json(nullptr);
    };
    fd_ci = pair(bootstrap_fd(f_samples, f_test, gen, options.bootstrap));
    const Interval ks = bootstrap_kid(f_samples, f_test, gen, options.bootstrap);
    fd_floor_ci = pair(bootstrap_fd(f_test, f_train, gen, options.bootstrap));
    const Interval kf = bootstrap_kid(f_test, f_train, gen, options.bootstrap);
    kid_samples["ci95"] = pair(ks);
    kid_samples["ci95_resamples"] = ks.resamples;
    kid_floor["ci95"] = pair(kf);
    kid_floor["ci95_resamples"] = kf.resamples;
  }
  return {{"dataset", test.name},
          {"classifier_arch", classifier->arch()},
          {"feature_dim", classifier->feature_dim()},
          {"n_samples", n},
          {"n_reference", r},
          {"nonfinite_samples", nonfinite},
          {"fd_classifier", fd},
          {"fd_classifier_ci95", fd_ci},
          {"kid_classifier", kid_samples},
          {"floor",
           {{"fd_classifier", fd_floor},
            {"fd_classifier_ci95", fd_floor_ci},
            {"kid_classifier", kid_floor},
            {"what", "real test vs real train images, " + std::to_string(r) + " each"}}},
          {"classifier_scores", to_json(s_samples)},
          {"classifier_scores_real_test", to_json(s_test)},
          {"note", "Frechet distance and KID on the penultimate features of scorelab's own " + classifier->arch() +
                       " classifier, not Inception: not comparable to published FID / KID"}};
}

nlohmann::json evaluate_sample_quality(const at::Tensor& samples, const std::string& dataset, const std::string& data_dir,
                                       uint64_t seed, const SampleQualityOptions& options) {
  options.validate();
  ImageClassifier classifier = load_or_train_classifier(dataset, data_dir, options.classifier_path, seed);
  const ImageDataset train = load_image_dataset(dataset, "train", data_dir);
  const ImageDataset test = load_image_dataset(dataset, "test", data_dir);
  at::Generator gen = make_generator(derive_seed(seed, "sample-quality"));
  return evaluate_sample_quality(classifier, samples, train, test, gen, options);
}

}  // namespace scorelab
