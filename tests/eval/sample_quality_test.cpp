#include "eval/sample_quality.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/runtime.h"

namespace scorelab {
namespace {

at::Tensor gaussian(int64_t n, const at::Tensor& mean, const at::Tensor& std, at::Generator& gen) {
  return torch::randn({n, mean.size(0)}, gen, torch::kDouble) * std + mean;
}

TEST(FrechetDistance, SetWithItselfIsZero) {
  at::Generator gen = make_generator(1);
  const at::Tensor f = torch::randn({300, 16}, gen, torch::kDouble) * 3.0 + 1.0;
  EXPECT_NEAR(frechet_distance(f, f), 0.0, 1e-6);
  // float32 features as the classifier returns them.
  EXPECT_NEAR(frechet_distance(f.to(torch::kFloat), f.to(torch::kFloat)), 0.0, 1e-6);
}

TEST(FrechetDistance, NonCommutingTwoByTwoMatchesClosedForm) {
  // For 2x2 SPD A, B: the eigenvalues of AB are positive and Tr (AB)^{1/2} = sqrt(Tr(AB) + 2 sqrt(det A det B)).
  const at::Tensor s1 = torch::tensor({{2.0, 0.6}, {0.6, 1.0}}, torch::kDouble);
  const at::Tensor s2 = torch::tensor({{0.5, -0.3}, {-0.3, 3.0}}, torch::kDouble);
  const at::Tensor mu1 = torch::tensor({1.0, -2.0}, torch::kDouble);
  const at::Tensor mu2 = torch::tensor({0.5, 0.5}, torch::kDouble);
  const double tr_ab = s1.matmul(s2).trace().item<double>();
  const double det = torch::det(s1).item<double>() * torch::det(s2).item<double>();
  const double expected = (mu1 - mu2).pow(2).sum().item<double>() + s1.trace().item<double>() +
                          s2.trace().item<double>() - 2.0 * std::sqrt(tr_ab + 2.0 * std::sqrt(det));
  EXPECT_NEAR(frechet_distance_gaussian(mu1, s1, mu2, s2), expected, 1e-10);
  // Symmetric in its arguments although S1^{1/2} S2 S1^{1/2} is not.
  EXPECT_NEAR(frechet_distance_gaussian(mu2, s2, mu1, s1), expected, 1e-10);
}

TEST(FrechetDistance, SampledDiagonalGaussiansMatchClosedForm) {
  // Diagonal covariances a, b: d^2 = ||mu1 - mu2||^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
  at::Generator gen = make_generator(2);
  const at::Tensor mu1 = torch::tensor({0.0, 1.0, -1.0, 2.0}, torch::kDouble);
  const at::Tensor mu2 = torch::tensor({0.5, 1.0, 0.0, 2.0}, torch::kDouble);
  const at::Tensor sd1 = torch::tensor({1.0, 2.0, 0.5, 1.0}, torch::kDouble);
  const at::Tensor sd2 = torch::tensor({1.0, 1.0, 1.5, 0.5}, torch::kDouble);
  const double exact = (mu1 - mu2).pow(2).sum().item<double>() + (sd1 - sd2).pow(2).sum().item<double>();  // 3.5
  EXPECT_NEAR(frechet_distance_gaussian(mu1, torch::diag(sd1.pow(2)), mu2, torch::diag(sd2.pow(2))), exact, 1e-12);
  // A random rotation of both sets leaves the distance unchanged.
  const at::Tensor rot = std::get<0>(torch::linalg::qr(torch::randn({4, 4}, gen, torch::kDouble)));
  const at::Tensor x = gaussian(20000, mu1, sd1, gen).matmul(rot);
  const at::Tensor y = gaussian(20000, mu2, sd2, gen).matmul(rot);
  // Sampling error of the moments at N = 20000 is ~1e-2 here.
  EXPECT_NEAR(frechet_distance(x, y), exact, 0.06);
}

// The V-statistic (diagonal terms included): biased upwards, used to show the test can tell the difference.
double polynomial_mmd2_biased(const at::Tensor& x, const at::Tensor& y) {
  const double d = static_cast<double>(x.size(1));
  auto k = [d](const at::Tensor& a, const at::Tensor& b) { return (a.matmul(b.t()) / d + 1.0).pow(3).mean().item<double>(); };
  return k(x, x) + k(y, y) - 2.0 * k(x, y);
}

TEST(Kid, MatchesNaiveDoubleLoop) {
  at::Generator gen = make_generator(3);
  const at::Tensor x = torch::randn({5, 3}, gen, torch::kDouble);
  const at::Tensor y = torch::randn({4, 3}, gen, torch::kDouble) + 0.5;
  auto k = [](const at::Tensor& a, const at::Tensor& b) { return std::pow(a.dot(b).item<double>() / 3.0 + 1.0, 3); };
  double xx = 0, yy = 0, xy = 0;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j)
      if (i != j) xx += k(x[i], x[j]);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      if (i != j) yy += k(y[i], y[j]);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) xy += k(x[i], y[j]);
  const double expected = xx / 20.0 + yy / 12.0 - 2.0 * xy / 20.0;
  EXPECT_NEAR(polynomial_mmd2_unbiased(x, y), expected, 1e-10);
  // One subset of the full size is the full estimate.
  const KidResult r = kid(x, y, gen, 1, 100);
  EXPECT_EQ(r.subset_size, 4);
  EXPECT_EQ(r.subsets, 1);
  EXPECT_DOUBLE_EQ(r.std, 0.0);
}

TEST(Kid, UnbiasedForEqualDistributionsPositiveForShifted) {
  at::Generator gen = make_generator(4);
  constexpr int kDraws = 400;
  const at::Tensor mean = torch::zeros({4}, torch::kDouble);
  const at::Tensor sd = torch::ones({4}, torch::kDouble);
  std::vector<double> unbiased, biased;
  for (int i = 0; i < kDraws; ++i) {
    const at::Tensor x = gaussian(20, mean, sd, gen), y = gaussian(20, mean, sd, gen);
    unbiased.push_back(polynomial_mmd2_unbiased(x, y));
    biased.push_back(polynomial_mmd2_biased(x, y));
  }
  const at::Tensor u = torch::tensor(unbiased, torch::kDouble), b = torch::tensor(biased, torch::kDouble);
  const double se = u.std().item<double>() / std::sqrt(static_cast<double>(kDraws));
  // Unbiased: the mean over draws is 0 within 3 standard errors (a fixed seed; ~0.3% flake rate by chance
  // for a fresh seed). The biased V-statistic is far above 0 with the same data.
  EXPECT_LT(std::abs(u.mean().item<double>()), 3.0 * se) << "mean " << u.mean().item<double>() << " se " << se;
  EXPECT_GT(b.mean().item<double>(), 10.0 * se);
  // A mean shift of 1 in every coordinate: KID well above its subset spread.
  const at::Tensor x = gaussian(400, mean, sd, gen), y = gaussian(400, mean + 1.0, sd, gen);
  const KidResult shifted = kid(x, y, gen, 20, 100);
  EXPECT_GT(shifted.mean, 0.5);
  EXPECT_GT(shifted.mean, 5.0 * shifted.std);
  const KidResult same = kid(x, gaussian(400, mean, sd, gen), gen, 20, 100);
  EXPECT_LT(std::abs(same.mean), 0.1 * shifted.mean);
}

TEST(SampleQuality, BadShapesThrow) {
  at::Generator gen = make_generator(5);
  const at::Tensor a = torch::randn({10, 3});
  EXPECT_THROW(frechet_distance(a, torch::randn({10, 4})), c10::Error);
  EXPECT_THROW(frechet_distance(a, torch::randn({1, 3})), c10::Error);
  EXPECT_THROW(frechet_distance(torch::randn({10}), a), c10::Error);
  EXPECT_THROW(polynomial_mmd2_unbiased(a, torch::randn({10, 2})), c10::Error);
  EXPECT_THROW(frechet_distance_gaussian(torch::zeros({3}), torch::eye(3), torch::zeros({2}), torch::eye(2)), c10::Error);
  EXPECT_THROW(kid(a, a, gen, 0, 10), ConfigError);
  EXPECT_THROW(kid(a, a, gen, 10, 1), ConfigError);
  EXPECT_THROW(classifier_scores(torch::randn({4})), c10::Error);
}

TEST(ClassifierScoresTest, UniformAndConfidentPredictions) {
  const ClassifierScores uniform = classifier_scores(torch::zeros({30, 10}));
  EXPECT_NEAR(uniform.mean_max_prob, 0.1, 1e-12);
  EXPECT_NEAR(uniform.mean_entropy, std::log(10.0), 1e-12);
  EXPECT_NEAR(uniform.marginal_entropy, std::log(10.0), 1e-12);
  EXPECT_NEAR(uniform.exp_mean_kl, 1.0, 1e-9);
  // Certain predictions, every class 3 times: the Inception-Score formula reaches its maximum K.
  const at::Tensor labels = torch::arange(30, torch::kLong) % 10;
  const at::Tensor confident = torch::one_hot(labels, 10).to(torch::kDouble) * 1000.0;
  const ClassifierScores s = classifier_scores(confident);
  EXPECT_NEAR(s.mean_max_prob, 1.0, 1e-12);
  EXPECT_NEAR(s.mean_entropy, 0.0, 1e-9);
  EXPECT_NEAR(s.exp_mean_kl, 10.0, 1e-6);
  EXPECT_NEAR(s.class_hist_entropy, std::log(10.0), 1e-12);
  EXPECT_EQ(s.class_counts, std::vector<int64_t>(10, 3));
  // All one class: the marginal has no entropy, so exp KL = 1 although each prediction is certain.
  const ClassifierScores collapsed = classifier_scores(torch::one_hot(torch::zeros({30}, torch::kLong), 10).to(torch::kDouble) * 1000.0);
  EXPECT_NEAR(collapsed.exp_mean_kl, 1.0, 1e-6);
  EXPECT_NEAR(collapsed.class_hist_entropy, 0.0, 1e-12);
}

ImageDataset synthetic_mnist(int64_t n, at::Generator& gen) {
  // Blobs of a few shapes on a black background, as uint8 images.
  at::Tensor images = torch::zeros({n, 1, 28, 28}, torch::kUInt8);
  const at::Tensor labels = torch::randint(0, 10, {n}, gen, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = labels[i].item<int64_t>();
    images[i].slice(1, 2 + c, 12 + c).slice(2, 4 + c, 16).fill_(255);
  }
  return {images, labels, "mnist"};
}

TEST(SampleQuality, EvaluateReportsHonestNamesAndFloor) {
  at::Generator gen = make_generator(6);
  seed_module_init(6);
  ImageClassifier clf = make_classifier("mnist");
  const ImageDataset train = synthetic_mnist(120, gen), test = synthetic_mnist(100, gen);
  SampleQualityOptions opts;
  opts.kid_subsets = 5;
  opts.kid_subset_size = 50;
  // "Samples" drawn like the data score near the floor; uniform noise scores far worse.
  const at::Tensor good = to_model_range(synthetic_mnist(60, gen).images);
  const at::Tensor noise = torch::rand({60, 1, 28, 28}, gen) * 2.0 - 1.0;
  const nlohmann::json g = evaluate_sample_quality(clf, good, train, test, gen, opts);
  const nlohmann::json b = evaluate_sample_quality(clf, noise, train, test, gen, opts);
  for (const auto* key : {"fd_classifier", "kid_classifier", "floor", "classifier_scores", "classifier_scores_real_test", "note"})
    EXPECT_TRUE(g.contains(key)) << key;
  for (const auto& item : g.items()) EXPECT_EQ(item.key().find("fid"), std::string::npos) << item.key();
  EXPECT_EQ(g["n_samples"], 60);
  EXPECT_EQ(g["n_reference"], 60);
  EXPECT_EQ(g["nonfinite_samples"], 0);
  EXPECT_EQ(g["kid_classifier"]["subset_size"], 50);
  EXPECT_GT(b["fd_classifier"].get<double>(), 10.0 * g["fd_classifier"].get<double>());
  EXPECT_GT(b["kid_classifier"]["mean"].get<double>(), g["kid_classifier"]["mean"].get<double>());
  EXPECT_LT(g["floor"]["fd_classifier"].get<double>(), 0.5 * b["fd_classifier"].get<double>());
  // NaN samples are counted (and scored as grey images), not propagated.
  at::Tensor with_nan = good.clone();
  with_nan[3][0][0][0] = std::nan("");
  const nlohmann::json n = evaluate_sample_quality(clf, with_nan, train, test, gen, opts);
  EXPECT_EQ(n["nonfinite_samples"], 1);
  EXPECT_TRUE(std::isfinite(n["fd_classifier"].get<double>()));
  // Wrong image shape or a classifier of another dataset.
  EXPECT_THROW(evaluate_sample_quality(clf, torch::zeros({4, 3, 32, 32}), train, test, gen, opts), c10::Error);
  ImageDataset cifar_like{torch::zeros({4, 3, 32, 32}, torch::kUInt8), torch::zeros({4}, torch::kLong), "cifar10"};
  EXPECT_THROW(evaluate_sample_quality(clf, good, cifar_like, cifar_like, gen, opts), ConfigError);
}

// With the cached MNIST classifier (apps/classifier or load_or_train_classifier; data/classifiers/mnist):
// smoothing noise of growing sigma (REFERENCE 1) moves the scores monotonically away from the floor.
TEST(SampleQualityReal, MnistScoresGrowWithCorruption) {
  const std::string cache = default_classifier_path("mnist");
  if (!std::filesystem::exists(cache)) GTEST_SKIP() << "no cached classifier at " << cache << "; run build/apps/classifier";
  ImageClassifier clf = load_classifier(cache, "mnist");
  const ImageDataset train = load_image_dataset("mnist", "train");
  const ImageDataset test = load_image_dataset("mnist", "test");
  at::Generator gen = make_generator(8);
  SampleQualityOptions opts;
  opts.kid_subsets = 10;
  opts.kid_subset_size = 200;
  const at::Tensor clean = to_model_range(train.images.slice(0, 10000, 10300));
  std::vector<double> fd, kid_mean;
  for (double sigma : {0.0, 0.2, 0.6}) {
    const at::Tensor x = clean + sigma * torch::randn(clean.sizes(), gen);
    const nlohmann::json r = evaluate_sample_quality(clf, x, train, test, gen, opts);
    fd.push_back(r["fd_classifier"].get<double>());
    kid_mean.push_back(r["kid_classifier"]["mean"].get<double>());
    if (sigma == 0.0) {
      // Real training images score like the floor (both compare 300 real images with the test set).
      const double floor = r["floor"]["fd_classifier"].get<double>();
      EXPECT_LT(fd.back(), 2.0 * floor + 1e-3) << "floor " << floor;
      EXPECT_GT(r["classifier_scores"]["mean_max_prob"].get<double>(), 0.97);
    }
  }
  for (size_t i = 1; i < fd.size(); ++i) {
    EXPECT_GT(fd[i], fd[i - 1]) << "sigma index " << i;
    EXPECT_GT(kid_mean[i], kid_mean[i - 1]) << "sigma index " << i;
  }
  RecordProperty("fd_by_sigma", std::to_string(fd[0]) + " " + std::to_string(fd[1]) + " " + std::to_string(fd[2]));
}

}  // namespace
}  // namespace scorelab

namespace scorelab {
namespace {

// The bootstrap intervals (issue 16): they cover the full-set value, shrink with more rows, separate shifted
// sets from equal ones, and the KID bootstrap leaves out pairs of copies of one row (a naive resample would
// pair a duplicated row with itself, k(x, x) >> k(x, y), and inflate the within-set means).
TEST(Bootstrap, IntervalsCoverTheEstimateAndSeparateShiftedSets) {
  auto gen = make_generator(3);
  const at::Tensor a = torch::randn({400, 8}, gen, torch::kFloat64);
  const at::Tensor same = torch::randn({400, 8}, gen, torch::kFloat64);
  const at::Tensor shifted = torch::randn({400, 8}, gen, torch::kFloat64) + 0.5;
  auto bg = make_generator(4);
  const Interval kid_same = bootstrap_kid(a, same, bg, 300);
  const Interval kid_shift = bootstrap_kid(a, shifted, bg, 300);
  EXPECT_EQ(kid_same.resamples, 300);
  EXPECT_LT(kid_same.lo, 0.0);  // equal distributions: 0 inside
  EXPECT_GT(kid_same.hi, 0.0);
  const double mmd_shift = polynomial_mmd2_unbiased(a, shifted);
  EXPECT_GT(kid_shift.lo, kid_same.hi);  // disjoint
  EXPECT_LT(kid_shift.lo, mmd_shift);
  EXPECT_GT(kid_shift.hi, mmd_shift);
  const double fd_shift = frechet_distance(a, shifted);  // ~ 8 * 0.25 = 2
  const Interval fd_s = bootstrap_fd(a, shifted, bg, 300);
  const Interval fd_e = bootstrap_fd(a, same, bg, 300);
  EXPECT_LT(fd_s.lo, fd_shift);
  EXPECT_GT(fd_s.hi, fd_shift);
  EXPECT_GT(fd_s.lo, fd_e.hi);
  // More rows, a narrower interval.
  const at::Tensor a4 = torch::randn({1600, 8}, gen, torch::kFloat64);
  const at::Tensor s4 = torch::randn({1600, 8}, gen, torch::kFloat64) + 0.5;
  const Interval wide = bootstrap_kid(a, shifted, bg, 200), narrow = bootstrap_kid(a4, s4, bg, 200);
  EXPECT_LT(narrow.hi - narrow.lo, 0.75 * (wide.hi - wide.lo));
  EXPECT_THROW(bootstrap_fd(a, same, bg, 0), ConfigError);
}

}  // namespace
}  // namespace scorelab
