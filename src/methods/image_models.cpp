#include "methods/image_models.h"

#include "data/datasets.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "models/discretized_logistic.h"
#include "models/ncsnv2.h"
#include "models/pixelcnnpp.h"
#include "models/registry.h"
#include "models/unet.h"

namespace scorelab {

namespace {

PixelCNNppConfig pixelcnn_config(const ImageTrainConfig& c, int64_t channels) {
  PixelCNNppConfig p = pixelcnnpp_preset(c.preset, channels);
  if (c.nr_resnet > 0) p.nr_resnet = c.nr_resnet;
  if (c.nr_filters > 0) p.nr_filters = c.nr_filters;
  if (c.nr_logistic_mix > 0) p.nr_logistic_mix = c.nr_logistic_mix;
  p.input_channels = channels;
  p.dropout_seed = derive_seed(c.runtime.seed, "dropout");
  if (c.method == "smoothed-ar" && c.stage == 2)
    p.conditioning = parse_pixelcnn_conditioning(c.conditioning, "--conditioning");
  p.validate();
  return p;
}

}  // namespace

ImageShape image_dataset_shape(const std::string& dataset) {
  const ImageDatasetInfo& info = image_dataset(dataset);
  return {info.channels, info.size};
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

ImageModel build_image_model(const ImageTrainConfig& c, int64_t channels, int64_t size) {
  ImageModel m;
  const double to_bits = 1.0 / std::log(2.0);
  if (c.method == "ar" || c.method == "smoothed-ar") {
    auto cfg = pixelcnn_config(c, channels);
    auto net = std::make_shared<PixelCNNppImpl>(cfg);
    m.module = net;
    m.generators.emplace_back("dropout", net->dropout_generator());
    m.loss_unit = "bits/dim";
    m.display_scale = to_bits;
    ObjectiveArgs a;
    if (c.method == "ar") {
      m.name = "pixelcnnpp";
      a.log_prob = [net](const at::Tensor& x, const at::Tensor&) {
        return discretized_mix_logistic_log_prob(x, net->forward(x));
      };
      m.objective = objective_registry().get("nll")(a);
    } else if (c.stage == 1) {
      m.name = "pixelcnnpp";
      a.sigma = c.smoothing_sigma();
      a.log_prob = [net](const at::Tensor& x, const at::Tensor&) { return mix_logistic_log_prob(x, net->forward(x)); };
      m.objective = objective_registry().get("smoothed-nll")(a);
    } else {
      m.name = "pixelcnnpp-" + c.conditioning;
      a.sigma = c.smoothing_sigma();
      a.target_noise = c.target_noise;
      a.log_prob = [net](const at::Tensor& x, const at::Tensor& cond) {
        return mix_logistic_log_prob(x, net->forward(x, cond));
      };
      m.objective = objective_registry().get("reverse-smoothing")(a);
    }
    return m;
  }
  ModelArgs args;
  args.channels = channels;
  args.image_size = size;
  args.size_preset = c.preset;
  args.base_channels = c.base_channels;
  args.learn_sigma = c.hybrid;
  if (c.method == "ncsn") {
    auto net = build_model<NCSNv2Impl>("ncsnv2", args);
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
  if (c.method == "ddpm") {
    auto net = build_model<UNetImpl>("unet", args);
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
  throw ConfigError(flag_error("--method", c.method, "one of ar, smoothed-ar, ncsn, ddpm"));
}

}  // namespace scorelab
