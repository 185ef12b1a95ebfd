#include "models/registry.h"

#include <torch/torch.h>

#include "models/toy_ar.h"
#include "models/toy_score.h"

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
      return c;
    };
    r.add("score-mlp", [net_config](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      return std::make_shared<ScoreMLPImpl>(net_config(a));
    }, "noise-conditional score MLP s(x, sigma) = net(x, sigma) / sigma");
    r.add("eps-mlp", [net_config](const ModelArgs& a) -> std::shared_ptr<torch::nn::Module> {
      return std::make_shared<EpsMLPImpl>(net_config(a));
    }, "DDPM noise-prediction MLP with a sinusoidal time embedding");
    return r;
  }();
  return reg;
}

}  // namespace scorelab
