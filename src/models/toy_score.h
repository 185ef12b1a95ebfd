// Noise-conditional networks for low-dimensional data.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "models/mlp.h"

namespace scorelab {

struct ToyNetConfig {
  int64_t dim = 2;
  int64_t hidden = 128;
  int64_t depth = 3;
  int64_t embed = 32;
  double scale = 1.0;  // data scale (std of the data)
};

// s(x, sigma) = net(c_in x, embed(log sigma)) / sigma (NCSNv2's output scaling), with
// c_in = 1 / sqrt(scale^2 + sigma^2) so the network sees unit-variance inputs at every level.
class ScoreMLPImpl : public torch::nn::Module {
 public:
  explicit ScoreMLPImpl(const ToyNetConfig& config);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sigma);  // sigma: [N]

 private:
  ToyNetConfig config_;
  MLP net_{nullptr};
};
TORCH_MODULE(ScoreMLP);

// eps_theta(x_t, t) = net(x_t, sinusoidal(t)): the DDPM noise predictor (data standardised by the caller).
class EpsMLPImpl : public torch::nn::Module {
 public:
  explicit EpsMLPImpl(const ToyNetConfig& config);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t);  // t: [N] integer timesteps

 private:
  ToyNetConfig config_;
  MLP net_{nullptr};
};
TORCH_MODULE(EpsMLP);

}  // namespace scorelab
