// The NCSNv2 noise-conditional score network (Song & Ermon 2020, "Improved techniques for training
// score-based generative models"; layout of the authors' `NCSNv2` model): a RefineNet-style U-shaped
// network whose encoder is a ResNet with InstanceNorm++ and ELU, dilations instead of downsampling in
// the deeper stages, and whose decoder is a chain of RefineNet blocks (residual conv units,
// multi-resolution fusion, chained residual pooling). The noise level enters only through the output
// scaling s(x, sigma) = net(x) / sigma (REFERENCE.md section 3).
//
// Stages for an image of size S (S even): res1 at S, res2 downsamples to S/2 (conv + 2x2 mean pool),
// res3 and res4 stay at S/2 with dilations 2 and 4 (in the reference these blocks are declared
// resample='down', but their dilated branch has no pooling: the dilation replaces the downsampling),
// refine1..3 at S/2, refine4 back at S.
//
// 28x28 images: handled natively, exactly as the reference does. The reference sets adjust_padding on
// res4 for image_size 28, but that flag only acts in the non-dilated downsampling branch and res4 is
// dilated, so it is a no-op there: the 28x28 network is the 32x32 layout running at 28 -> 14. No padding
// to 32 is done; any even size works.
#pragma once
#include <string>
#include <vector>

#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

namespace scorelab {

// InstanceNorm++ (Song & Ermon 2019, appendix): instance normalisation that keeps the information in
// the channel means, which plain instance norm removes (colour shifts):
//   mu_c = mean_{hw} x_c,  m, v = mean and (unbiased) variance of mu over channels,
//   h = (x - mu_c) / sqrt(var_c + 1e-5) + alpha_c (mu_c - m) / sqrt(v + 1e-5),
//   out = gamma_c h + beta_c.
// Unconditional (NCSNv2): alpha, gamma ~ N(1, 0.02), beta = 0 are parameters.
// Conditional (NCSN v1, num_classes > 0): gamma, alpha, beta are rows of an embedding indexed by the
// noise level (init: gamma, alpha ~ N(1, 0.02), beta = 0), and forward needs `level` [N] int64.
class InstanceNormPlusImpl : public torch::nn::Module {
 public:
  explicit InstanceNormPlusImpl(int64_t features, int64_t num_classes = 0, bool bias = true);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& level = {});
  bool conditional() const { return num_classes_ > 0; }

 private:
  int64_t features_, num_classes_;
  bool bias_;
  at::Tensor alpha_, gamma_, beta_;  // unconditional
  torch::nn::Embedding embed_{nullptr};  // conditional: [num_classes, 3F] (gamma | alpha | beta) or 2F
};
TORCH_MODULE(InstanceNormPlus);

// Pre-activation residual block of the encoder: norm, ELU, conv, norm, ELU, conv, plus a shortcut.
//   dilation 0, down:  conv3x3(in, in); conv3x3(in, out) + 2x2 mean pool; shortcut conv1x1 + mean pool.
//   dilation d, down:  dilated conv3x3(in, in); dilated conv3x3(in, out); shortcut dilated conv3x3 (no pooling).
//   no resample:       conv3x3(in, out); conv3x3(out, out) (dilated if d); identity shortcut (in == out).
class NCSNResBlockImpl : public torch::nn::Module {
 public:
  NCSNResBlockImpl(int64_t in, int64_t out, bool down, int64_t dilation, int64_t num_classes);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& level);

 private:
  bool down_, pool_;
  InstanceNormPlus norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_{nullptr};
};
TORCH_MODULE(NCSNResBlock);

// Residual conv units: `blocks` times x <- x + (ELU, conv3x3 without bias) x `stages`.
class RCUBlockImpl : public torch::nn::Module {
 public:
  RCUBlockImpl(int64_t features, int64_t blocks, int64_t stages);
  at::Tensor forward(at::Tensor x);

 private:
  int64_t blocks_, stages_;
  std::vector<torch::nn::Conv2d> convs_;
};
TORCH_MODULE(RCUBlock);

// Chained residual pooling: x = ELU(x); path = x; `stages` times path = conv(maxpool5x5(path)), x += path.
class CRPBlockImpl : public torch::nn::Module {
 public:
  CRPBlockImpl(int64_t features, int64_t stages);
  at::Tensor forward(at::Tensor x);

 private:
  std::vector<torch::nn::Conv2d> convs_;
};
TORCH_MODULE(CRPBlock);

// RefineNet block: an RCU(2 blocks, 2 stages) per input; with several inputs, multi-resolution fusion
// (conv3x3 per input to `features`, bilinear resize with align_corners to the output size, sum); then
// chained residual pooling (2 stages) and an output RCU (3 blocks if `end`, else 1).
class RefineBlockImpl : public torch::nn::Module {
 public:
  RefineBlockImpl(const std::vector<int64_t>& in_planes, int64_t features, bool end);
  at::Tensor forward(const std::vector<at::Tensor>& xs, at::IntArrayRef output_size);

 private:
  std::vector<RCUBlock> adapt_;
  std::vector<torch::nn::Conv2d> msf_;
  CRPBlock crp_{nullptr};
  RCUBlock output_{nullptr};
};
TORCH_MODULE(RefineBlock);

struct NCSNv2Config {
  int64_t channels = 3;     // image channels
  int64_t image_size = 32;  // height = width; must be even
  int64_t ngf = 128;        // base width; the deeper stages use 2 ngf
  // Map inputs from [0, 1] to [-1, 1] (h = 2x - 1) as the reference does for data that is neither
  // logit-transformed nor rescaled. Set false when the data is already in [-1, 1].
  bool rescale_input = true;
  // Empty: NCSNv2 (unconditional InstanceNorm++). Non-empty: every InstanceNorm++ becomes conditional
  // on the level index (NCSN v1's conditioning), the level being the nearest of these sigmas in log
  // scale; the output is still divided by sigma. The RefineNet blocks stay unnormalised as in NCSNv2.
  std::vector<double> sigmas;
  // > 0: class-conditional (issue 14, experiment 10): every InstanceNorm++ is conditional on the class label y
  // (0..classes-1), its rows indexed by level * classes + y (level 0 without `sigmas`); forward needs y.
  int64_t classes = 0;

  void validate() const;  // throws ConfigError
};

// Named sizes: "paper" (ngf 128, the NCSNv2 CIFAR-10 model: 29.7M parameters for 3 channels),
// "small" (ngf 32, minutes on a CPU), "tiny" (ngf 8, tests). Unknown names: ConfigError listing them.
NCSNv2Config ncsnv2_preset(const std::string& preset, int64_t channels, int64_t image_size);

// s(x, sigma) = net(x) / sigma.
class NCSNv2Impl : public torch::nn::Module {
 public:
  explicit NCSNv2Impl(const NCSNv2Config& config);
  // x [N, C, S, S], sigma [N] (or one value for all) -> score estimate [N, C, S, S]; y [N] int64 class labels
  // (or one for all), required by a class-conditional network and refused by an unconditional one.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sigma, const at::Tensor& y = {});
  // The level indices used by the conditional variant: nearest config.sigmas in log scale, [N] int64.
  at::Tensor levels(const at::Tensor& sigma) const;
  const NCSNv2Config& config() const { return config_; }

 private:
  NCSNv2Config config_;
  at::Tensor sigmas_;  // conditional variant only
  torch::nn::Conv2d begin_conv_{nullptr}, end_conv_{nullptr};
  std::vector<std::vector<NCSNResBlock>> stages_;  // res1..res4, two blocks each
  std::vector<RefineBlock> refine_;                // refine1..refine4
  InstanceNormPlus normalizer_{nullptr};
};
TORCH_MODULE(NCSNv2);

}  // namespace scorelab
