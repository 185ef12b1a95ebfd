#include "methods/image_train.h"

#include "data/datasets.h"
#include "data/source.h"
#include "methods/method.h"

#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/cli.h"
#include "eval/markdown.h"
#include "core/error.h"
#include "core/io.h"
#include "core/precision.h"
#include "core/params_io.h"
#include "core/schedule.h"
#include "data/image_data.h"
#include "eval/plot.h"
#include "methods/image_models.h"
#include "models/pixelcnnpp.h"
#include "objectives/objective.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace scorelab {

ImageTrainConfig::ImageTrainConfig() {
  train.iters = 300;
  train.batch_size = 32;
  train.lr = 1e-3;
  train.lr_schedule = "constant";
}

void ImageTrainConfig::add_options(po::options_description& desc) {
  po::options_description m("Image training");
  m.add_options()
      ("method", po::value(&method)->default_value(method), methods_help(" | ").c_str())
      ("stage", po::value(&stage)->default_value(stage), "smoothed-ar: 1 (p(x~)) or 2 (reverse smoothing p(x | x~))")
      ("dataset", po::value(&dataset)->default_value(dataset), [] {
        std::string images, mixtures;
        for (const auto& name : data_source_names()) {
          const DataSource s = data_source(name);
          if (s.from_file) continue;  // train reads no --mixture file
          std::string& list = s.images() ? images : mixtures;
          list += (list.empty() ? "" : " | ") + name;
        }
        return images + ", or a mixture (" + mixtures + ": trains the toy lab's model)";
      }().c_str())
      ("data-dir", po::value(&data_dir), "data folder (default: $SCORELAB_DATA or <repo>/data; scripts/get-data fills it)")
      ("preset", po::value(&preset)->default_value(preset), "model and training sizes: tiny (tests) | small (this CPU, minutes) | paper (reference sizes)")
      ("sigma", po::value(&sigma)->default_value(sigma), "smoothing sigma (0: 0.5 for MNIST and Fashion-MNIST, 0.3 for CIFAR-10)")
      ("conditioning", po::value(&conditioning)->default_value(conditioning), "stage 2: stacked (the authors') | stream (x~ fed to every layer)")
      ("target-noise", po::value(&target_noise)->default_value(target_noise), "stage 2: target dequantization std")
      ("blur-sigma", po::value(&blur_sigma)->default_value(blur_sigma),
       "smoothed-ar-blur, smoothed-ar-blur-noise: Gaussian blur std in pixels (0: 1)")
      ("nr-resnet", po::value(&nr_resnet)->default_value(nr_resnet), "PixelCNN++ gated resnets per stage (0: preset)")
      ("nr-filters", po::value(&nr_filters)->default_value(nr_filters), "PixelCNN++ filters (0: preset)")
      ("nr-logistic-mix", po::value(&nr_logistic_mix)->default_value(nr_logistic_mix), "PixelCNN++ mixture components (0: preset)")
      ("deconv-norm", po::value(&deconv_norm)->default_value(deconv_norm),
       "PixelCNN++ transposed-convolution weight norm: input (per input channel, the authors' PyTorch code) | output (per output channel, the TensorFlow original)")
      ("loss-reduction", po::value(&loss_reduction)->default_value(loss_reduction),
       "PixelCNN++ training loss for the gradient: sum (over batch and dimensions, the authors') | mean (per dimension); reported losses are bits/dim either way, --grad-clip applies to this gradient")
      ("base-channels", po::value(&base_channels)->default_value(base_channels), "NCSNv2 ngf / U-Net ch (0: preset)")
      ("sigma-max", po::value(&sigma_max)->default_value(sigma_max), "ncsn largest noise level (0: preset: 1 small, 50 paper CIFAR-10)")
      ("sigma-min", po::value(&sigma_min)->default_value(sigma_min), "ncsn smallest noise level")
      ("levels", po::value(&levels)->default_value(levels), "ncsn noise levels (0: preset: 10, 232 for paper CIFAR-10)")
      ("objective", po::value(&objective)->default_value(objective), "ncsn: dsm | ssm (sliced score matching, ~4x the compute)")
      ("score-net", po::value(&score_net)->default_value(score_net),
       "ncsn network: ncsnv2 (RefineNet) | unet (the DDPM U-Net with an NCSN head: UNet(x, t(log sigma)) / sigma)")
      ("condition", po::value(&condition)->default_value(condition),
       "ncsn, ddpm: none | class (class-conditional on the image label; samples draw labels uniformly)")
      ("label-dropout", po::value(&label_dropout)->default_value(label_dropout),
       "with --condition class: probability of training on the null label instead (classifier-free guidance; p > 0 also "
       "makes the model the marginal one, for likelihoods and inpainting)")
      ("timesteps", po::value(&timesteps)->default_value(timesteps), "ddpm T")
      ("beta-schedule", po::value(&beta_schedule)->default_value(beta_schedule), "ddpm betas: linear | cosine")
      ("antithetic", po::bool_switch(&antithetic), "ddpm: antithetic timestep sampling")
      ("hybrid", po::bool_switch(&hybrid), "ddpm: learned variances and the hybrid loss L_simple + 0.001 L_vlb (improved DDPM)")
      ("eval-every", po::value(&eval_every)->default_value(eval_every), "test-set evaluation every N iterations (0: 10 per run)")
      ("eval-images", po::value(&eval_images)->default_value(eval_images), "test images per evaluation (0: preset)")
      ("describe", po::bool_switch(&describe), "print the network's parameter count and layers as JSON and exit");
  desc.add(m);
  po::options_description t("Training");
  train.add_options(t);
  desc.add(t);
  po::options_description r("Run");
  runtime.add_options(r);
  desc.add(r);
}

void ImageTrainConfig::apply_preset(const po::variables_map& vm) {
  auto unset = [&](const char* flag) { return !vm.count(flag) || vm[flag].defaulted(); };
  if (preset == "tiny") {
    if (unset("iters")) train.iters = 3;
    if (unset("batch-size")) train.batch_size = 4;
    if (eval_images == 0) eval_images = 8;
  } else if (preset == "paper") {
    // The references' settings: PixelCNN++ (Meng et al. configs), NCSNv2, DDPM.
    get_method(method).paper_preset(*this, unset);
    if (unset("iters")) train.iters = 100000;
    if (eval_images == 0) eval_images = 10000;
  } else {
    // small: a few minutes per model on a 2-core CPU.
    if (unset("iters")) train.iters = 1000;
    if (unset("batch-size")) train.batch_size = 16;
    get_method(method).small_preset(*this, unset);
    if (eval_images == 0) eval_images = 500;
  }
  if (eval_every == 0) eval_every = std::max<int64_t>(1, train.iters / 10);
}

Smoothing ImageTrainConfig::smoothing() const {
  const std::string kind = get_method(method).smoothing_kind();
  if (kind == "blur") return {0.0, blur(), 1.0 / 255.0};  // dequantized 8-bit pixels: B (x + u) has a density
  if (kind == "blur+noise") return {smoothing_sigma(), blur()};
  return {smoothing_sigma(), 0.0};
}

double ImageTrainConfig::smoothing_sigma() const {
  if (sigma > 0) return sigma;
  return image_dataset(dataset).smoothing_sigma;
}

void ImageTrainConfig::validate() const {
  const Method& m = get_method(method);
  if (stage != 1 && stage != 2) throw ConfigError(flag_error("--stage", std::to_string(stage), "1 or 2"));
  std::string hybrid_methods, staged_methods;
  for (const auto& other : methods()) {
    if (other->supports_hybrid()) hybrid_methods += (hybrid_methods.empty() ? "" : ", ") + other->name();
    if (other->max_stage() > 1) staged_methods += (staged_methods.empty() ? "" : ", ") + other->name();
  }
  if (hybrid && !m.supports_hybrid())
    throw ConfigError(flag_error("--hybrid", "on", "only with --method " + hybrid_methods));
  if (stage > m.max_stage())
    throw ConfigError(flag_error("--stage", std::to_string(stage), "1 for method " + method + " (stage 2 is " +
                                                                        staged_methods + "'s reverse smoothing)"));
  require_one_of("--dataset", dataset, image_dataset_names());
  require_one_of("--preset", preset, {"tiny", "small", "paper"});
  require_nonnegative("--sigma", sigma);
  require_one_of("--conditioning", conditioning, {"stacked", "stream"});
  require_one_of("--deconv-norm", deconv_norm, {"input", "output"});
  require_one_of("--loss-reduction", loss_reduction, {"sum", "mean"});
  require_nonnegative("--target-noise", target_noise);
  require_nonnegative("--blur-sigma", blur_sigma);
  if (sigma > 0 && m.smoothing_kind() == "blur")
    throw ConfigError(flag_error("--sigma", flag_value(sigma), "0 for --method smoothed-ar-blur (blur without noise; "
                                                               "smoothed-ar-blur-noise adds noise)"));
  if (blur_sigma > 0 && m.smoothing_kind().rfind("blur", 0) != 0)
    throw ConfigError(flag_error("--blur-sigma", flag_value(blur_sigma), "0 unless --method smoothed-ar-blur or smoothed-ar-blur-noise"));
  for (auto [flag, v] : {std::pair<const char*, int64_t>{"--nr-resnet", nr_resnet}, {"--nr-filters", nr_filters},
                         {"--nr-logistic-mix", nr_logistic_mix}, {"--base-channels", base_channels},
                         {"--levels", levels}, {"--eval-every", eval_every}, {"--eval-images", eval_images}})
    if (v < 0) throw ConfigError(flag_error(flag, std::to_string(v), "an integer >= 0 (0: the preset's)"));
  require_nonnegative("--sigma-max", sigma_max);
  require_positive("--sigma-min", sigma_min);
  require_one_of("--objective", objective, {"dsm", "ssm"});
  require_one_of("--score-net", score_net, {"ncsnv2", "unet"});
  require_one_of("--condition", condition, {"none", "class"});
  if (score_net != "ncsnv2" && method != "ncsn")
    throw ConfigError(flag_error("--score-net", score_net, "ncsnv2 (the default) unless --method ncsn"));
  if (condition != "none" && method != "ncsn" && method != "ddpm")
    throw ConfigError(flag_error("--condition", condition, "none unless --method ncsn or ddpm"));
  if (!(label_dropout >= 0 && label_dropout < 1))
    throw ConfigError(flag_error("--label-dropout", flag_value(label_dropout), "a probability in [0, 1)"));
  if (label_dropout > 0 && condition == "none")
    throw ConfigError(flag_error("--label-dropout", flag_value(label_dropout), "0 unless --condition class"));
  if (condition != "none" && objective != "dsm")
    throw ConfigError(flag_error("--condition", condition, "none with --objective " + objective + " (the class-conditional network trains with dsm)"));
  if (timesteps < 2) throw ConfigError(flag_error("--timesteps", std::to_string(timesteps), "an integer >= 2"));
  require_one_of("--beta-schedule", beta_schedule, {"linear", "cosine"});
  train.validate();
  runtime.validate();
}

nlohmann::json ImageTrainConfig::to_json() const {
  nlohmann::json j = {{"method", method}, {"stage", stage}, {"dataset", dataset}, {"preset", preset},
          {"sigma", smoothing_sigma()}, {"conditioning", conditioning}, {"target_noise", target_noise},
          {"nr_resnet", nr_resnet}, {"nr_filters", nr_filters}, {"nr_logistic_mix", nr_logistic_mix},
          {"deconv_norm", deconv_norm}, {"loss_reduction", loss_reduction},
          {"base_channels", base_channels}, {"sigma_max", sigma_max}, {"sigma_min", sigma_min}, {"levels", levels},
          {"objective", objective}, {"timesteps", timesteps}, {"beta_schedule", beta_schedule}, {"antithetic", antithetic}, {"hybrid", hybrid},
          {"eval_every", eval_every}, {"eval_images", eval_images}, {"seed", runtime.seed},
          {"threads", runtime.threads}, {"precision", runtime.precision}, {"device", runtime.device},
          {"train", {{"iters", train.iters}, {"batch_size", train.batch_size}, {"lr", train.lr},
                     {"lr_schedule", train.lr_schedule}, {"lr_decay", train.lr_decay}, {"ema", train.ema},
                     {"grad_clip", train.grad_clip}, {"budget_minutes", train.budget_minutes},
                     {"checkpoint_every", train.checkpoint_every}, {"skip_nonfinite", train.skip_nonfinite}}}};
  // Only when set: the config.json (and checkpoint fingerprint) of every other run stays as it was.
  if (score_net != "ncsnv2") j["score_net"] = score_net;
  if (condition != "none") j["condition"] = condition;
  if (label_dropout > 0) j["label_dropout"] = label_dropout;
  if (smoothing().has_blur()) {  // blur smoothing: the corruption's two parameters
    j["sigma"] = smoothing().sigma;
    j["blur_sigma"] = blur();
  }
  return j;
}

nlohmann::json describe_image_model(const ImageTrainConfig& c) {
  auto shape = image_dataset_shape(c.dataset);
  ImageModel m = build_image_model(c, shape.channels, shape.size);
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& child : m.module->named_children()) {
    int64_t n = 0;
    for (const auto& p : child.value()->parameters()) n += p.numel();
    layers.push_back({{"name", child.key()}, {"params", n}});
  }
  return {{"model", m.name}, {"params", count_parameters(*m.module)}, {"layers", layers},
          {"loss_unit", m.loss_unit}, {"dataset", c.dataset}, {"preset", c.preset}};
}

nlohmann::json run_image_train(const ImageTrainConfig& c, const std::string& out, const std::string& command) {
  c.validate();
  set_threads(c.runtime.threads);
  const auto device = resolve_device(c.runtime.device);
  set_precision(c.runtime.precision, device);
  ensure_writable_dir(out);
  auto train_set = load_image_dataset(c.dataset, "train", c.data_dir);
  auto test_set = load_image_dataset(c.dataset, "test", c.data_dir);
  const at::Tensor train_x = to_model_range(train_set.images).to(device);
  const int64_t n_eval = std::min<int64_t>(c.eval_images, test_set.images.size(0));
  const at::Tensor test_x = to_model_range(test_set.images.slice(0, 0, n_eval)).to(device);
  const at::Tensor train_y = train_set.labels.to(device), test_y = test_set.labels.slice(0, 0, n_eval).to(device);
  const int64_t channels = train_x.size(1), size = train_x.size(2);

  seed_module_init(derive_seed(c.runtime.seed, "init"));
  ImageModel model = build_image_model(c, channels, size);
  model.module->to(device);
  nlohmann::json config = c.to_json();
  config["command"] = command;
  config["model"] = model.name;
  write_json((fs::path(out) / "config.json").string(), config);

  // Test loss with fixed noise draws, so that evaluations are comparable across iterations.
  const int64_t eval_batch = std::min<int64_t>(std::max<int64_t>(c.train.batch_size, 8), 100);
  auto evaluate = [&]() {
    torch::AutoGradMode grad_mode(model.eval_needs_grad);
    auto gen = make_generator(derive_seed(c.runtime.seed, "eval"), device);
    double total = 0.0;
    for (int64_t i = 0; i < n_eval; i += eval_batch) {
      auto x = test_x.slice(0, i, std::min(n_eval, i + eval_batch));
      if (model.labels) *model.labels = test_y.slice(0, i, std::min(n_eval, i + eval_batch));
      total += model.objective->loss(x, gen).per_example.sum().item<double>();
    }
    return model.display_scale * total / static_cast<double>(n_eval);
  };
  const bool was_training = model.module->is_training();
  model.module->eval();
  const double initial = evaluate();
  model.module->train(was_training);

  nlohmann::json fp = config;
  for (const char* k : {"command", "eval_every", "eval_images", "threads", "device", "precision"}) fp.erase(k);
  fp["train"].erase("iters");
  fp["train"].erase("budget_minutes");
  fp["train"].erase("checkpoint_every");
  fp["train"].erase("skip_nonfinite");  // tolerance for bad batches, not a model setting
  // Checkpoints written before --deconv-norm / --loss-reduction existed resume with the legacy values, and
  // the two settings are no part of a model that is not a PixelCNN++.
  if (!model.reference_sums_loss || c.deconv_norm == "output") fp.erase("deconv_norm");
  if (!model.reference_sums_loss || c.loss_reduction == "mean") fp.erase("loss_reduction");
  Trainer trainer(model.name, model.module, c.train, (fs::path(out) / "checkpoint.ckpt").string(),
                  (fs::path(out) / "train_loss.csv").string(), fp.dump());
  TrainerHooks hooks;
  hooks.evaluate = evaluate;
  hooks.eval_every = c.eval_every;
  hooks.display_scale = model.display_scale;
  hooks.display_unit = model.loss_unit;
  hooks.images_per_iter = c.train.batch_size;
  if (model.reference_sums_loss && c.loss_reduction == "sum")  // the global batch (data parallel: every rank's rows)
    hooks.loss_scale = static_cast<double>(c.train.batch_size) * static_cast<double>(train_x[0].numel());
  hooks.eval_log_path = (fs::path(out) / "test_loss.csv").string();
  trainer.set_hooks(hooks);
  for (const auto& [name, g] : model.generators) trainer.add_generator(name, g);
  auto gen = make_generator(derive_seed(c.runtime.seed, "train"), device);
  const int64_t n_train = train_x.size(0);
  auto result = trainer.fit(
      [&](int64_t, at::Generator& g) {
        auto idx = at::randint(n_train, {c.train.batch_size}, g, torch::TensorOptions().dtype(torch::kLong).device(device));
        if (model.labels) {  // class-conditional: the batch's labels, each the null label with --label-dropout p
          *model.labels = drop_labels(train_y.index_select(0, idx), c.label_dropout, model.null_label, g);
        }
        return model.objective->loss(train_x.index_select(0, idx), g).loss;
      },
      gen);
  trainer.use_ema_weights();
  const double final_loss = evaluate();
  // PixelCNN++ in the authors' layout (loads into their module with strict=True); the rest as registered.
  if (const auto* net = dynamic_cast<const PixelCNNppImpl*>(model.module.get()))
    save_tensor_dict((fs::path(out) / "model.pt").string(), net->reference_state_dict());
  else
    export_state_dict(*model.module, (fs::path(out) / "model.pt").string());

  std::vector<std::pair<double, double>> train_curve;
  for (auto [it, v] : result.loss_curve) train_curve.emplace_back(it, v * model.display_scale);
  std::vector<std::pair<double, double>> test_curve{{0.0, initial}};
  for (auto p : result.eval_curve) test_curve.push_back(p);
  test_curve.emplace_back(static_cast<double>(result.iters_done), final_loss);
  if (gnuplot_available())
    plot_lines((fs::path(out) / "losses.png").string(), {{"train", train_curve}, {"test", test_curve}}, "iteration",
               model.loss_unit, model.name + " on " + c.dataset + " (" + c.preset + " preset)");

  nlohmann::json metrics = {{"method", c.method}, {"stage", c.stage}, {"dataset", c.dataset}, {"preset", c.preset},
                            {"model", model.name}, {"params", count_parameters(*model.module)},
                            {"test_loss_initial", initial}, {"test_loss_final", final_loss},
                            {"loss_unit", model.loss_unit}, {"test_images", n_eval},
                            {"images_per_s", result.images_per_s}, {"iters", result.iters_done},
                            {"train_s", result.seconds}, {"resumed", result.resumed},
                            {"params_sha256", params_sha256(*model.module)}, {"device", device.str()},
                            {"test_curve", test_curve}};
  if (result.world_size > 1) {  // data parallel (a single process's metrics.json stays as it was)
    metrics["world_size"] = result.world_size;
    metrics["allreduce_s"] = result.allreduce_seconds;
  }
  write_run_metrics(out, metrics);
  return metrics;
}

}  // namespace scorelab
