// `train --dataset <toy>`: one toy model trained alone, reported like an image run.
#include <torch/torch.h>

#include <filesystem>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/precision.h"
#include "core/params_io.h"
#include "core/runtime.h"
#include "methods/toy_lab.h"
#include "toy/toy.h"
#include "methods/toy_train.h"

#include "methods/method.h"

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace scorelab {

LoadedToyModel load_toy_model(const std::string& model_dir, const std::string& work_dir, const SamplingConfig& sampling,
                              int64_t test_size, const LikelihoodConfig* likelihood) {
  const fs::path root(model_dir);
  nlohmann::json config = read_json((root / "config.json").string());
  const std::string name = config.value("method", "");
  const std::string dataset = config.value("dataset", "");
  ToyMethodConfig mc = ToyMethodConfig::from_json(config);
  // The sampler and its knobs are the user's; everything else (the grad of smoothed-ar's single step
  // included) is part of the checkpoint's fingerprint and stays as trained.
  mc.sampler = sampling.sampler;
  mc.sampling = sampling.sampling;
  mc.guidance_scale = sampling.guidance_scale;  // validated against the trained model below
  if (likelihood) {
    mc.likelihood = *likelihood;
    mc.sampling.variance = likelihood->variance;  // the bound's decoder variance
  }
  mc.train.resume = true;
  mc.train.quiet = true;
  mc.validate();
  const fs::path ckpts(work_dir);
  fs::create_directories(ckpts);
  int copied = 0;
  for (const auto& e : fs::directory_iterator(root))
    if (e.path().extension() == ".ckpt") {
      fs::copy_file(e.path(), ckpts / e.path().filename(), fs::copy_options::overwrite_existing);
      ++copied;
    }
  if (copied == 0) throw DataError("'" + model_dir + "' holds no .ckpt checkpoint of a toy model; train it again");
  const uint64_t seed = config.value("seed", uint64_t{0});
  ToyData data = make_toy_data(make_toy_dataset(dataset), seed, test_size);
  seed_module_init(derive_seed(seed, "init/" + name));
  auto method = toy_method_registry().get(name)(mc);
  auto train_gen = make_generator(derive_seed(seed, "train/" + name));
  method->train(data, train_gen, ckpts.string());
  for (const auto& [label, info] : method->train_info.items())
    if (info.value("iters", int64_t{0}) < mc.train.iters || !info.value("resumed", false))
      throw DataError("the checkpoint of '" + label + "' in '" + model_dir +
                      "' is not a finished training run of its config.json; finish it with `train ... --resume`");
  return LoadedToyModel{std::move(config), name, std::move(mc), std::move(data), std::move(method)};
}

nlohmann::json run_toy_train(const ImageTrainConfig& c, const po::variables_map& vm, const std::string& out,
                             const std::string& command) {
  auto given = [&](const char* flag) { return vm.count(flag) && !vm[flag].defaulted(); };
  const Method& method_info = get_method(c.method);  // the same names and stages as the toy methods
  if (c.stage != 1 && !(c.stage == 2 && method_info.max_stage() >= 2))
    throw ConfigError(flag_error("--stage", std::to_string(c.stage), "1 (2 only for a method with a stage-2 model)"));
  // The image networks' variants have no toy counterpart here (the toy lab's class-conditional ncsn is compare's
  // --condition component).
  const std::string toy_note = " for a mixture (train on a toy data set has no such network; compare --dataset " + c.dataset +
                               " --method ncsn --condition component trains the toy lab's class-conditional score)";
  if (given("score-net")) throw ConfigError(flag_error("--score-net", c.score_net, "ncsnv2" + toy_note));
  if (given("condition")) throw ConfigError(flag_error("--condition", c.condition, "none" + toy_note));
  if (given("label-dropout")) throw ConfigError(flag_error("--label-dropout", flag_value(c.label_dropout), "0" + toy_note));
  ToyMethodConfig mc;  // the toy lab's defaults, overridden by the flags given
  if (given("iters")) mc.train.iters = c.train.iters;
  if (given("batch-size")) mc.train.batch_size = c.train.batch_size;
  if (given("lr")) mc.train.lr = c.train.lr;
  if (given("lr-schedule")) mc.train.lr_schedule = c.train.lr_schedule;
  if (given("lr-decay")) mc.train.lr_decay = c.train.lr_decay;
  if (given("ema")) mc.train.ema = c.train.ema;
  if (given("grad-clip")) mc.train.grad_clip = c.train.grad_clip;
  if (given("budget-minutes")) mc.train.budget_minutes = c.train.budget_minutes;
  if (given("checkpoint-every")) mc.train.checkpoint_every = c.train.checkpoint_every;
  mc.train.skip_nonfinite = c.train.skip_nonfinite;
  mc.train.resume = c.train.resume;
  mc.train.quiet = c.train.quiet;
  if (c.sigma > 0) mc.sigma = c.sigma;
  if (given("sigma-max")) mc.sigma_max = c.sigma_max;
  if (given("sigma-min")) mc.sigma_min = c.sigma_min;
  if (c.levels > 0) mc.levels = c.levels;
  if (given("timesteps")) mc.timesteps = c.timesteps;
  mc.beta_schedule = c.beta_schedule;
  mc.antithetic = c.antithetic;
  mc.denoise = c.stage == 2 ? "conditional-ar" : "single-step";
  mc.validate();
  c.runtime.validate();
  set_threads(c.runtime.threads);
  resolve_device(c.runtime.device);
  set_precision(c.runtime.precision, c10::Device(c10::kCPU));  // the toy MLPs run on the CPU
  ensure_writable_dir(out);

  const GaussianMixture truth = make_toy_dataset(c.dataset);
  ToyData data = make_toy_data(truth, c.runtime.seed, 10000);
  seed_module_init(derive_seed(c.runtime.seed, "init/" + c.method));
  auto method = toy_method_registry().get(c.method)(mc);
  auto gen = make_generator(derive_seed(c.runtime.seed, "train/" + c.method));
  method->train(data, gen, out);
  const std::string label = method_info.max_stage() > 1 ? c.method + "-stage" + std::to_string(c.stage) : c.method;
  if (!method->train_info.contains(label) || !method->modules.count(label))
    throw std::logic_error("train: method " + c.method + " trained no model named " + label);
  const auto& info = method->train_info[label];
  const auto& module = method->modules.at(label);
  const std::string objective = info["objective"];
  const bool likelihood = objective == "nll" || objective == "smoothed-nll" || objective == "reverse-smoothing";
  const double seconds = info["seconds"];
  nlohmann::json metrics = {
      {"method", c.method}, {"stage", c.stage}, {"dataset", c.dataset}, {"model", label},
      {"params", info["params"]}, {"test_loss_initial", info["test_loss_initial"]},
      {"test_loss_final", info["test_loss_final"]}, {"loss_unit", likelihood ? "nats/dim" : objective},
      {"images_per_s", seconds > 0 ? info["iters"].get<double>() * mc.train.batch_size / seconds : 0.0},
      {"iters", info["iters"]}, {"train_s", seconds}, {"params_sha256", params_sha256(*module)},
      {"device", "cpu"}};
  export_state_dict(*module, (fs::path(out) / "model.pt").string());
  nlohmann::json config = mc.to_json();
  config["dataset"] = c.dataset;
  config["method"] = c.method;
  config["stage"] = c.stage;
  config["seed"] = c.runtime.seed;
  config["command"] = command;
  write_json((fs::path(out) / "config.json").string(), config);
  write_run_metrics(out, metrics);
  return metrics;
}

}  // namespace scorelab
