#include "methods/sample.h"

#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/precision.h"
#include "core/params_io.h"
#include "data/source.h"
#include "toy/toy.h"
#include "eval/image_grid.h"
#include "eval/plot.h"
#include "toy/toy_metrics.h"
#include "methods/guidance.h"
#include "methods/toy_method.h"
#include "methods/toy_train.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace scorelab {

namespace {

using Clock = std::chrono::steady_clock;

std::string numbered(const std::string& stem, int64_t k, int width, const std::string& ext) {
  std::ostringstream os;
  os << stem << std::setw(width) << std::setfill('0') << k << ext;
  return os.str();
}

void save_tensor(const std::string& path, const at::Tensor& samples) { save_tensor_dict(path, {{"samples", samples}}); }

at::Tensor load_tensor(const std::string& path) {
  const std::string what = "a sample batch of `sample`; delete it or run without --resume";
  for (const auto& [name, t] : load_tensor_dict(path, what))
    if (name == "samples") return t;
  throw DataError("'" + path + "' has no \"samples\" tensor; expected " + what);
}

struct Batches {
  int64_t count = 0;
  std::vector<int64_t> sizes;
};

Batches plan(int64_t n, int64_t batch) {
  Batches b;
  for (int64_t done = 0; done < n; done += batch) b.sizes.push_back(std::min(batch, n - done));
  b.count = static_cast<int64_t>(b.sizes.size());
  return b;
}

// Sums of the sampler's counters over the batches drawn in this run, averaged at the end (finish_stats):
// batches kept by --resume were counted by the run that drew them.
void add_stats(std::map<std::string, double>& sums, const std::map<std::string, double>& stats) {
  for (const auto& [key, value] : stats) sums[key] += value;
  sums["batches drawn"] += 1;
}

void finish_stats(nlohmann::json& metrics, const std::map<std::string, double>& sums) {
  const auto it = sums.find("batches drawn");
  if (it == sums.end()) return;
  for (const auto& [key, value] : sums)
    if (key != "batches drawn") metrics[key] = value / it->second;
}

}  // namespace

void SampleConfig::add_options(po::options_description& desc) {
  po::options_description s("Sample");
  s.add_options()
      ("model-dir", po::value(&model_dir), "a `train` output folder (image or toy)")
      ("stage2-dir", po::value(&stage2_dir), "image smoothed-ar: the stage-2 folder, for --denoise conditional-ar")
      ("guide-classifier", po::value(&guide_classifier),
       "image ncsn / ddpm with --classifier-scale: the noise-aware classifier folder (compare --classifier-scale writes "
       "one to <checkpoints>/<method>-guide-classifier)")
      ("n", po::value(&n)->default_value(n), "number of samples")
      ("batch-size", po::value(&batch_size)->default_value(batch_size), "samples drawn (and held in memory) at once")
      ("resume", po::bool_switch(&resume), "keep the batches already written to OUT/tensors")
      ("quiet", po::bool_switch(&quiet), "no progress lines");
  desc.add(s);
  po::options_description m("Sampling");
  sampling.add_options(m);
  desc.add(m);
  po::options_description r("Run");
  runtime.add_options(r);
  desc.add(r);
}

void SampleConfig::validate() const {
  if (model_dir.empty()) throw ConfigError(flag_error("--model-dir", "", "a `train` output folder"));
  if (n < 1) throw ConfigError(flag_error("--n", std::to_string(n), "an integer >= 1"));
  if (batch_size < 1) throw ConfigError(flag_error("--batch-size", std::to_string(batch_size), "an integer >= 1"));
  sampling.validate();
  if (sampling.classifier_scale > 0 && guide_classifier.empty())
    throw ConfigError(flag_error("--guide-classifier", "", "a noise-aware classifier folder with --classifier-scale > 0 "
                                                           "(compare --classifier-scale trains one)"));
  if (!guide_classifier.empty() && sampling.classifier_scale == 0)
    throw ConfigError(flag_error("--guide-classifier", guide_classifier, "no folder unless --classifier-scale S > 0"));
  runtime.validate();
}

nlohmann::json SampleConfig::to_json() const {
  nlohmann::json j = {{"model_dir", model_dir}, {"stage2_dir", stage2_dir}, {"n", n},           {"batch_size", batch_size},
          {"sampling", sampling.to_json()}, {"seed", runtime.seed}, {"device", runtime.device},
          {"threads", runtime.threads}, {"precision", runtime.precision}};
  if (!guide_classifier.empty()) j["guide_classifier"] = guide_classifier;
  return j;
}

nlohmann::json run_sample(const SampleConfig& c, const std::string& out, const std::string& command) {
  c.validate();
  set_threads(c.runtime.threads);
  const auto device = resolve_device(c.runtime.device);
  set_precision(c.runtime.precision, device);
  const fs::path root(c.model_dir);
  const std::string config_path = (root / "config.json").string();
  if (!fs::is_directory(root))
    throw DataError("model folder '" + c.model_dir + "' does not exist; train one with `train --out DIR` first");
  if (!fs::exists(config_path))
    throw DataError("'" + config_path + "' is missing; --model-dir takes a `train` output folder");
  const nlohmann::json model_config = read_json(config_path);
  const std::string dataset = model_config.value("dataset", "");
  const bool toy = data_source(dataset).mixture();
  ensure_writable_dir(out);
  fs::create_directories(fs::path(out) / "tensors");

  nlohmann::json config = c.to_json();
  config["command"] = command;
  config["dataset"] = dataset;
  config["method"] = model_config.value("method", "");
  write_json((fs::path(out) / "config.json").string(), config);

  const Batches batches = plan(c.n, c.batch_size);
  nlohmann::json metrics = {{"model_dir", c.model_dir}, {"dataset", dataset}, {"method", config["method"]},
                            {"n", c.n}, {"batches", batches.count}};
  double seconds = 0.0;
  std::map<std::string, double> sums;
  SamplingMonitor monitor(c.sampling.snapshots > 0 ? (fs::path(out) / "snapshots").string() : "", c.sampling.snapshots,
                          !c.quiet);
  auto batch_path = [&](int64_t k) { return (fs::path(out) / "tensors" / numbered("batch-", k, 5, ".pt")).string(); };

  if (toy) {
    LoadedToyModel loaded = load_toy_model(c.model_dir, (fs::path(out) / "checkpoints").string(), c.sampling, 1000);
    const GaussianMixture& truth = loaded.data.truth;
    auto& method = loaded.method;
    std::ofstream csv((fs::path(out) / "samples.csv").string());
    at::Tensor first;
    for (int64_t k = 0; k < batches.count; ++k) {
      at::Tensor x;
      if (c.resume && fs::exists(batch_path(k))) {
        x = load_tensor(batch_path(k));
      } else {
        auto gen = make_generator(derive_seed(c.runtime.seed, "sample/batch-" + std::to_string(k)));
        auto results = method->sample(batches.sizes[static_cast<size_t>(k)], gen);
        x = results.front().samples.to(torch::kCPU);
        seconds += results.front().seconds;
        add_stats(sums, results.front().stats);
        metrics["note"] = results.front().note;
        save_tensor(batch_path(k), x);
      }
      if (k == 0) first = x;
      auto acc = x.accessor<float, 2>();
      for (int64_t i = 0; i < x.size(0); ++i) {
        for (int64_t d = 0; d < x.size(1); ++d) csv << (d ? "," : "") << acc[i][d];
        csv << "\n";
      }
    }
    auto ref_gen = make_generator(derive_seed(c.runtime.seed, "sample/reference"));
    metrics["first_batch"] = toy_metrics_json(compute_toy_metrics(first, truth.sample(first.size(0), ref_gen), truth));
    if (gnuplot_available() && truth.dim() <= 2)
      plot_samples((fs::path(out) / "samples.png").string(), truth, {{config["method"], first}},
                   config["method"].get<std::string>() + " samples");
  } else {
    LoadedModels models = load_models(c.model_dir, c.stage2_dir, device);
    if (!c.guide_classifier.empty()) models.guide = load_guide_classifier(c.guide_classifier, models.main, device);
    c.sampling.validate_for(models);
    metrics["sampler"] = c.sampling.sampler_for(models.method());
    fs::create_directories(fs::path(out) / "images");
    int64_t index = 0;
    at::Tensor grid;
    for (int64_t k = 0; k < batches.count; ++k) {
      at::Tensor x;
      if (c.resume && fs::exists(batch_path(k))) {
        x = load_tensor(batch_path(k));
      } else {
        auto gen = make_generator(derive_seed(c.runtime.seed, "sample/batch-" + std::to_string(k)), device);
        ImageSamples s = draw_samples(c.sampling, models, batches.sizes[static_cast<size_t>(k)], gen, &monitor);
        x = s.samples.to(torch::kCPU);
        // The label each row was drawn for (class-conditional or classifier-guided models), beside the batch.
        if (s.labels.defined()) save_tensor_dict(batch_path(k) + ".labels", {{"labels", s.labels.cpu()}});
        seconds += s.seconds;
        add_stats(sums, s.stats);
        save_tensor(batch_path(k), x);
      }
      for (int64_t i = 0; i < x.size(0); ++i, ++index)
        write_png_grid((fs::path(out) / "images" / numbered("", index, 6, ".png")).string(), x.slice(0, i, i + 1), 1, 0);
      if (!grid.defined() || grid.size(0) < 64)
        grid = grid.defined() ? torch::cat({grid, x}, 0).slice(0, 0, 64) : x.slice(0, 0, 64);
    }
    write_png_grid((fs::path(out) / "grid.png").string(), grid);
    metrics["shape"] = {models.main.channels, models.main.size, models.main.size};
    metrics["scale"] = "model range [-1, 1] (tensors), PNGs clamped and quantised to 8 bits";
  }
  finish_stats(metrics, sums);
  metrics["seconds"] = seconds;
  metrics["seconds_per_sample"] = seconds / static_cast<double>(c.n);
  write_run_metrics(out, metrics);
  return read_run_metrics(out);
}

}  // namespace scorelab
