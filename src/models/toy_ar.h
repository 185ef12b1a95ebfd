// Autoregressive density for low-dimensional data: p(x | c) = prod_d p(x_d | x_<d, c), each conditional a
// mixture of logistics whose parameters come from an MLP of (x_<d, c) (the toy analogue of PixelCNN++).
// With cond_dim > 0 it is the stage-2 model p(x | x~) of distribution smoothing.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

namespace scorelab {

struct ToyARConfig {
  int64_t dim = 2;
  int64_t cond_dim = 0;
  int64_t hidden = 128;
  int64_t depth = 3;
  int64_t mixtures = 10;
  double scale = 1.0;  // data scale: inputs are divided by it, locations and scales multiplied by it
};

class ToyARImpl : public torch::nn::Module {
 public:
  explicit ToyARImpl(const ToyARConfig& config);

  // Mixture parameters of p(x_pos | x_<pos, cond), [N, 3M], in data units.
  at::Tensor params(const at::Tensor& x, int64_t pos, const at::Tensor& cond = {});
  // log p(x | cond), [N] (nats).
  at::Tensor log_prob(const at::Tensor& x, const at::Tensor& cond = {});
  // Draws x[:, pos] given x[:, :pos]: [N].
  at::Tensor draw(const at::Tensor& x, int64_t pos, const at::Tensor& cond, at::Generator& gen);
  // grad_x log p(x | cond). detached = the authors' quirk (Meng et al. code): the network's outputs are
  // detached, so each coordinate only sees the derivative of its own conditional density.
  at::Tensor score(const at::Tensor& x, const at::Tensor& cond, bool detached);

  const ToyARConfig& config() const { return config_; }

 private:
  at::Tensor conditional_log_prob(const at::Tensor& x, const at::Tensor& cond, bool detach_params);
  ToyARConfig config_;
  at::Tensor base_;  // parameters of p(x_0) when it has no inputs
  torch::nn::ModuleList nets_;
};
TORCH_MODULE(ToyAR);

}  // namespace scorelab
