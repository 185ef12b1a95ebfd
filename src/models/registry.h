// The model registry: network names -> constructors. Methods build their networks through it, so a
// name in a config or report always means the same architecture.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <torch/nn/module.h>

#include "core/registry.h"

namespace scorelab {

struct ModelArgs {
  int64_t dim = 2;        // data dimension
  int64_t cond_dim = 0;   // conditioning width (toy-ar as p(x | x~))
  int64_t classes = 0;    // class-conditional score-mlp: the number of labels (0: unconditional)
  int64_t hidden = 128;
  int64_t depth = 3;
  int64_t mixtures = 10;  // logistic components (autoregressive models)
  double scale = 1.0;     // data scale the network normalises by
  std::string precond = "none";        // score-mlp / eps-mlp: none | edm (ToyNetConfig::precond)
  std::vector<double> centre;          // score-mlp with edm: the data mean
  std::vector<double> alphas_cumprod;  // eps-mlp with edm: abar_t
  // Image score / noise networks (ncsnv2, unet).
  int64_t channels = 1;         // image channels (1 gray, 3 RGB)
  int64_t image_size = 28;      // height = width
  std::string size_preset = "small";  // tiny | small | paper (ncsnv2_preset / unet_preset)
  int64_t base_channels = 0;    // ncsnv2 ngf / unet ch; 0: the preset's
  double dropout = -1.0;        // unet dropout; < 0: the preset's
  bool learn_sigma = false;     // unet: 2C outputs (improved-DDPM learned variances)
  int64_t input_channels = 0;   // unet: other input / output widths (0: the image's; ARDM)
  int64_t categories = 0;       // ardm-mlp: classes per variable (the bins of each coordinate; 0: 256)
  int64_t output_channels = 0;
  // pixelcnnpp (also reads channels, mixtures, size_preset, base_channels as nr_filters, dropout).
  int64_t nr_resnet = 0;              // 0: the preset's
  std::string conditioning = "none";  // none | stacked | stream (p(x | x~))
};

using ModelFactory = std::function<std::shared_ptr<torch::nn::Module>(const ModelArgs&)>;
using ModelRegistry = Registry<ModelFactory>;

// toy-ar (ToyARImpl), score-mlp (ScoreMLPImpl), eps-mlp (EpsMLPImpl), ncsnv2 (NCSNv2Impl), unet (UNetImpl),
// pixelcnnpp (PixelCNNppImpl).
const ModelRegistry& model_registry();

// Builds `name` and checks that it is a `T` (e.g. ToyARImpl).
template <typename T>
std::shared_ptr<T> build_model(const std::string& name, const ModelArgs& args) {
  auto module = std::dynamic_pointer_cast<T>(model_registry().get(name)(args));
  if (!module) throw ConfigError("model '" + name + "' is not of the kind this method needs");
  return module;
}

}  // namespace scorelab
