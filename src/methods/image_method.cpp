#include "methods/image_method.h"

#include <torch/torch.h>

#include <cmath>

#include "core/cli.h"
#include "core/error.h"
#include "core/noise.h"
#include "data/datasets.h"
#include "models/discretized_logistic.h"
#include "models/ncsnv2.h"
#include "models/pixelcnnpp.h"
#include "models/registry.h"
#include "models/unet.h"
#include "samplers/pixelcnn_sampling.h"

namespace scorelab {

SamplerArgs ImageMethod::sampler_args(const SamplingConfig&, const LoadedImageModel&) const {
  throw ConfigError("method " + name() + " has no score sampler; it draws pixel by pixel");
}

namespace {

constexpr const char* kRasterNote = "raster-order conditioning: known pixels after an unknown pixel cannot inform it";

StepCallback stage_callback(SamplingMonitor* monitor, const std::string& name, double scale = 1.0, double shift = 0.0) {
  return monitor ? monitor->stage(name, scale, shift) : StepCallback{};
}

// Known pixels from `known`, the rest from `x` (exact: no arithmetic on the known values).
at::Tensor impose(const at::Tensor& x, const at::Tensor& known, const at::Tensor& known_bool) {
  return torch::where(known_bool, known, x);
}

// ---- PixelCNN++ methods ------------------------------------------------------------------------------------

class PixelCnnMethod : public ImageMethod {
 public:
  bool likelihood() const override { return true; }
  void paper_preset(ImageTrainConfig& c, const Unset& unset) const override {
    // The authors' PixelCNN++ settings (Meng et al. configs).
    if (unset("batch-size")) c.train.batch_size = c.stage == 2 ? 50 : 80;
    if (unset("lr")) c.train.lr = 2e-4;
    if (unset("lr-schedule")) c.train.lr_schedule = "exp";
    if (unset("lr-decay")) c.train.lr_decay = 0.999995;
  }
};

class ArImageMethod : public PixelCnnMethod {
 public:
  std::string name() const override { return "ar"; }
  std::string help() const override { return "PixelCNN++ on clean data (discretized logistic mixture)"; }
  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t) const override {
    ImageModel m;
    auto net = std::make_shared<PixelCNNppImpl>(pixelcnn_config(c, channels));
    m.module = net;
    m.generators.emplace_back("dropout", net->dropout_generator());
    m.loss_unit = "bits/dim";
    m.display_scale = 1.0 / std::log(2.0);
    m.name = "pixelcnnpp";
    ObjectiveArgs a;
    a.log_prob = [net](const at::Tensor& x, const at::Tensor&) {
      return discretized_mix_logistic_log_prob(x, net->forward(x));
    };
    m.objective = objective_registry().get("nll")(a);
    return m;
  }
  void validate_for(const SamplingConfig&, const LoadedModels&) const override {}
  ImageSamples draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                    SamplingMonitor* monitor) const override {
    const LoadedImageModel& m = models.main;
    const int64_t c = m.channels, s = m.size;
    ImageSamples out;
    out.samples = sample_pixelcnnpp(pixelcnn_of(m.model), n, c, s, s, gen, pixelcnn_options(config, m.config.dataset, false),
                                    {}, {}, {}, stage_callback(monitor, "ar"));
    return out;
  }
  at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                     const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const override {
    const auto& m = models.main;
    const int64_t n = x0.size(0), c = m.channels, s = m.size;
    return sample_pixelcnnpp(pixelcnn_of(m.model), n, c, s, s, gen, pixelcnn_options(config, m.config.dataset, false), {},
                             x0, known.to(torch::kFloat32), stage_callback(monitor, "ar"));
  }
  nlohmann::json sampling_summary(const SamplingConfig&) const override {
    return {{"sampler", ""}, {"note", kRasterNote}};
  }
};

class SmoothedArImageMethod : public PixelCnnMethod {
 public:
  std::string name() const override { return "smoothed-ar"; }
  std::string help() const override {
    return "distribution smoothing: PixelCNN++ of x + sigma z, then reverse smoothing (single-step or stage 2)";
  }
  int max_stage() const override { return 2; }
  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t) const override {
    ImageModel m;
    auto net = std::make_shared<PixelCNNppImpl>(pixelcnn_config(c, channels));
    m.module = net;
    m.generators.emplace_back("dropout", net->dropout_generator());
    m.loss_unit = "bits/dim";
    m.display_scale = 1.0 / std::log(2.0);
    ObjectiveArgs a;
    a.sigma = c.smoothing_sigma();
    if (c.stage == 1) {
      m.name = "pixelcnnpp";
      a.log_prob = [net](const at::Tensor& x, const at::Tensor&) { return mix_logistic_log_prob(x, net->forward(x)); };
      m.objective = objective_registry().get("smoothed-nll")(a);
    } else {
      m.name = "pixelcnnpp-" + c.conditioning;
      a.target_noise = c.target_noise;
      a.log_prob = [net](const at::Tensor& x, const at::Tensor& cond) {
        return mix_logistic_log_prob(x, net->forward(x, cond));
      };
      m.objective = objective_registry().get("reverse-smoothing")(a);
    }
    return m;
  }
  void validate_for(const SamplingConfig& config, const LoadedModels& models) const override {
    if (config.denoise == "conditional-ar" && !models.stage2)
      throw ConfigError(
          "flag --denoise: conditional-ar needs the stage-2 model p(x | x~); give --stage2-dir DIR (a folder of "
          "`train --method smoothed-ar --stage 2`) or use --denoise single-step");
  }
  ImageSamples draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                    SamplingMonitor* monitor) const override {
    const LoadedImageModel& m = models.main;
    const int64_t c = m.channels, s = m.size;
    ImageSamples out;
    out.noisy = sample_pixelcnnpp(pixelcnn_of(m.model), n, c, s, s, gen, pixelcnn_options(config, m.config.dataset, true),
                                  {}, {}, {}, stage_callback(monitor, "stage1"));
    if (config.denoise == "single-step") {
      out.samples = denoise_single_step(pixelcnn_score_fn(m.model, config.grad == "detached"), out.noisy,
                                        m.config.smoothing_sigma(), gen, stage_callback(monitor, "single-step"));
    } else {
      out.samples = sample_pixelcnnpp(pixelcnn_of(models.stage2->model), n, c, s, s, gen,
                                      pixelcnn_options(config, m.config.dataset, false), out.noisy, {}, {},
                                      stage_callback(monitor, "stage2"));
    }
    return out;
  }
  // Stage 1 inpaints x~ given the smoothed known pixels, then the smoothing is reversed.
  at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                     const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const override {
    const auto& m = models.main;
    const int64_t n = x0.size(0), c = m.channels, s = m.size;
    const at::Tensor known_mask = known.to(torch::kFloat32);
    const double sigma = m.config.smoothing_sigma();
    const at::Tensor known_noisy = perturb_ve(x0, sigma, gen).noisy;
    const at::Tensor noisy =
        sample_pixelcnnpp(pixelcnn_of(m.model), n, c, s, s, gen, pixelcnn_options(config, m.config.dataset, true), {},
                          known_noisy, known_mask, stage_callback(monitor, "stage1"));
    if (config.denoise == "single-step")
      return denoise_single_step(pixelcnn_score_fn(m.model, config.grad == "detached"), noisy, sigma, gen,
                                 stage_callback(monitor, "single-step"));
    return sample_pixelcnnpp(pixelcnn_of(models.stage2->model), n, c, s, s, gen,
                             pixelcnn_options(config, m.config.dataset, false), noisy, x0, known_mask,
                             stage_callback(monitor, "stage2"));
  }
  nlohmann::json sampling_summary(const SamplingConfig& config) const override {
    nlohmann::json j = {{"denoise", config.denoise}, {"note", kRasterNote}};
    if (config.denoise == "single-step") j["grad"] = config.grad;
    return j;
  }
};

// ---- score methods -----------------------------------------------------------------------------------------

// A score network run by any registered sampler it offers the inputs for.
class ScoreImageMethod : public ImageMethod {
 public:
  void validate_for(const SamplingConfig& config, const LoadedModels& models) const override {
    const std::string s = config.sampler_for(name());
    check_sampler(s, offered(), "method " + name());
    // Building the sampler checks its settings against the model (e.g. --steps above the model's T).
    sampler_registry().get(s)(sampler_args(config, models.main));
  }
  ImageSamples draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                    SamplingMonitor* monitor) const override {
    const LoadedImageModel& m = models.main;
    auto sampler = make_image_sampler(config, m);
    const ImageDataTransform transform = data_transform();
    at::Tensor x = run_sampler(*sampler, n, {m.channels, m.size, m.size}, gen,
                               stage_callback(monitor, sampler->name(), transform.scale, transform.shift));
    ImageSamples out;
    out.samples = transform.to_model(x);
    out.stats = sampler->stats();
    return out;
  }
  // Inpainting as the sampler loop's projection hook, for every sampler: after init (where its level is
  // known) and after every step, the known pixels are replaced by a draw of q(x | x0_known) at the state's
  // level (the noise process's perturb), drawn once per level and reused while the level stays (NCSN
  // Algorithm 2: y = x_known + sigma_i z per level; DDPM / DDIM replacement: a fresh draw at every timestep),
  // and by x0_known itself once the state is clean.
  at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                     const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const override {
    auto sampler = make_image_sampler(config, models.main);
    const ImageDataTransform transform = data_transform();
    const at::Tensor y0 = transform.to_sampler(x0);
    struct Held {
      bool set = false;
      NoiseLevel level;
      at::Tensor y;
    };
    auto held = std::make_shared<Held>();
    SamplerHooks hooks(stage_callback(monitor, sampler->name(), transform.scale, transform.shift));
    hooks.project = [held, y0, known](const at::Tensor& x, const NoiseLevel& level, at::Generator& g) {
      if (level.clean()) return impose(x, y0, known);
      if (!held->set || held->level.index != level.index || held->level.sigma != level.sigma) {
        held->y = perturb(y0, level, g);
        held->level = level;
        held->set = true;
      }
      return impose(x, held->y, known);
    };
    const at::Tensor x = run_sampler(*sampler, x0.size(0), x0.sizes().slice(1), gen, hooks);
    return transform.to_model(x);
  }
  nlohmann::json sampling_summary(const SamplingConfig& config) const override {
    return {{"sampler", config.sampler_for(name())}};
  }
};

class NcsnImageMethod : public ScoreImageMethod {
 public:
  std::string name() const override { return "ncsn"; }
  std::string help() const override { return "NCSNv2 score network, DSM / SSM; annealed Langevin by default"; }
  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t size) const override {
    ImageModel m;
    auto net = build_model<NCSNv2Impl>("ncsnv2", model_args(c, channels, size));
    m.name = "ncsnv2";
    m.module = net;
    m.loss_unit = c.objective;
    m.eval_needs_grad = c.objective == "ssm";
    // The preset's noise set: NCSNv2's per-dataset one at --preset paper, sigma 1 -> 0.01 over 10 levels else.
    const bool paper = c.preset == "paper";
    const ImageDatasetInfo& info = image_dataset(c.dataset);
    const double smax = c.sigma_max > 0 ? c.sigma_max : (paper ? info.ncsn_paper_sigma_max : 1.0);
    const int64_t levels = c.levels > 0 ? c.levels : (paper ? info.ncsn_paper_levels : 10);
    if (smax <= c.sigma_min)
      throw ConfigError(flag_error("--sigma-max", std::to_string(smax), "a value above --sigma-min"));
    ObjectiveArgs a;
    a.sigmas = std::make_shared<SigmaSchedule>(smax, c.sigma_min, levels);
    m.sigmas = a.sigmas;
    // NCSN works on data in [0, 1] (REFERENCE 3): the objective sees (x + 1) / 2.
    a.score = [net](const at::Tensor& x, const at::Tensor& sigma) { return net->forward(x, sigma); };
    auto inner = std::shared_ptr<const Objective>(objective_registry().get(c.objective)(a));
    m.objective = make_objective(c.objective, [inner](const at::Tensor& x, at::Generator& g) {
      return inner->loss((x + 1) * 0.5, g);
    });
    return m;
  }
  void paper_preset(ImageTrainConfig& c, const Unset& unset) const override {
    if (unset("batch-size")) c.train.batch_size = 128;
    if (unset("lr")) c.train.lr = 1e-4;
    if (unset("ema")) c.train.ema = 0.999;
  }
  std::string default_sampler() const override { return "annealed-langevin"; }
  std::vector<std::string> offered() const override { return {"score", "sigmas", "process"}; }
  SamplerArgs sampler_args(const SamplingConfig& config, const LoadedImageModel& model) const override {
    SamplerArgs args;
    args.config = config.sampling;
    args.model = "method ncsn";
    args.config.init_low = 0.0;  // NCSN's data scale [0, 1]
    args.config.init_high = 1.0;
    args.score = ncsn_score_fn(model.model);
    args.sigmas = model.model.sigmas;
    args.process = std::make_shared<VarianceExploding>(*model.model.sigmas);
    return args;
  }
  ImageDataTransform data_transform() const override { return {2.0, -1.0}; }  // NCSN samples on [0, 1]
};

class DdpmImageMethod : public ScoreImageMethod {
 public:
  std::string name() const override { return "ddpm"; }
  std::string help() const override { return "DDPM U-Net, eps prediction (--hybrid: learned variances); ancestral by default"; }
  bool supports_hybrid() const override { return true; }
  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t size) const override {
    ImageModel m;
    auto net = build_model<UNetImpl>("unet", model_args(c, channels, size));
    m.name = "unet";
    m.module = net;
    m.loss_unit = c.hybrid ? "hybrid (mse + vlb bits/dim)" : "mse";
    ObjectiveArgs a;
    a.betas = std::make_shared<BetaSchedule>(BetaSchedule::by_name(c.beta_schedule, c.timesteps));
    m.betas = a.betas;
    a.antithetic = c.antithetic;
    a.eps = [net](const at::Tensor& x, const at::Tensor& t) { return net->forward(x, t); };
    m.objective = objective_registry().get(c.hybrid ? "ddpm-hybrid" : "ddpm")(a);
    return m;
  }
  void paper_preset(ImageTrainConfig& c, const Unset& unset) const override {
    if (unset("batch-size")) c.train.batch_size = 128;
    if (unset("lr")) c.train.lr = 2e-4;
    if (unset("ema")) c.train.ema = 0.9999;
    if (unset("grad-clip")) c.train.grad_clip = 1.0;
  }
  void small_preset(ImageTrainConfig& c, const Unset& unset) const override {
    if (unset("grad-clip")) c.train.grad_clip = 1.0;
  }
  std::string default_sampler() const override { return "ddpm"; }
  std::vector<std::string> offered() const override { return {"eps", "betas", "score", "process"}; }
  SamplerArgs sampler_args(const SamplingConfig& config, const LoadedImageModel& model) const override {
    SamplerArgs args;
    args.config = config.sampling;
    args.model = "method ddpm";
    args.eps = ddpm_eps_fn(model.model, model.channels);
    args.betas = model.model.betas;
    args.score = score_from_eps(args.eps, *model.model.betas);  // VE coordinates x_t / sqrt(abar_t)
    args.process = std::make_shared<VariancePreserving>(*model.model.betas);
    return args;
  }
};

}  // namespace

const std::vector<std::shared_ptr<const ImageMethod>>& image_methods() {
  static const std::vector<std::shared_ptr<const ImageMethod>> all = {
      std::make_shared<ArImageMethod>(), std::make_shared<SmoothedArImageMethod>(),
      std::make_shared<NcsnImageMethod>(), std::make_shared<DdpmImageMethod>()};
  return all;
}

std::vector<std::string> image_method_names() {
  std::vector<std::string> out;
  for (const auto& m : image_methods()) out.push_back(m->name());
  return out;
}

const ImageMethod& image_method(const std::string& name) {
  for (const auto& m : image_methods())
    if (m->name() == name) return *m;
  std::string known;
  for (const auto& n : image_method_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError(flag_error("--method", name, "one of " + known));
}

}  // namespace scorelab
