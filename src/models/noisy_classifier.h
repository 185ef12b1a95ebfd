// A noise-aware image classifier for classifier guidance (Dhariwal & Nichol 2021, section 4; issue 15): logits
// [N, classes] of p(y | x, sigma) for images x = data + N(0, sigma^2 I) in a sampler's VE coordinates (ddpm: x_t /
// sqrt(abar_t) on the [-1, 1] scale; ncsn: its [0, 1] scale). Not the guided diffusion paper's half-U-Net: a small
// CNN of the same shape of conditioning, sized for MNIST-like data on CPU.
//
//   c_in = 1 / sqrt(data_std^2 + sigma^2)                     (EDM's input scaling: unit-variance inputs at every sigma)
//   e    = dense o SiLU o dense(sinusoidal(10 log sigma, embed))
//   h    = SiLU(GroupNorm(conv3x3(c_in x)) + dense_1(e))              width w
//   h    = SiLU(GroupNorm(conv3x3 stride 2 (h)) + dense_2(e))         width 2w
//   h    = SiLU(GroupNorm(conv3x3 stride 2 (h)) + dense_3(e))         width 4w
//   logits = linear(mean over pixels of h)
//
// SiLU everywhere (not ReLU): the sampler follows grad_x log p(y | x, sigma), which should be smooth in x.
#pragma once
#include <cstdint>

#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace scorelab {

struct NoisyClassifierConfig {
  int64_t channels = 1;   // image channels
  int64_t width = 32;     // w: the first block's channels (then 2w, 4w)
  int64_t classes = 10;
  int64_t embed = 64;     // noise-embedding width
  double data_std = 0.5;  // c_in's data scale (the data's std in the sampler's coordinates)
  void validate() const;  // ConfigError naming the field
};

class NoisyClassifierImpl : public torch::nn::Module {
 public:
  explicit NoisyClassifierImpl(const NoisyClassifierConfig& config);
  // x [N, C, H, W], sigma [N] or [1] (> 0): logits [N, classes].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sigma);
  const NoisyClassifierConfig& config() const { return config_; }

 private:
  NoisyClassifierConfig config_;
  torch::nn::ModuleList convs_{nullptr}, norms_{nullptr}, film_{nullptr};
  torch::nn::Linear emb1_{nullptr}, emb2_{nullptr}, head_{nullptr};
};
TORCH_MODULE(NoisyClassifier);

}  // namespace scorelab
