// Noise-conditional networks for low-dimensional data.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "models/mlp.h"

namespace scorelab {

struct ToyNetConfig {
  int64_t dim = 2;
  int64_t hidden = 128;
  int64_t depth = 3;
  int64_t embed = 32;
  double scale = 1.0;  // data scale (std of the data)
  // "edm": Karras et al. (2022)'s preconditioning (skip connection, input and output scales) instead of the
  // plain forms below; the losses stay the methods' own.
  std::string precond = "none";
  std::vector<double> centre;          // score-mlp with edm: the data mean the skip connection pulls to (empty: 0)
  std::vector<double> alphas_cumprod;  // eps-mlp with edm: abar_t for every timestep
  int64_t classes = 0;                 // score-mlp: class-conditional on this many labels (0: unconditional)
};

// s(x, sigma) = net(c_in x, embed(log sigma)) / sigma (NCSNv2's output scaling), with
// c_in = 1 / sqrt(scale^2 + sigma^2) so the network sees unit-variance inputs at every level.
// With precond "edm" (sigma_d = scale, m = centre): the denoiser D = m + c_skip (x - m) + c_out F(c_in (x - m),
// embed(log sigma)), c_skip = sigma_d^2 / (sigma^2 + sigma_d^2), c_out = sigma sigma_d / sqrt(sigma^2 + sigma_d^2),
// and s = (D - x) / sigma^2 = -(x - m) / (sigma^2 + sigma_d^2) + sigma_d F / (sigma sqrt(sigma^2 + sigma_d^2)):
// the score of the data's Gaussian fit plus a unit-scale correction.
class ScoreMLPImpl : public torch::nn::Module {
 public:
  explicit ScoreMLPImpl(const ToyNetConfig& config);
  // sigma: [N]; labels: [N] int64 in [0, classes) for a class-conditional network (config.classes > 0), whose
  // learned label embedding is added to the noise-level embedding; undefined for an unconditional one.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sigma, const at::Tensor& labels = {});

 private:
  ToyNetConfig config_;
  MLP net_{nullptr};
  torch::nn::Embedding label_embed_{nullptr};
  at::Tensor centre_;  // [1, dim] (edm)
};
TORCH_MODULE(ScoreMLP);

// eps_theta(x_t, t) = net(x_t, sinusoidal(t)): the DDPM noise predictor (data standardised by the caller).
// With precond "edm" (sigma_d = 1 on standardised data, sigma_t^2 = (1 - abar_t) / abar_t): EDM's denoiser on
// x_t / sqrt(abar_t), turned into eps, is eps = sqrt(1 - abar_t) x_t - sqrt(abar_t) F(x_t, sinusoidal(t)),
// i.e. the network predicts -v (Salimans & Ho 2022's v-prediction).
class EpsMLPImpl : public torch::nn::Module {
 public:
  explicit EpsMLPImpl(const ToyNetConfig& config);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t);  // t: [N] integer timesteps

 private:
  ToyNetConfig config_;
  MLP net_{nullptr};
  at::Tensor coef_;  // [T, 2]: sqrt(abar_t), sqrt(1 - abar_t) (edm; a buffer)
};
TORCH_MODULE(EpsMLP);

// A noise-aware classifier of the mixture component (classifier guidance, issue 15): logits [N, classes] of
// p(k | x, sigma) = softmax(net(c_in x, embed(log sigma))), c_in = 1 / sqrt(scale^2 + sigma^2), for x the data
// plus N(0, sigma^2 I) noise (the VE coordinates of the samplers).
class ToyClassifierImpl : public torch::nn::Module {
 public:
  explicit ToyClassifierImpl(const ToyNetConfig& config);  // config.classes: the components (> 0)
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sigma);  // sigma [N]

 private:
  ToyNetConfig config_;
  MLP net_{nullptr};
};
TORCH_MODULE(ToyClassifier);

}  // namespace scorelab
