#include "models/registry.h"

#include <torch/torch.h>

#include "models/ardm_net.h"
#include "models/ncsnv2.h"
#include "models/noisy_classifier.h"
#include "models/pixelcnnpp.h"
#include "models/toy_ar.h"
#include "models/toy_score.h"
#include "models/unet.h"

namespace scorelab {

const ModelRegistry& model_registry() {
  static const ModelRegistry reg = [] {
    ModelRegistry r("model");
    r.add("toy-ar", [](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      ToyARConfig c;
      c.dim = a.dim;
      c.cond_dim = a.cond_dim;
      c.hidden = a.hidden;
      c.depth = a.depth;
      c.mixtures = a.mixtures;
      c.scale = a.scale;
      return std::make_shared<ToyARImpl>(c);
    }, "autoregressive mixture-of-logistics MLP model, optionally conditional");
    auto net_config = [](const ModelArgs& a) {
      ToyNetConfig c;
      c.dim = a.dim;
      c.hidden = a.hidden;
      c.depth = a.depth;
      c.scale = a.scale;
      c.precond = a.precond;
      c.centre = a.centre;
      c.alphas_cumprod = a.alphas_cumprod;
      c.classes = a.classes;
      return c;
    };
    r.add("score-mlp", [net_config](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      return std::make_shared<ScoreMLPImpl>(net_config(a));
    }, "noise-conditional score MLP s(x, sigma) = net(x, sigma) / sigma");
    r.add("eps-mlp", [net_config](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      return std::make_shared<EpsMLPImpl>(net_config(a));
    }, "DDPM noise-prediction MLP with a sinusoidal time embedding");
    r.add("ncsnv2", [](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      auto c = ncsnv2_preset(a.size_preset, a.channels, a.image_size);
      if (a.base_channels > 0) c.ngf = a.base_channels;
      c.classes = a.classes;
      return std::make_shared<NCSNv2Impl>(c);
    }, "NCSNv2 RefineNet score network s(x, sigma) = net(x) / sigma (images; size from size_preset)");
    r.add("unet", [](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      auto c = unet_preset(a.size_preset, a.channels, a.image_size);
      if (a.base_channels > 0) c.ch = a.base_channels;
      if (a.dropout >= 0) c.dropout = a.dropout;
      c.learn_sigma = a.learn_sigma;
      c.classes = a.classes;
      c.input_channels = a.input_channels;
      c.output_channels = a.output_channels;
      return std::make_shared<UNetImpl>(c);
    }, "DDPM U-Net eps_theta(x_t, t) (images; size from size_preset; learn_sigma: 2C outputs)");
    r.add("classifier-mlp", [net_config](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      ToyNetConfig c = net_config(a);
      if (c.classes < 1) c.classes = 2;  // (default args: a two-class network)
      return std::make_shared<ToyClassifierImpl>(c);
    }, "noise-aware classifier logits p(k | x, sigma) of the mixture component (classifier guidance)");
    r.add("noisy-classifier", [](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      NoisyClassifierConfig c;
      c.channels = a.channels;
      if (a.base_channels > 0) c.width = a.base_channels;  // 0: the config's 32
      if (a.classes > 0) c.classes = a.classes;            // 0: the config's 10
      c.data_std = a.scale;
      return std::make_shared<NoisyClassifierImpl>(c);
    }, "noise-aware image classifier logits p(y | x, sigma) (image classifier guidance; scale: the data std)");
    r.add("ardm-mlp", [](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      ArdmMLPConfig c;
      c.dim = a.dim;
      if (a.categories > 0) c.categories = a.categories;  // 0: the config's 256
      c.hidden = a.hidden;
      c.depth = a.depth;
      return std::make_shared<ArdmMLPImpl>(c);
    }, "order-agnostic ARDM logits [N, D, K] of every coordinate given the known ones (mixtures, discretised)");
    r.add("pixelcnnpp", [](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      auto c = pixelcnnpp_preset(a.size_preset, a.channels);
      c.nr_logistic_mix = a.mixtures;
      if (a.nr_resnet > 0) c.nr_resnet = a.nr_resnet;
      if (a.base_channels > 0) c.nr_filters = a.base_channels;
      if (a.dropout >= 0) c.dropout = a.dropout;
      c.conditioning = parse_pixelcnn_conditioning(a.conditioning);
      return std::make_shared<PixelCNNppImpl>(c);
    }, "PixelCNN++ logistic-mixture parameters [N, 3M or 10M, H, W] (size from size_preset; optional p(x | x~))");
    return r;
  }();
  return reg;
}

}  // namespace scorelab
