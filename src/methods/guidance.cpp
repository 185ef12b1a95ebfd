#include "methods/guidance.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/params_io.h"
#include "core/runtime.h"
#include "core/schedule.h"
#include "data/image_data.h"
#include "methods/image_sampling.h"
#include "methods/method.h"

namespace scorelab {

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

// The training (or test) images in the sampler's coordinates, float [N, C, H, W] on `device`.
at::Tensor sampler_images(const LoadedImageModel& model, const ImageDataset& data, c10::Device device) {
  return sampler_data_transform(model).to_sampler(to_model_range(data.images)).to(device);
}

bool same(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); }

// config.json of a classifier for `model`, or why DIR's does not fit (empty when it fits).
std::string mismatch(const nlohmann::json& j, const LoadedImageModel& model) {
  const auto [lo, hi] = guide_sigma_range(model);
  if (j.value("kind", "") != "noisy-classifier") return "it is not a noise-aware classifier folder";
  if (j.value("method", "") != model.config.method || j.value("dataset", "") != model.config.dataset ||
      !same(j.value("sigma_min", 0.0), lo) || !same(j.value("sigma_max", 0.0), hi))
    return "it holds a classifier for method " + j.value("method", "?") + " on " + j.value("dataset", "?") +
           " with noise range [" + flag_value(j.value("sigma_min", 0.0)) + ", " + flag_value(j.value("sigma_max", 0.0)) +
           "], not for this " + model.config.method + " model on " + model.config.dataset + " ([" + flag_value(lo) +
           ", " + flag_value(hi) + "])";
  return "";
}

std::shared_ptr<GuideClassifier> build(const nlohmann::json& j, const LoadedImageModel& model) {
  NoisyClassifierConfig nc;
  nc.channels = model.channels;
  nc.width = j.at("width").get<int64_t>();
  nc.data_std = j.at("data_std").get<double>();
  auto g = std::make_shared<GuideClassifier>();
  g->net = NoisyClassifier(nc);
  g->sigma_min = j.at("sigma_min").get<double>();
  g->sigma_max = j.at("sigma_max").get<double>();
  g->method = model.config.method;
  g->dataset = model.config.dataset;
  return g;
}

}  // namespace

void GuideClassifierConfig::validate() const {
  if (iters < 1) throw ConfigError(flag_error("--guide-classifier-iters", std::to_string(iters), "an integer >= 1"));
  if (batch_size < 1 || width < 1 || eval_images < 1 || !(lr > 0))
    throw ConfigError("guide classifier: batch size, width, evaluation images and lr must be positive");
}

std::pair<double, double> guide_sigma_range(const LoadedImageModel& model) {
  const ImageModel& m = model.model;
  if (m.sigmas) {
    const auto& s = m.sigmas->sigmas();
    return {*std::min_element(s.begin(), s.end()), *std::max_element(s.begin(), s.end())};
  }
  if (m.betas) return {m.betas->sigma_equivalent(0), m.betas->sigma_equivalent(m.betas->steps() - 1)};
  throw ConfigError(flag_error("--classifier-scale", "> 0",
                               "0 for method " + model.config.method + " (classifier guidance guides ncsn and ddpm)"));
}

double guide_classifier_accuracy(const GuideClassifier& g, const LoadedImageModel& model, const ImageDataset& test,
                                 double sigma, int64_t n, uint64_t seed) {
  torch::NoGradGuard no_grad;
  const auto device = g.net->parameters().front().device();
  n = std::min<int64_t>(n, test.images.size(0));
  ImageDataset first{test.images.slice(0, 0, n), test.labels.slice(0, 0, n), test.name};
  const at::Tensor x0 = sampler_images(model, first, device);
  auto gen = make_generator(seed, device);
  int64_t correct = 0;
  for (int64_t b = 0; b < n; b += 500) {
    const int64_t e = std::min<int64_t>(n, b + 500);
    const at::Tensor x = x0.slice(0, b, e);
    const at::Tensor noisy = x + sigma * at::randn(x.sizes(), gen, x.options());
    const at::Tensor pred = g.net->forward(noisy, torch::full({1}, sigma, x.options())).argmax(1).cpu();
    correct += pred.eq(first.labels.slice(0, b, e)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

std::shared_ptr<const GuideClassifier> load_guide_classifier(const std::string& dir, const LoadedImageModel& model,
                                                             c10::Device device) {
  const fs::path config = fs::path(dir) / "config.json";
  if (!fs::exists(config))
    throw DataError("--guide-classifier " + dir + ": no noise-aware classifier there (missing config.json); train one "
                    "with compare --classifier-scale S (it writes DIR/checkpoints/<method>-guide-classifier)");
  const nlohmann::json j = read_json(config.string());
  if (const std::string why = mismatch(j, model); !why.empty())
    throw ConfigError(flag_error("--guide-classifier", dir, "a classifier for this model (" + why + ")"));
  auto g = build(j, model);
  import_state_dict(*g->net, (fs::path(dir) / "model.pt").string());
  g->net->to(device);
  g->net->eval();
  const fs::path metrics = fs::path(dir) / "metrics.json";
  if (fs::exists(metrics)) g->metrics = read_json(metrics.string());
  return g;
}

std::shared_ptr<const GuideClassifier> load_or_train_guide_classifier(const std::string& dir, const LoadedImageModel& model,
                                                                      const ImageDataset& train, const ImageDataset& test,
                                                                      const GuideClassifierConfig& config, uint64_t seed,
                                                                      c10::Device device) {
  config.validate();
  const auto [lo, hi] = guide_sigma_range(model);
  // A folder that holds one is used as it is (its own iterations and seed: metrics.json), or refused when it holds
  // another model's.
  if (fs::exists(fs::path(dir) / "config.json")) return load_guide_classifier(dir, model, device);
  ensure_writable_dir(dir, "--guide-classifier");
  const at::Tensor x_train = sampler_images(model, train, device);
  const at::Tensor y_train = train.labels.to(device);
  nlohmann::json j = {{"kind", "noisy-classifier"}, {"method", model.config.method}, {"dataset", model.config.dataset},
                      {"sigma_min", lo}, {"sigma_max", hi}, {"width", config.width},
                      {"data_std", x_train.std().item<double>()}, {"iters", config.iters},
                      {"batch_size", config.batch_size}, {"lr", config.lr}, {"seed", seed}};
  seed_module_init(seed);  // the weights come from the seeded global generator
  auto g = build(j, model);
  g->net->to(device);
  g->net->train();
  auto gen = make_generator(derive_seed(seed, "batches"), device);
  torch::optim::Adam optimizer(g->net->parameters(), torch::optim::AdamOptions(config.lr));
  const double log_lo = std::log(lo), log_hi = std::log(hi);
  const auto opts = x_train.options();
  const auto t0 = std::chrono::steady_clock::now();
  std::ostringstream curve;
  curve << "iter,loss\n";
  double running = 0.0;
  int64_t counted = 0;
  double final_loss = NAN;
  for (int64_t it = 0; it < config.iters; ++it) {
    const double lr = 0.5 * config.lr * (1.0 + std::cos(kPi * static_cast<double>(it) / static_cast<double>(config.iters)));
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    const at::Tensor idx = at::randint(x_train.size(0), {config.batch_size}, gen, opts.dtype(torch::kLong));
    const at::Tensor sigma = torch::exp(log_lo + (log_hi - log_lo) * at::rand({config.batch_size}, gen, opts));
    const at::Tensor x0 = x_train.index_select(0, idx);
    const at::Tensor x = x0 + sigma.reshape({-1, 1, 1, 1}) * at::randn(x0.sizes(), gen, opts);
    const at::Tensor loss = torch::nn::functional::cross_entropy(g->net->forward(x, sigma), y_train.index_select(0, idx));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    running += loss.item<double>();
    ++counted;
    if ((it + 1) % 50 == 0 || it + 1 == config.iters) {
      final_loss = running / static_cast<double>(counted);
      curve << it + 1 << "," << final_loss << "\n";
      running = 0.0;
      counted = 0;
      if (!config.quiet && ((it + 1) % 500 == 0 || it + 1 == config.iters))
        std::cerr << "[guide-classifier] iter " << it + 1 << "/" << config.iters << "  loss " << final_loss << "\n";
    }
  }
  g->net->eval();
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json by_sigma = nlohmann::json::array();
  for (double s : {lo, 0.1, 0.3, 1.0, 3.0, hi}) {
    if (s < lo || s > hi || (s == hi && hi <= 3.0)) continue;  // each level once (hi may be one of the fixed ones)
    by_sigma.push_back({{"sigma", s}, {"accuracy", guide_classifier_accuracy(*g, model, test, s, config.eval_images,
                                                                            derive_seed(seed, "eval"))}});
  }
  g->metrics = {{"iters", config.iters}, {"train_s", train_s}, {"final_loss", final_loss},
                {"test_images", std::min<int64_t>(config.eval_images, test.images.size(0))},
                {"test_accuracy_by_sigma", by_sigma}};
  export_state_dict(*g->net, (fs::path(dir) / "model.pt").string());
  atomic_write_text((fs::path(dir) / "train_loss.csv").string(), curve.str());
  write_json((fs::path(dir) / "metrics.json").string(), g->metrics);
  write_json((fs::path(dir) / "config.json").string(), j);  // last: the folder is complete
  return g;
}

ScoreFn guide_classifier_grad(std::shared_ptr<const GuideClassifier> classifier, at::Tensor y) {
  TORCH_CHECK(classifier && y.defined(), "guide_classifier_grad: no classifier or labels");
  return [classifier, y](const at::Tensor& x, double sigma) {
    torch::AutoGradMode on(true);
    const at::Tensor xx = x.detach().to(classifier->net->parameters().front().scalar_type()).requires_grad_(true);
    const at::Tensor logits = classifier->net->forward(xx, torch::full({1}, sigma, xx.options()));
    const at::Tensor lp = torch::log_softmax(logits, 1).gather(1, y.to(x.device()).reshape({-1, 1})).sum();
    return torch::autograd::grad({lp}, {xx})[0].detach().to(x.scalar_type());
  };
}

}  // namespace scorelab
