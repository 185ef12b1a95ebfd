#include "methods/evaluate.h"

#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/precision.h"
#include "data/image_data.h"
#include "data/source.h"
#include "methods/method.h"
#include "methods/toy_train.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace scorelab {

void EvaluateConfig::add_options(po::options_description& desc) {
  po::options_description e("Evaluation");
  e.add_options()
      ("model-dir", po::value(&model_dir), "a `train` output folder (image or toy)")
      ("stage2-dir", po::value(&stage2_dir), "image smoothed-ar: the stage-2 folder (the two-stage bound needs it)")
      ("likelihood", po::value(&likelihood), "exact (ar) | bound (smoothed-ar, ddpm) | ode (ncsn, ddpm); default: the method's first")
      ("images", po::value(&images)->default_value(images), "image models: the first N test images")
      ("test-size", po::value(&test_size)->default_value(test_size), "toy models: held-out exact draws")
      ("data-dir", po::value(&data_dir), "data folder (default: $SCORELAB_DATA or <repo>/data)")
      ("decoder-variance", po::value(&config.variance)->default_value(config.variance),
       "ddpm bound of a fixed-variance model: small (beta~_t) | large (beta_t)");
  desc.add(e);
  config.add_options(desc);
  po::options_description r("Run");
  runtime.add_options(r);
  desc.add(r);
}

void EvaluateConfig::validate() const {
  if (model_dir.empty()) throw ConfigError(flag_error("--model-dir", "", "a `train` output folder"));
  if (!likelihood.empty()) require_one_of("--likelihood", likelihood, {"exact", "bound", "ode"});
  if (images < 1) throw ConfigError(flag_error("--images", std::to_string(images), "an integer >= 1"));
  if (test_size < 2) throw ConfigError(flag_error("--test-size", std::to_string(test_size), "an integer >= 2"));
  config.validate();
  runtime.validate();
}

nlohmann::json EvaluateConfig::to_json() const {
  return {{"model_dir", model_dir}, {"stage2_dir", stage2_dir}, {"likelihood", likelihood}, {"images", images},
          {"test_size", test_size}, {"config", config.to_json()}, {"seed", runtime.seed}, {"device", runtime.device},
          {"threads", runtime.threads}, {"precision", runtime.precision}};
}

nlohmann::json run_evaluate(const EvaluateConfig& c, const std::string& out, const std::string& command) {
  c.validate();
  set_threads(c.runtime.threads);
  const auto device = resolve_device(c.runtime.device);
  set_precision(c.runtime.precision, device);
  const fs::path root(c.model_dir);
  if (!fs::is_directory(root))
    throw DataError("model folder '" + c.model_dir + "' does not exist; train one with `train --out DIR` first");
  if (!fs::exists(root / "config.json"))
    throw DataError("'" + (root / "config.json").string() + "' is missing; --model-dir takes a `train` output folder");
  const nlohmann::json model_config = read_json((root / "config.json").string());
  const std::string dataset = model_config.value("dataset", "");
  const std::string method_name = model_config.value("method", "");
  const Method& method = get_method(method_name);
  ensure_writable_dir(out);
  nlohmann::json config = c.to_json();
  config["command"] = command;
  write_json((fs::path(out) / "config.json").string(), config);
  nlohmann::json metrics = {{"model_dir", c.model_dir}, {"dataset", dataset}, {"method", method_name}};
  auto gen = make_generator(derive_seed(c.runtime.seed, "evaluate"), device);
  const auto t0 = std::chrono::steady_clock::now();

  if (data_source(dataset).mixture()) {
    LoadedToyModel loaded = load_toy_model(c.model_dir, (fs::path(out) / "checkpoints").string(), SamplingConfig{},
                                           c.test_size, &c.config);
    nlohmann::json all = loaded.method->evaluate(loaded.data, gen);
    const nlohmann::json& ls = all.contains("likelihoods") ? all["likelihoods"] : nlohmann::json::object();
    std::string kinds;
    for (auto it = ls.begin(); it != ls.end(); ++it) kinds += (kinds.empty() ? "" : ", ") + it.key();
    const std::string kind = c.likelihood.empty() ? (ls.empty() ? "" : ls.begin().key()) : c.likelihood;
    if (!ls.contains(kind))
      throw ConfigError(flag_error("--likelihood", kind, (kinds.empty() ? std::string("nothing") : "one of " + kinds) +
                                                             " for this " + method_name + " model"));
    metrics["likelihood"] = ls[kind];
    metrics["unit"] = "nats per example";
    metrics["test_size"] = c.test_size;
  } else {
    const auto kinds = method.likelihood_kinds();
    const std::string kind = c.likelihood.empty() ? (kinds.empty() ? "" : kinds.front()) : c.likelihood;
    LoadedModels models = load_models(c.model_dir, c.stage2_dir, device);
    const ImageDataset test = load_image_dataset(dataset, "test", c.data_dir);
    const int64_t n = std::min<int64_t>(c.images, test.images.size(0));
    const nlohmann::json entry = method.test_likelihood(kind, models, test, n, c.config, gen);
    metrics["likelihood"] = entry;
    metrics["unit"] = "bits/dim on the 8-bit scale";
    metrics["images"] = n;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  metrics["likelihood"]["seconds"] = seconds;
  write_run_metrics(out, metrics);
  return read_run_metrics(out);
}

}  // namespace scorelab
