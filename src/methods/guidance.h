// Classifier guidance on images (Dhariwal & Nichol 2021; issue 15): a noise-aware classifier p(y | x, sigma) of the
// digit, trained on the training images moved to a score model's VE coordinates (models/noisy_classifier.h), and
// grad_x log p(y | x, sigma) for (samplers/wrappers.h: classifier_guided), so that DDPM, DDIM and
// every score sampler of ncsn and ddpm follow s + scale * grad.
//
// Training: `iters` Adam steps (lr cosine-decayed to 0) at batch `batch_size` of cross-entropy on x = x0 + sigma z,
// x0 a training image in the sampler's coordinates (ncsn: [0, 1]; ddpm: [-1, 1]) and log sigma uniform over the
// model's noise range (ncsn: its sigmas; ddpm: sigma_equivalent(t) of its schedule, t = 0..T-1).
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include "models/noisy_classifier.h"
#include "samplers/registry.h"

namespace scorelab {

struct ImageDataset;
struct LoadedImageModel;

struct GuideClassifierConfig {
  int64_t iters = 2000;      // --guide-classifier-iters
  int64_t batch_size = 128;
  double lr = 1e-3;
  int64_t width = 32;        // NoisyClassifierConfig::width
  int64_t eval_images = 1000;  // test images per noise level in metrics.json
  bool quiet = false;
  void validate() const;     // ConfigError naming --guide-classifier-iters
};

struct GuideClassifier {
  mutable NoisyClassifier net{nullptr};  // eval mode (mutable: forward is not const)
  double sigma_min = 0.0, sigma_max = 0.0;  // the noise range it was trained on
  std::string method, dataset;
  nlohmann::json metrics;  // {"iters", "train_s", "final_loss", "test_accuracy_by_sigma": [{"sigma", "accuracy"}...]}
};

// The noise range a score model's sampler visits, in its VE coordinates: ncsn its sigmas, ddpm sigma_equivalent(t)
// over t = 0..T-1. ConfigError for other methods.
std::pair<double, double> guide_sigma_range(const LoadedImageModel& model);

// The classifier in DIR (config.json, model.pt, metrics.json) when DIR holds one for this model's method, dataset and
// noise range (as it is, whatever iterations it was trained for); else trains one (seeded by `seed`) on `train`, scores it on `test`, and writes DIR (config.json last,
// atomically, so a half-written DIR is retrained). DIR holding a classifier of another model: ConfigError naming
// --guide-classifier.
std::shared_ptr<const GuideClassifier> load_or_train_guide_classifier(const std::string& dir, const LoadedImageModel& model,
                                                                      const ImageDataset& train, const ImageDataset& test,
                                                                      const GuideClassifierConfig& config, uint64_t seed,
                                                                      c10::Device device);
// Loads only (sample --guide-classifier): DataError naming DIR when it holds no classifier, ConfigError when it holds
// one of another model.
std::shared_ptr<const GuideClassifier> load_guide_classifier(const std::string& dir, const LoadedImageModel& model,
                                                             c10::Device device);

// Test accuracy of the classifier at noise level sigma on the first n images of `test` (noise from `seed`).
double guide_classifier_accuracy(const GuideClassifier& classifier, const LoadedImageModel& model, const ImageDataset& test,
                                 double sigma, int64_t n, uint64_t seed);

// grad_x log p(y | x, sigma) for the labels y [N] (autograd on whatever the caller's mode), x in the sampler's VE
// coordinates: the `grad` of classifier_guided.
ScoreFn guide_classifier_grad(std::shared_ptr<const GuideClassifier> classifier, at::Tensor y);

}  // namespace scorelab
