// Small building blocks of the toy networks: an MLP and the sinusoidal embedding of DDPM/Transformers.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

namespace scorelab {

// in -> [hidden, act] x depth -> out. Activation: SiLU (swish).
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(int64_t in, int64_t hidden, int64_t depth, int64_t out);
  at::Tensor forward(const at::Tensor& x);
  // The last linear layer (to initialise output biases).
  torch::nn::Linear& last() { return last_; }

 private:
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear last_{nullptr};
};
TORCH_MODULE(MLP);

// emb(t)_i = sin(t / 10000^(i/(d/2))) for i < d/2, cos(...) for the rest (Vaswani et al.; DDPM).
at::Tensor sinusoidal_embedding(const at::Tensor& t, int64_t dim, double max_period = 10000.0);

}  // namespace scorelab
