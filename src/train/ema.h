// Exponential moving average of parameters: shadow <- decay * shadow + (1 - decay) * param after every
// optimiser step (Polyak averaging; DDPM uses decay 0.9999). The shadow starts as a copy of the parameters.
#pragma once
#include <ATen/Tensor.h>
#include <vector>

namespace scorelab {

class Ema {
 public:
  Ema(std::vector<at::Tensor> params, double decay);
  void update();
  // Copies the shadow weights into the parameters.
  void copy_to_params() const;
  const std::vector<at::Tensor>& shadow() const { return shadow_; }
  std::vector<at::Tensor>& shadow() { return shadow_; }
  double decay() const { return decay_; }

 private:
  std::vector<at::Tensor> params_;
  std::vector<at::Tensor> shadow_;
  double decay_;
};

}  // namespace scorelab
