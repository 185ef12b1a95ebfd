#include "eval/classifier.h"

#include "data/datasets.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/runtime.h"

namespace fs = std::filesystem;

namespace scorelab {
namespace {

constexpr const char* kFormat = "scorelab-classifier";
constexpr int64_t kFormatVersion = 1;
constexpr double kPi = 3.14159265358979323846;

// conv3x3 bn relu conv3x3 bn, plus the (1x1 conv bn) projected input, relu (He et al. 2016, basic block).
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1_(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)))),
        bn1_(register_module("bn1", torch::nn::BatchNorm2d(out))),
        conv2_(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)))),
        bn2_(register_module("bn2", torch::nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      shortcut_ = register_module(
          "shortcut", torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                            torch::nn::BatchNorm2d(out)));
    }
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = torch::relu(bn1_(conv1_(x)));
    h = bn2_(conv2_(h));
    return torch::relu(h + (shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(BasicBlock);

at::Tensor as_model_range(const at::Tensor& images) {
  TORCH_CHECK(images.dim() == 4, "classifier: images must be [N, C, H, W], got ", images.sizes());
  if (images.scalar_type() == torch::kUInt8) return to_model_range(images);
  TORCH_CHECK(images.is_floating_point(), "classifier: images must be uint8 levels or float on [-1, 1], got ",
              images.scalar_type());
  return images.to(torch::kFloat);
}

void check_shape(const ImageClassifierImpl& m, const at::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == m.in_channels() && images.size(2) == m.image_size() &&
                  images.size(3) == m.image_size(),
              "classifier '", m.arch(), "' expects [N, ", m.in_channels(), ", ", m.image_size(), ", ", m.image_size(),
              "] images, got ", images.sizes());
}

// Random shift by up to `pad` pixels per image (pad with the background value -1 for grey data,
// reflection for colour), plus a horizontal flip with probability 1/2 for colour data.
at::Tensor augment_batch(const at::Tensor& x, at::Generator& gen) {
  constexpr int64_t pad = 2;
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const bool colour = x.size(1) == 3;
  namespace F = torch::nn::functional;
  at::Tensor padded = colour ? F::pad(x, F::PadFuncOptions({pad, pad, pad, pad}).mode(torch::kReflect))
                             : F::pad(x, F::PadFuncOptions({pad, pad, pad, pad}).value(-1.0));
  const at::Tensor offsets = torch::randint(0, 2 * pad + 1, {n, 2}, gen, torch::kLong);
  const at::Tensor code = offsets.select(1, 0) * (2 * pad + 1) + offsets.select(1, 1);
  at::Tensor out = torch::empty_like(x);
  for (int64_t dy = 0; dy <= 2 * pad; ++dy) {
    for (int64_t dx = 0; dx <= 2 * pad; ++dx) {
      const at::Tensor idx = (code == dy * (2 * pad + 1) + dx).nonzero().flatten().to(x.device());
      if (idx.numel() == 0) continue;
      out.index_copy_(0, idx, padded.index_select(0, idx).slice(2, dy, dy + h).slice(3, dx, dx + w));
    }
  }
  if (colour) {
    const at::Tensor flip = (torch::rand({n}, gen) < 0.5).to(x.device()).view({n, 1, 1, 1});
    out = torch::where(flip, out.flip({3}), out);
  }
  return out;
}

template <typename Fn>
at::Tensor batched_eval(ImageClassifier& model, const at::Tensor& images, int64_t batch_size, Fn fn) {
  TORCH_CHECK(batch_size > 0, "classifier: batch_size must be > 0");
  check_shape(*model, images);
  torch::NoGradGuard no_grad;
  model->eval();
  const c10::Device device = model->parameters().front().device();
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < images.size(0); i += batch_size) {
    const at::Tensor x = as_model_range(images.slice(0, i, std::min(i + batch_size, images.size(0))).to(device));
    parts.push_back(fn(x).to(torch::kCPU, torch::kFloat));
  }
  if (parts.empty()) return fn(as_model_range(images.to(device))).to(torch::kCPU, torch::kFloat);
  return torch::cat(parts);
}

c10::IValue read_classifier_file(const std::string& path) {
  if (!fs::exists(path)) throw DataError("cannot read classifier '" + path + "': no such file");
  const std::string text = read_file(path);
  c10::IValue value;
  try {
    value = torch::pickle_load(std::vector<char>(text.begin(), text.end()));
  } catch (const c10::Error& e) {
    throw DataError("'" + path + "' is not a classifier file written by scorelab (unreadable: " +
                    e.what_without_backtrace() + "); delete it to retrain");
  }
  if (!value.isGenericDict()) throw DataError("'" + path + "' is not a scorelab classifier file; delete it to retrain");
  const auto dict = value.toGenericDict();
  if (!dict.contains("format") || !dict.at("format").isString() || dict.at("format").toStringRef() != kFormat)
    throw DataError("'" + path + "' is not a scorelab classifier file (no format '" + kFormat + "'); delete it to retrain");
  return value;
}

std::string dict_string(const c10::impl::GenericDict& dict, const std::string& key, const std::string& path) {
  if (!dict.contains(key) || !dict.at(key).isString())
    throw DataError("'" + path + "': classifier file has no '" + key + "' entry; delete it to retrain");
  return dict.at(key).toStringRef();
}

}  // namespace

ImageClassifierImpl::ImageClassifierImpl(const std::string& arch, int64_t classes, double dropout)
    : arch_(arch), classes_(classes), dropout_(dropout) {
  TORCH_CHECK(classes >= 2, "ImageClassifier: classes must be >= 2, got ", classes);
  TORCH_CHECK(dropout >= 0.0 && dropout < 1.0, "ImageClassifier: dropout must be in [0, 1), got ", dropout);
  namespace nn = torch::nn;
  if (arch == "lenet") {
    in_channels_ = 1;
    image_size_ = 28;
    feature_dim_ = 128;
    // 28 -conv5-> 24 -pool-> 12 -conv5-> 8 -pool-> 4: 64 * 4 * 4 = 1024 inputs to the feature layer.
    body_ = nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, 5)), nn::ReLU(), nn::MaxPool2d(2),
                           nn::Conv2d(nn::Conv2dOptions(32, 64, 5)), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                           nn::Linear(1024, feature_dim_), nn::ReLU());
  } else if (arch == "resnet") {
    in_channels_ = 3;
    image_size_ = 32;
    feature_dim_ = 128;
    body_ = nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 32, 3).padding(1).bias(false)), nn::BatchNorm2d(32),
                           nn::ReLU(), BasicBlock(32, 32, 1), BasicBlock(32, 64, 2), BasicBlock(64, 128, 2),
                           nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)), nn::Flatten());
  } else {
    throw ConfigError("unknown classifier architecture '" + arch + "'; known: lenet, resnet");
  }
  register_module("body", body_);
  head_ = register_module("head", nn::Linear(feature_dim_, classes));
}

at::Tensor ImageClassifierImpl::features(const at::Tensor& x) {
  check_shape(*this, x);
  return body_->forward(x);
}

at::Tensor ImageClassifierImpl::forward(const at::Tensor& x, at::Generator* gen) {
  at::Tensor f = features(x);
  if (is_training() && dropout_ > 0.0) {
    TORCH_CHECK(gen != nullptr, "ImageClassifier: training-mode dropout needs a generator");
    // The mask is drawn on the generator's device (a CPU generator may drive a CUDA model).
    const at::Tensor keep =
        torch::empty(f.sizes(), f.options().device(gen->device())).bernoulli_(1.0 - dropout_, *gen).to(f.device());
    f = f * keep / (1.0 - dropout_);
  }
  return head_(f);
}

at::Tensor ImageClassifierImpl::classify(const at::Tensor& features) {
  TORCH_CHECK(features.dim() == 2 && features.size(1) == feature_dim_, "ImageClassifier::classify: features must be [N, ",
              feature_dim_, "], got ", features.sizes());
  return head_(features);
}

std::string classifier_arch_for(const std::string& dataset) { return image_dataset(dataset).classifier_arch; }

ImageClassifier make_classifier(const std::string& dataset) { return ImageClassifier(classifier_arch_for(dataset)); }

int64_t default_classifier_epochs(const std::string& dataset) {
  return image_dataset(dataset).classifier_epochs;
}

void ClassifierTrainConfig::validate() const {
  if (epochs < 0)
    throw ConfigError(flag_error("--epochs", std::to_string(epochs), "an integer >= 1, or 0 for the dataset's default"));
  if (batch_size < 1) throw ConfigError(flag_error("--batch-size", std::to_string(batch_size), "an integer >= 1"));
  require_positive("--lr", lr);
  require_nonnegative("--weight-decay", weight_decay);
  if (train_limit < 0) throw ConfigError(flag_error("--train-limit", std::to_string(train_limit), "0 (all) or a positive count"));
  if (test_limit < 0) throw ConfigError(flag_error("--test-limit", std::to_string(test_limit), "0 (all) or a positive count"));
}

ClassifierTrainResult train_classifier(ImageClassifier& model, const ImageDataset& train, const ImageDataset& test,
                                       const ClassifierTrainConfig& config, at::Generator& gen, c10::Device device) {
  config.validate();
  const auto start = std::chrono::steady_clock::now();
  const int64_t n_train = config.train_limit > 0 ? std::min(config.train_limit, train.images.size(0)) : train.images.size(0);
  const int64_t n_test = config.test_limit > 0 ? std::min(config.test_limit, test.images.size(0)) : test.images.size(0);
  TORCH_CHECK(n_train > 0 && n_test > 0, "train_classifier: empty training or test set");
  check_shape(*model, train.images);
  check_shape(*model, test.images);
  const at::Tensor train_x = train.images.slice(0, 0, n_train);
  const at::Tensor train_y = train.labels.slice(0, 0, n_train);
  const at::Tensor test_x = test.images.slice(0, 0, n_test);
  const at::Tensor test_y = test.labels.slice(0, 0, n_test);
  TORCH_CHECK(train_y.size(0) == n_train && test_y.size(0) == n_test, "train_classifier: fewer labels than images");

  const int64_t epochs = config.epochs > 0 ? config.epochs : default_classifier_epochs(train.name);
  model->to(device);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  const int64_t steps_per_epoch = (n_train + config.batch_size - 1) / config.batch_size;
  const int64_t total_steps = steps_per_epoch * epochs;
  int64_t step = 0;
  ClassifierTrainResult result;
  result.train_size = n_train;
  result.test_size = n_test;
  result.epochs = epochs;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    model->train();
    const at::Tensor perm = torch::randperm(n_train, gen, torch::kLong);
    double loss_sum = 0.0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      const at::Tensor idx = perm.slice(0, b * config.batch_size, std::min((b + 1) * config.batch_size, n_train));
      at::Tensor x = to_model_range(train_x.index_select(0, idx)).to(device);
      const at::Tensor y = train_y.index_select(0, idx).to(device);
      if (config.augment) x = augment_batch(x, gen);
      // Cosine decay of the learning rate to 0 over all steps.
      const double lr = 0.5 * config.lr * (1.0 + std::cos(kPi * static_cast<double>(step) / static_cast<double>(total_steps)));
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
      const at::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x, &gen), y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(idx.size(0));
    }
    result.epoch_loss.push_back(loss_sum / static_cast<double>(n_train));
    result.epoch_test_accuracy.push_back(classifier_accuracy(model, test_x, test_y));
    if (config.verbose) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cerr << "classifier epoch " << epoch + 1 << "/" << epochs << ": loss " << result.epoch_loss.back()
                << ", test accuracy " << result.epoch_test_accuracy.back() << ", " << s << " s\n";
    }
  }
  model->eval();
  result.test_accuracy = result.epoch_test_accuracy.back();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

at::Tensor classifier_features(ImageClassifier& model, const at::Tensor& images, int64_t batch_size) {
  return batched_eval(model, images, batch_size, [&](const at::Tensor& x) { return model->features(x); });
}

at::Tensor classifier_logits(ImageClassifier& model, const at::Tensor& images, int64_t batch_size) {
  return batched_eval(model, images, batch_size, [&](const at::Tensor& x) { return model->forward(x); });
}

double classifier_accuracy(ImageClassifier& model, const at::Tensor& images, const at::Tensor& labels, int64_t batch_size) {
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), "classifier_accuracy: labels must be [N] for ",
              images.size(0), " images, got ", labels.sizes());
  TORCH_CHECK(images.size(0) > 0, "classifier_accuracy: no images");
  const at::Tensor pred = classifier_logits(model, images, batch_size).argmax(1);
  return pred.eq(labels.to(torch::kCPU, torch::kLong)).to(torch::kDouble).mean().item<double>();
}

void save_classifier(ImageClassifier& model, const std::string& dataset, const std::string& path, const std::string& meta_json) {
  if (classifier_arch_for(dataset) != model->arch())
    throw ConfigError("save_classifier: a '" + model->arch() + "' classifier cannot be saved for dataset '" + dataset +
                      "' (which uses '" + classifier_arch_for(dataset) + "')");
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& p : model->named_parameters(true)) state.insert(p.key(), p.value().detach().to(torch::kCPU).contiguous());
  for (const auto& b : model->named_buffers(true)) state.insert(b.key(), b.value().detach().to(torch::kCPU).contiguous());
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("format", std::string(kFormat));
  dict.insert("version", kFormatVersion);
  dict.insert("dataset", dataset);
  dict.insert("arch", model->arch());
  dict.insert("classes", model->classes());
  dict.insert("feature_dim", model->feature_dim());
  dict.insert("meta", meta_json);
  dict.insert("state", state);
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  atomic_write_text(path, std::string(bytes.begin(), bytes.end()));
}

ImageClassifier load_classifier(const std::string& path, const std::string& dataset) {
  const std::string expected_arch = classifier_arch_for(dataset);
  const auto dict = read_classifier_file(path).toGenericDict();
  const std::string file_dataset = dict_string(dict, "dataset", path);
  const std::string file_arch = dict_string(dict, "arch", path);
  if (file_dataset != dataset || file_arch != expected_arch)
    throw DataError("'" + path + "' holds a classifier for dataset '" + file_dataset + "' (arch " + file_arch +
                    "), not for '" + dataset + "' (arch " + expected_arch + "); pass the classifier of " + dataset +
                    " or delete the file to retrain");
  if (!dict.contains("classes") || !dict.at("classes").isInt() || !dict.contains("state") || !dict.at("state").isGenericDict())
    throw DataError("'" + path + "': classifier file has no 'classes' or 'state' entry; delete it to retrain");
  ImageClassifier model(file_arch, dict.at("classes").toInt());
  const auto state = dict.at("state").toGenericDict();
  torch::NoGradGuard no_grad;
  auto load = [&](const std::string& name, at::Tensor& t) {
    if (!state.contains(name) || !state.at(name).isTensor())
      throw DataError("'" + path + "' has no tensor '" + name + "' for a " + file_arch + " classifier; delete it to retrain");
    const at::Tensor v = state.at(name).toTensor();
    if (v.sizes() != t.sizes())
      throw DataError("'" + path + "': tensor '" + name + "' has shape " + c10::str(v.sizes()) + ", the " + file_arch +
                      " classifier expects " + c10::str(t.sizes()) + "; delete it to retrain");
    t.copy_(v);
  };
  for (auto& p : model->named_parameters(true)) load(p.key(), p.value());
  for (auto& b : model->named_buffers(true)) load(b.key(), b.value());
  model->eval();
  return model;
}

std::string classifier_meta(const std::string& path) {
  const auto dict = read_classifier_file(path).toGenericDict();
  return dict.contains("meta") && dict.at("meta").isString() ? dict.at("meta").toStringRef() : "{}";
}

std::string default_classifier_path(const std::string& dataset, const std::string& data_dir) {
  return (fs::path(resolve_data_root(data_dir)) / "classifiers" / dataset / "classifier.pt").string();
}

ImageClassifier load_or_train_classifier(const std::string& dataset, const std::string& data_dir, const std::string& cache_path,
                                         uint64_t seed, const ClassifierTrainConfig& config, bool* trained) {
  const std::string path = cache_path.empty() ? default_classifier_path(dataset, data_dir) : cache_path;
  if (trained) *trained = false;
  if (fs::exists(path)) return load_classifier(path, dataset);
  config.validate();
  const ImageDataset train = load_image_dataset(dataset, "train", data_dir);
  const ImageDataset test = load_image_dataset(dataset, "test", data_dir);
  seed_module_init(derive_seed(seed, "classifier-init"));
  ImageClassifier model = make_classifier(dataset);
  at::Generator gen = make_generator(derive_seed(seed, "classifier-train"));
  const ClassifierTrainResult r = train_classifier(model, train, test, config, gen);
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) throw DataError("cannot create folder '" + parent.string() + "' for the classifier cache: " + ec.message());
  const nlohmann::json meta = {{"test_accuracy", r.test_accuracy}, {"seconds", r.seconds},  {"epochs", r.epochs},
                               {"seed", seed},                     {"train_size", r.train_size}, {"test_size", r.test_size},
                               {"augment", config.augment}};
  save_classifier(model, dataset, path, meta.dump());
  if (trained) *trained = true;
  return model;
}

}  // namespace scorelab
