#include "methods/image_sampling.h"

#include "dist/dist.h"

#include <torch/torch.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/cli.h"
#include "eval/markdown.h"
#include "core/error.h"
#include "core/zip_check.h"
#include "core/io.h"
#include "core/params_io.h"
#include "data/datasets.h"
#include "data/image_data.h"
#include "core/json_field.h"
#include "methods/method.h"
#include "eval/image_grid.h"
#include "models/discretized_logistic.h"
#include "models/ncsnv2.h"
#include "models/pixelcnnpp.h"
#include "models/unet.h"
#include "core/noise.h"
#include "samplers/denoise.h"
#include "samplers/pixelcnn_sampling.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace scorelab {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

// ---- loading -----------------------------------------------------------------------------------------------

ImageTrainConfig image_train_config_from_json(const nlohmann::json& j) {
  ImageTrainConfig c;
  read_json_field(j, "method", c.method);
  read_json_field(j, "stage", c.stage);
  read_json_field(j, "dataset", c.dataset);
  read_json_field(j, "preset", c.preset);
  read_json_field(j, "sigma", c.sigma);
  read_json_field(j, "conditioning", c.conditioning);
  read_json_field(j, "target_noise", c.target_noise);
  read_json_field(j, "nr_resnet", c.nr_resnet);
  read_json_field(j, "nr_filters", c.nr_filters);
  read_json_field(j, "nr_logistic_mix", c.nr_logistic_mix);
  c.deconv_norm = "output";  // folders written before --deconv-norm hold the per-output-channel form
  read_json_field(j, "deconv_norm", c.deconv_norm);
  c.loss_reduction = "mean";
  read_json_field(j, "loss_reduction", c.loss_reduction);
  read_json_field(j, "base_channels", c.base_channels);
  read_json_field(j, "sigma_max", c.sigma_max);
  read_json_field(j, "sigma_min", c.sigma_min);
  read_json_field(j, "levels", c.levels);
  read_json_field(j, "objective", c.objective);
  read_json_field(j, "score_net", c.score_net);
  read_json_field(j, "condition", c.condition);
  read_json_field(j, "label_dropout", c.label_dropout);
  read_json_field(j, "blur_sigma", c.blur_sigma);
  read_json_field(j, "timesteps", c.timesteps);
  read_json_field(j, "beta_schedule", c.beta_schedule);
  read_json_field(j, "antithetic", c.antithetic);
  read_json_field(j, "hybrid", c.hybrid);
  read_json_field(j, "seed", c.runtime.seed);
  return c;
}

LoadedImageModel build_loaded_image_model(const ImageTrainConfig& config, int64_t channels, int64_t size,
                                          c10::Device device) {
  LoadedImageModel out;
  out.config = config;
  out.channels = channels;
  out.size = size;
  out.model = build_image_model(config, channels, size);
  out.model.module->to(device);
  out.model.module->eval();
  return out;
}

LoadedImageModel load_image_model(const std::string& dir, c10::Device device) {
  const fs::path root(dir);
  const std::string hint = "train a model with `train --method ... --out " + dir + "` first";
  if (!fs::is_directory(root)) throw DataError("model folder '" + dir + "' does not exist; " + hint);
  const std::string config_path = (root / "config.json").string();
  if (!fs::exists(config_path)) throw DataError("'" + config_path + "' is missing; " + hint);
  const nlohmann::json j = read_json(config_path);
  ImageTrainConfig config;
  try {
    config = image_train_config_from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw DataError("'" + config_path + "' is not a train config: " + e.what());
  }
  if (!is_image_dataset(config.dataset))
    throw ConfigError(flag_error("--model-dir", dir,
                                 "a model trained on mnist, fashion-mnist or cifar10 (this one was trained on '" +
                                     config.dataset + "')"));
  try {
    config.validate();
  } catch (const ConfigError& e) {
    throw DataError("'" + config_path + "' holds an invalid train config: " + e.what());
  }
  const auto shape = image_dataset_shape(config.dataset);
  LoadedImageModel out = build_loaded_image_model(config, shape.channels, shape.size);
  out.dir = dir;

  const std::string weights = (root / "model.pt").string();
  const std::string checkpoint = (root / "checkpoint.ckpt").string();
  if (fs::exists(weights)) {
    import_state_dict(*out.model.module, weights);
  } else if (fs::exists(checkpoint)) {
    // Training stopped before model.pt: use the checkpoint's raw (non-EMA) weights.
    try {
      // Verify the container first: LibTorch's loader can crash on a corrupt byte (core/zip_check.h).
      const std::string bytes = read_file(checkpoint);
      if (const std::string problem = zip_integrity_problem(bytes.data(), bytes.size()); !problem.empty())
        throw DataError("checkpoint '" + checkpoint + "' is damaged (" + problem + "); retrain or restore it");
      torch::serialize::InputArchive archive, model_archive;
      archive.load_from(bytes.data(), bytes.size());
      archive.read("model", model_archive);
      out.model.module->load(model_archive);
    } catch (const c10::Error& e) {
      throw DataError("checkpoint '" + checkpoint + "' cannot be loaded into the " + out.model.name +
                      " that config.json describes: " + e.what_without_backtrace());
    }
  } else {
    throw DataError("'" + dir + "' has neither model.pt nor checkpoint.ckpt; " + hint);
  }
  out.model.module->to(device);
  out.model.module->eval();
  return out;
}

LoadedModels load_models(const std::string& model_dir, const std::string& stage2_dir, c10::Device device) {
  LoadedModels m{load_image_model(model_dir, device), std::nullopt};
  const auto& c = m.main.config;
  if (c.stage > 1)
    throw ConfigError(flag_error("--model-dir", model_dir,
                                 "the " + c.method + " stage-1 model p(x~); give the stage-2 folder as --stage2-dir"));
  if (stage2_dir.empty()) return m;
  if (get_method(c.method).max_stage() < 2)
    throw ConfigError(flag_error("--stage2-dir", stage2_dir, "only with a smoothed-ar --model-dir (method here: " +
                                                                 c.method + ")"));
  m.stage2 = load_image_model(stage2_dir, device);
  const auto& c2 = m.stage2->config;
  if (c2.method != c.method || c2.stage != 2)
    throw ConfigError(flag_error("--stage2-dir", stage2_dir,
                                 "a " + c.method + " stage-2 model (train --method " + c.method + " --stage 2); this one is " +
                                     c2.method + " stage " + std::to_string(c2.stage)));
  if (c2.dataset != c.dataset)
    throw ConfigError(flag_error("--stage2-dir", stage2_dir,
                                 "a model of the same dataset as --model-dir (" + c.dataset + "), not " + c2.dataset));
  if (std::abs(c2.smoothing_sigma() - c.smoothing_sigma()) > 1e-12)
    throw ConfigError(flag_error("--stage2-dir", stage2_dir,
                                 "a model trained at the same sigma as --model-dir (" +
                                     std::to_string(c.smoothing_sigma()) + "), not " +
                                     std::to_string(c2.smoothing_sigma())));
  if (std::abs(c2.smoothing().blur - c.smoothing().blur) > 1e-12)
    throw ConfigError(flag_error("--stage2-dir", stage2_dir,
                                 "a model trained with the same blur as --model-dir (--blur-sigma " +
                                     flag_value(c.smoothing().blur) + "), not " + flag_value(c2.smoothing().blur)));
  return m;
}

// ---- configuration -----------------------------------------------------------------------------------------

void SamplingConfig::add_image_options(po::options_description& desc) {
  desc.add_options()
      ("ar-draw", po::value(&ar_draw)->default_value(ar_draw),
       "ar / smoothed-ar pixel draw: bisection (inverse CDF, the authors') | logistic (Gumbel-max + logistic)")
      ("clamp", po::value(&clamp)->default_value(clamp), "ar / smoothed-ar: clamping of drawn values (see pixelcnn_sampling.h)")
      ("ar-naive", po::bool_switch(&ar_naive), "ar / smoothed-ar: one full network forward per pixel (no caching)")
      ("snapshots", po::value(&snapshots)->default_value(snapshots),
       "write K intermediate PNG grids per sampling stage (0: none)")
      ("guidance-scale", po::value(&guidance_scale)->default_value(guidance_scale),
       "classifier-free guidance w of a class-conditional model trained with --label-dropout: (1 + w) f(x | y) - w f(x) "
       "(0: the conditional model itself)")
      ("classifier-scale", po::value(&classifier_scale)->default_value(classifier_scale),
       "ncsn / ddpm classifier guidance: each sample drawn for a uniformly random digit y along s(x) + S grad log p(y | x, "
       "sigma) of a noise-aware classifier (compare trains one: --guide-classifier; 0: unguided)")
      ("ardm-steps", po::value(&ardm_steps)->default_value(ardm_steps),
       "ardm: decoding steps, the pixels drawn in that many groups in a random order (0: one pixel per step, C*H*W "
       "network evaluations)");
}

void SamplingConfig::add_options(po::options_description& desc) {
  add_image_options(desc);
  desc.add_options()
      ("denoise", po::value(&denoise)->default_value(denoise),
       "smoothed-ar stage 2: single-step (x~ + sigma^2 grad log p(x~)) | conditional-ar (needs --stage2-dir)")
      ("grad", po::value(&grad)->default_value(grad),
       "smoothed-ar single-step gradient: full (backprop through the network) | detached (the authors' quirk)")
      ("sampler", po::value(&sampler),
       ("ncsn: annealed-langevin (default); ddpm: ddpm (default); any sampler that runs on the model: " +
        sampler_registry().known_list()).c_str());
  sampling.add_options(desc);
}

void SamplingConfig::validate() const {
  require_one_of("--ar-draw", ar_draw, {"bisection", "logistic"});
  require_one_of("--denoise", denoise, {"single-step", "conditional-ar"});
  require_one_of("--grad", grad, {"full", "detached"});
  if (!sampler.empty() && !sampler_registry().contains(sampler))
    throw ConfigError(flag_error("--sampler", sampler, "one of " + sampler_registry().known_list()));
  if (snapshots < 0) throw ConfigError(flag_error("--snapshots", std::to_string(snapshots), "an integer >= 0"));
  require_nonnegative("--guidance-scale", guidance_scale);
  require_nonnegative("--classifier-scale", classifier_scale);
  if (ardm_steps < 0)
    throw ConfigError(flag_error("--ardm-steps", std::to_string(ardm_steps), "an integer >= 0 (0: one pixel per step)"));
  if (sample_batch < 0)
    throw ConfigError(flag_error("--sample-batch", std::to_string(sample_batch), "an integer >= 0 (0: all at once)"));
  sampling.validate();
  scorelab::validate(pixelcnn_options(*this, image_datasets().front().name, false));  // --clamp and the draw, as the PixelCNN++ sampler sees them
}

std::string SamplingConfig::sampler_for(const std::string& method) const {
  const std::string fallback = get_method(method).default_sampler();
  if (fallback.empty()) return "";  // draws pixel by pixel
  return sampler.empty() ? fallback : sampler;
}

void SamplingConfig::validate_for(const LoadedModels& models) const {
  get_method(models.method()).validate_for(*this, models);
  if (guidance_scale != 0.0 && models.main.model.null_label < 0)
    throw ConfigError(flag_error("--guidance-scale", flag_value(guidance_scale),
                                 "0 for this model (classifier-free guidance needs an ncsn or ddpm model trained with "
                                 "--condition class --label-dropout p > 0)"));
  if (classifier_scale != 0.0 && !models.guide)
    throw ConfigError(flag_error("--classifier-scale", flag_value(classifier_scale),
                                 "0 here (classifier guidance needs a noise-aware classifier of an ncsn or ddpm model: "
                                 "compare --classifier-scale trains one, sample takes it with --guide-classifier DIR)"));
}

nlohmann::json SamplingConfig::to_json() const {
  nlohmann::json j = {{"ar_draw", ar_draw}, {"clamp", clamp}, {"ar_naive", ar_naive}, {"denoise", denoise}, {"grad", grad},
          {"sampler", sampler}, {"snapshots", snapshots},
          {"sampling", {{"langevin_preset", sampling.langevin_preset}, {"step_size", sampling.step_size}, {"steps_per_level", sampling.steps_per_level},
                        {"step_rule", sampling.step_rule}, {"final_denoise", sampling.final_denoise},
                        {"ddpm_variance", sampling.variance},
                        {"clip_x0", sampling.clip_x0 ? nlohmann::json(*sampling.clip_x0) : nlohmann::json(nullptr)},
                        {"ddim_steps", sampling.ddim_steps}, {"eta", sampling.eta}, {"spacing", sampling.spacing}}}};
  // Issue 14's annealed-Langevin schedules, only when set: finished comparisons from before them still match.
  if (sampling.alpha_rule != "sigma2") j["sampling"]["alpha_rule"] = sampling.alpha_rule;
  if (sampling.level_steps != "uniform") j["sampling"]["level_steps"] = sampling.level_steps;
  if (guidance_scale != 0.0) j["guidance_scale"] = guidance_scale;
  if (classifier_scale != 0.0) j["classifier_scale"] = classifier_scale;
  if (ardm_steps != 0) j["ardm_steps"] = ardm_steps;
  return j;
}

// ---- progress and snapshots --------------------------------------------------------------------------------

SamplingMonitor::SamplingMonitor(std::string dir, int64_t snapshots, bool progress)
    : state_(std::make_shared<State>()) {
  TORCH_CHECK(snapshots >= 0, "SamplingMonitor: snapshots must be >= 0, got ", snapshots);
  state_->dir = std::move(dir);
  state_->snapshots = snapshots;
  state_->progress = progress;
}

std::vector<int64_t> SamplingMonitor::snapshot_steps(int64_t steps, int64_t snapshots) {
  std::vector<int64_t> out;
  if (steps <= 0 || snapshots <= 0) return out;
  const int64_t k_max = std::min(steps, snapshots);
  for (int64_t k = 0; k < k_max; ++k) out.push_back(((k + 1) * steps + k_max - 1) / k_max - 1);
  return out;
}

StepCallback SamplingMonitor::stage(const std::string& name, double scale, double shift) {
  struct StageState {
    Clock::time_point t0 = Clock::now();
    Clock::time_point last_print = Clock::now();
    std::vector<int64_t> snap;
    size_t next = 0;
    bool init = false;
  };
  auto st = state_;
  auto ss = std::make_shared<StageState>();
  const bool tty = ::isatty(::fileno(stderr));
  return [st, ss, name, scale, shift, tty](int64_t i, int64_t n, const at::Tensor& x) {
    if (!ss->init) {
      ss->init = true;
      if (!st->dir.empty()) ss->snap = snapshot_steps(n, st->snapshots);
    }
    if (ss->next < ss->snap.size() && ss->snap[ss->next] == i) {
      ++ss->next;
      char file[64];
      std::snprintf(file, sizeof file, "-%06lld.png", static_cast<long long>(i + 1));
      const std::string path = (fs::path(st->dir) / ("snapshot-" + name + file)).string();
      write_png_grid(path, x.detach() * scale + shift);
      st->files.push_back(path);
    }
    if (!st->progress) return;
    const auto now = Clock::now();
    const bool last = i + 1 == n;
    if (!last && std::chrono::duration<double>(now - ss->last_print).count() < (tty ? 0.5 : 10.0)) return;
    ss->last_print = now;
    const double elapsed = std::chrono::duration<double>(now - ss->t0).count();
    const double eta = elapsed / static_cast<double>(i + 1) * static_cast<double>(n - i - 1);
    std::fprintf(stderr, "%s[sample %s] step %lld/%lld  elapsed %.1fs  ETA %.0fs%s", tty ? "\r" : "", name.c_str(),
                 static_cast<long long>(i + 1), static_cast<long long>(n), elapsed, eta,
                 tty && !last ? "   " : "\n");
  };
}

// ---- building blocks ---------------------------------------------------------------------------------------

at::Tensor ImageDataTransform::to_sampler(const at::Tensor& x) const {
  return scale == 1.0 && shift == 0.0 ? x : (x - shift) * (1.0 / scale);
}

at::Tensor ImageDataTransform::to_model(const at::Tensor& x) const {
  return scale == 1.0 && shift == 0.0 ? x : x * scale + shift;
}

ImageDataTransform sampler_data_transform(const LoadedImageModel& model) {
  return get_method(model.config.method).data_transform();
}

PixelCNNppImpl& pixelcnn_of(const ImageModel& model) {
  auto* net = dynamic_cast<PixelCNNppImpl*>(model.module.get());
  if (!net) throw std::logic_error("model '" + model.name + "' is not a PixelCNN++");
  return *net;
}

PixelCNNSampleOptions pixelcnn_options(const SamplingConfig& config, const std::string& dataset, bool continuous) {
  PixelCNNSampleOptions o;
  o.draw = config.ar_draw;
  o.continuous = continuous;
  o.bisection = image_dataset(dataset).bisection;
  o.clamp = config.clamp;
  o.cached = !config.ar_naive;
  return o;
}

ScoreFn pixelcnn_score_fn(const ImageModel& stage1, bool detached) {
  auto net = std::dynamic_pointer_cast<PixelCNNppImpl>(stage1.module);
  if (!net) throw std::logic_error("pixelcnn_score_fn: model '" + stage1.name + "' is not a PixelCNN++");
  return [net, detached](const at::Tensor& x, double) {
    torch::AutoGradMode grad_mode(true);
    at::Tensor xi = x.detach().requires_grad_(true);
    at::Tensor params = net->forward(xi);
    // The authors' quirk: with detached params the gradient only flows through each pixel's own density.
    if (detached) params = params.detach();
    at::Tensor log_p = mix_logistic_log_prob(xi, params).sum();
    return torch::autograd::grad({log_p}, {xi})[0].detach();
  };
}

ScoreFn ncsn_score_fn(const ImageModel& model, double guidance) {
  if (!model.score) throw std::logic_error("ncsn_score_fn: model '" + model.name + "' is not an ncsn score network");
  return [model, guidance](const at::Tensor& x, double sigma) {
    const at::Tensor s = torch::full({1}, sigma, x.options());
    return guided(model, guidance, x, [&] { return model.score(x, s); });
  };
}

EpsFn ddpm_eps_fn(const ImageModel& model, int64_t channels, double guidance) {
  if (!model.eps) throw std::logic_error("ddpm_eps_fn: model '" + model.name + "' is not a U-Net");
  return [model, channels, guidance](const at::Tensor& x, int64_t t) {
    auto steps = torch::full({1}, t, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    return guided(model, guidance, x, [&] { return model.eps(x, steps).slice(1, 0, channels); });
  };
}

std::unique_ptr<Sampler> make_image_sampler(const SamplingConfig& config, const LoadedImageModel& model,
                                            const ClassifierGuide& guide) {
  const Method& method = get_method(model.config.method);
  return sampler_registry().get(config.sampler_for(method.name()))(method.sampler_args(config, model, guide));
}

at::Tensor denoise_single_step(const ScoreFn& score, const at::Tensor& x_noisy, double sigma, at::Generator& gen,
                               const StepCallback& on_step) {
  SingleStepDenoiser denoiser(score, sigma);
  return run_sampler_from(denoiser, x_noisy, gen, on_step);
}

// ---- drawing -----------------------------------------------------------------------------------------------

ImageSamples draw_samples(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                          SamplingMonitor* monitor) {
  config.validate();
  config.validate_for(models);
  TORCH_CHECK(n > 0, "draw_samples: expected n > 0, got ", n);
  const auto t0 = Clock::now();
  torch::NoGradGuard no_grad;
  ImageSamples out = get_method(models.method()).draw(config, models, n, gen, monitor);
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

ImageSamples draw_samples_sharded(const SamplingConfig& config, const LoadedModels& models, int64_t n, uint64_t seed,
                                  c10::Device device, SamplingMonitor* monitor) {
  ImageSamples out;
  std::vector<at::Tensor> noisy_parts, label_parts;
  int64_t drawn = 0;  // this rank's rows so far (the stats are their row-weighted means)
  out.samples = dist::sharded_draw(
      n, seed, device,
      [&](int64_t begin, int64_t end, at::Generator& gen) {
        ImageSamples part = draw_samples(config, models, end - begin, gen, monitor);
        const double w_old = static_cast<double>(drawn), w_new = static_cast<double>(end - begin);
        out.seconds += part.seconds;
        if (drawn == 0)
          out.stats = part.stats;
        else
          for (const auto& [key, value] : part.stats)
            out.stats[key] = ((out.stats.count(key) ? out.stats[key] * w_old : 0.0) + value * w_new) / (w_old + w_new);
        drawn += end - begin;
        if (part.noisy.defined()) noisy_parts.push_back(part.noisy);
        if (part.labels.defined()) label_parts.push_back(part.labels);
        return part.samples;
      },
      config.sample_batch);
  const at::Tensor noisy = noisy_parts.empty() ? at::Tensor()
                           : noisy_parts.size() == 1 ? noisy_parts.front() : torch::cat(noisy_parts, 0);
  const at::Tensor labels = label_parts.empty() ? at::Tensor() : torch::cat(label_parts, 0);
  if (!dist::active()) {
    out.noisy = noisy;
    out.labels = labels;
    return out;
  }
  if (noisy.defined()) out.noisy = dist::gather_rows(noisy);
  if (labels.defined()) out.labels = dist::gather_rows(labels);
  const auto secs = dist::gather_doubles(out.seconds);
  out.seconds = *std::max_element(secs.begin(), secs.end());
  const auto [begin, end] = dist::shard_range(n, dist::rank(), dist::world_size());
  for (auto& [key, value] : out.stats) {
    double sum = 0.0;
    for (double v : dist::gather_doubles(value * static_cast<double>(end - begin))) sum += v;
    value = sum / static_cast<double>(n);
  }
  return out;
}

}  // namespace scorelab
