// Small image classifiers trained here, per dataset, whose penultimate features replace Inception's
// for offline sample-quality scores (REFERENCE 5: no Inception weights can be downloaded; the numbers
// are "FD-classifier" / "KID-classifier", never FID). LeNet-like for 1x28x28 (MNIST, Fashion-MNIST),
// a small ResNet for 3x32x32 (CIFAR-10). Inputs are on the model scale [-1, 1] (data/image_data.h).
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/image_data.h"

namespace scorelab {

// "lenet": conv5x5(32) relu pool2, conv5x5(64) relu pool2, fc 1024->128 relu  (features: 128)
//          -> dropout -> fc 128->10.  For [N, 1, 28, 28].
// "resnet": conv3x3(32) bn relu, basic residual blocks 32 (stride 1), 64 (stride 2), 128 (stride 2),
//          global average pool (features: 128) -> fc 128->10.  For [N, 3, 32, 32].
class ImageClassifierImpl : public torch::nn::Module {
 public:
  ImageClassifierImpl(const std::string& arch, int64_t classes = 10, double dropout = 0.3);
  // Penultimate features [N, F] (F = feature_dim()); x [N, C, H, W] float on the model scale.
  at::Tensor features(const at::Tensor& x);
  // Logits [N, classes]: head(dropout(features(x))). Dropout acts only in training mode and then draws
  // its mask from `gen` (required there); in eval mode `gen` is unused.
  at::Tensor forward(const at::Tensor& x, at::Generator* gen = nullptr);
  // Logits from penultimate features [N, F] (the last layer alone, no dropout).
  at::Tensor classify(const at::Tensor& features);

  const std::string& arch() const { return arch_; }
  int64_t feature_dim() const { return feature_dim_; }
  int64_t classes() const { return classes_; }
  int64_t in_channels() const { return in_channels_; }
  int64_t image_size() const { return image_size_; }

 private:
  std::string arch_;
  int64_t classes_, feature_dim_, in_channels_, image_size_;
  double dropout_;
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(ImageClassifier);

// The architecture used for a dataset: "lenet" (mnist, fashion-mnist) or "resnet" (cifar10).
// Unknown dataset: ConfigError naming --dataset and the allowed names.
std::string classifier_arch_for(const std::string& dataset);

// A freshly initialised classifier for `dataset` (weights from LibTorch's global generator: call
// seed_module_init first for reproducible weights).
ImageClassifier make_classifier(const std::string& dataset);

// Epochs used when ClassifierTrainConfig::epochs is 0: mnist 3 (measured: 99.07% test accuracy), fashion-mnist
// 10 (measured: 91.41%; 5 epochs gave 89.57%), cifar10 10 (measured: 80.99%). Unknown dataset: ConfigError.
int64_t default_classifier_epochs(const std::string& dataset);

struct ClassifierTrainConfig {
  int64_t epochs = 0;         // 0: default_classifier_epochs(dataset)
  int64_t batch_size = 128;
  double lr = 1e-3;           // Adam, cosine-decayed to 0 over the run
  double weight_decay = 0.0;  // Adam's L2 term
  int64_t train_limit = 0;    // use only the first N training images (0: all)
  int64_t test_limit = 0;     // evaluate on the first N test images (0: all)
  bool augment = false;       // random shifts of up to 2 px (and horizontal flips for 3-channel data)
  bool verbose = false;       // one line per epoch on stderr
  void validate() const;      // ConfigError naming the flag (--epochs, --batch-size, --lr, ...)
};

struct ClassifierTrainResult {
  double test_accuracy = 0.0;              // after the last epoch
  int64_t epochs = 0;                      // epochs run
  double seconds = 0.0;                    // wall time of training and the evaluations
  int64_t train_size = 0, test_size = 0;
  std::vector<double> epoch_loss;          // mean training cross-entropy per epoch
  std::vector<double> epoch_test_accuracy;
};

// Trains `model` on `device` with Adam on cross-entropy; shuffling, dropout and augmentation draw from
// `gen`, a CPU generator (whatever the device). Data: uint8 images (converted with to_model_range), labels 0..classes-1. The model is
// left in eval mode on `device`. Image shape must match the architecture (TORCH_CHECK).
ClassifierTrainResult train_classifier(ImageClassifier& model, const ImageDataset& train, const ImageDataset& test,
                                       const ClassifierTrainConfig& config, at::Generator& gen,
                                       c10::Device device = c10::Device(c10::kCPU));

// Batched inference under no_grad in eval mode. `images`: uint8 levels or float on the model scale,
// [N, C, H, W]; results are float32 on the CPU.
at::Tensor classifier_features(ImageClassifier& model, const at::Tensor& images, int64_t batch_size = 500);
at::Tensor classifier_logits(ImageClassifier& model, const at::Tensor& images, int64_t batch_size = 500);
// Fraction of argmax(logits) == labels.
double classifier_accuracy(ImageClassifier& model, const at::Tensor& images, const at::Tensor& labels,
                           int64_t batch_size = 500);

// File format (torch::pickle_save, so Python's torch.load reads it): a dict {format:
// "scorelab-classifier", version, dataset, arch, classes, feature_dim, meta (a JSON string: accuracy,
// seed, epochs...), state: {name: tensor}}. Written atomically (temporary file + rename).
void save_classifier(ImageClassifier& model, const std::string& dataset, const std::string& path,
                     const std::string& meta_json = "{}");
// Loads a classifier and checks its fingerprint: a file for another dataset or architecture, a file that
// is not a scorelab classifier, or a missing / truncated file is a DataError naming the file.
ImageClassifier load_classifier(const std::string& path, const std::string& dataset);
// The "meta" JSON string stored in the file ("{}" if none).
std::string classifier_meta(const std::string& path);

// <data root>/classifiers/<dataset>/classifier.pt, data root as resolve_data_root(data_dir) (data/ is
// gitignored).
std::string default_classifier_path(const std::string& dataset, const std::string& data_dir = "");

// Loads the cached classifier at `cache_path` ("" : default_classifier_path) if it exists (fingerprint
// checked), else trains one on `dataset` (initialisation and training streams derived from `seed`), saves
// it there with its test accuracy in meta, and returns it. `trained` (optional) tells which happened.
ImageClassifier load_or_train_classifier(const std::string& dataset, const std::string& data_dir = "",
                                         const std::string& cache_path = "", uint64_t seed = 0,
                                         const ClassifierTrainConfig& config = {}, bool* trained = nullptr);

}  // namespace scorelab
