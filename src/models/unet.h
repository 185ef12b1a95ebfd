// The DDPM noise-prediction U-Net (Ho et al. 2020, the authors' `diffusion_tf/models/unet.py`;
// REFERENCE.md section 4): eps_theta(x_t, t).
//
//   temb = dense(4ch) o swish o dense(4ch) o sinusoidal(t, ch)
//   conv_in 3x3 -> ch; per resolution level i: num_res_blocks residual blocks to ch * ch_mult[i]
//   (+ self-attention when the current resolution is in attn_resolutions), then a stride-2 3x3 conv
//   downsample (not after the last level); middle: res, attention, res; up path mirrors it with
//   num_res_blocks + 1 blocks per level, each taking the concatenated skip, nearest x2 + conv3x3
//   upsampling; out: GroupNorm, swish, conv3x3 -> C (or 2C with learned variances).
//   Residual block: GN, swish, conv3x3, + dense(swish(temb)), GN, swish, dropout, conv3x3; 1x1 conv
//   shortcut when the width changes.
//
// GroupNorm groups: 32 as in the reference for its widths (128, 256); for narrow nets score_sde's rule
// min(C / 4, 32) (lowered to a divisor of C if needed), so every group keeps >= 4 channels. With one
// channel per group (e.g. GroupNorm(32) on 32 channels) GroupNorm is instance norm, and the second norm
// of each residual block would subtract exactly the per-channel time-embedding bias added just before it:
// the network could not see t.
// Downsampling pads like TensorFlow's 'SAME' (0 before, 1 after for even sizes), as the reference.
// Initialisation (reference_init): TensorFlow's variance_scaling(scale, fan_avg, uniform) on every
// conv / dense weight with zero biases; scale 1e-10 (the reference's "init_scale=0") on the second conv
// of every residual block, the attention output projection and conv_out, so each block starts close to
// the identity and the initial output is ~0.
#pragma once
#include <string>
#include <vector>

#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace scorelab {

constexpr int64_t kGroupNormGroups = 32;

// The largest divisor of `channels` that is <= min(channels / 4, 32) (at least 1): 32 for 128 and 256.
int64_t group_norm_groups(int64_t channels);

// DDPM's sinusoidal embedding (tensor2tensor form): with half = dim / 2,
// emb = [sin(t w_i), cos(t w_i)], w_i = exp(-log(10000) i / (half - 1)), i < half. [N] -> [N, dim].
at::Tensor ddpm_timestep_embedding(const at::Tensor& t, int64_t dim);

class UNetResBlockImpl : public torch::nn::Module {
 public:
  UNetResBlockImpl(int64_t in, int64_t out, int64_t temb_dim, double dropout);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb);

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, nin_shortcut_{nullptr};
  torch::nn::Linear temb_proj_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(UNetResBlock);

// Single-head self-attention over the H*W positions: x + proj_out(softmax(q^T k / sqrt(C)) v), with
// q, k, v 1x1 convolutions of GroupNorm(x).
class UNetAttnBlockImpl : public torch::nn::Module {
 public:
  explicit UNetAttnBlockImpl(int64_t channels);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::GroupNorm norm_{nullptr};
  torch::nn::Conv2d q_{nullptr}, k_{nullptr}, v_{nullptr}, proj_out_{nullptr};
};
TORCH_MODULE(UNetAttnBlock);

struct UNetConfig {
  int64_t channels = 3;     // image channels C
  int64_t image_size = 32;  // height = width; divisible by 2^(levels - 1)
  int64_t ch = 128;         // base width
  std::vector<int64_t> ch_mult = {1, 2, 2, 2};
  int64_t num_res_blocks = 2;
  std::vector<int64_t> attn_resolutions = {16};
  double dropout = 0.1;
  bool learn_sigma = false;    // output [eps, v] with 2C channels (improved DDPM hybrid loss)
  bool reference_init = true;  // the reference's initialisation (see above); false: LibTorch defaults
  // > 0: class-conditional: a learned label embedding (classes x 4 ch) is added to the time embedding after its
  // MLP (improved-diffusion's label_emb); forward then needs y.
  int64_t classes = 0;
  // Other input / output widths than C (0: C in, C or 2C out): ARDM's network reads [x, mask] (2C) and gives C * 256
  // logits (issue 15).
  int64_t input_channels = 0;
  int64_t output_channels = 0;

  void validate() const;  // throws ConfigError
  int64_t in_channels() const { return input_channels > 0 ? input_channels : channels; }
  int64_t out_channels() const {
    return output_channels > 0 ? output_channels : learn_sigma ? 2 * channels : channels;
  }
};

// Named sizes for an image size: "paper": ch 128, 2 res blocks, dropout 0.1, ch_mult (1,2,2,2) with
// attention at 16 for 32x32 (the DDPM CIFAR-10 model, 35.7M parameters), (1,2,2) with attention at 14
// for 28x28 (the second level, the analogue of CIFAR-10's 16). "small": ch 32, 1 res block, same
// multipliers and attention. "tiny": ch 8, (1,2), 1 res block, attention at image_size / 2, no dropout.
// Other image sizes: ch_mult (1,2,2,2) if divisible by 8, else (1,2,2) if by 4, attention at size / 2.
UNetConfig unet_preset(const std::string& preset, int64_t channels, int64_t image_size);

class UNetImpl : public torch::nn::Module {
 public:
  explicit UNetImpl(const UNetConfig& config);
  // x [N, C, S, S], t [N] timesteps (or one for all; integer for DDPM, any real for the NCSN head) ->
  // [N, C or 2C, S, S]; y [N] int64 class labels (or one for all), required by a class-conditional network.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y = {});
  const UNetConfig& config() const { return config_; }

 private:
  UNetConfig config_;
  torch::nn::Linear temb_dense0_{nullptr}, temb_dense1_{nullptr};
  torch::nn::Embedding label_emb_{nullptr};  // classes > 0
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  std::vector<std::vector<UNetResBlock>> down_blocks_, up_blocks_;
  std::vector<std::vector<UNetAttnBlock>> down_attn_, up_attn_;  // empty where no attention
  std::vector<torch::nn::Conv2d> downsample_, upsample_;         // per level; nullptr where none
  UNetResBlock mid_block1_{nullptr}, mid_block2_{nullptr};
  UNetAttnBlock mid_attn_{nullptr};
  torch::nn::GroupNorm norm_out_{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace scorelab
