// PixelCNN++ (Salimans, Karpathy, Chen, Kingma, ICLR 2017), as published (REFERENCE.md section 2), with two
// optional conditioning modes for the reverse-smoothing model p(x | x~) of Meng et al. (2021).
//
// Layers follow the authors' code: shifted convolutions instead of masks, an "up" (u) stream that sees the
// rows above and an "up-left" (ul) stream that sees the rows above and the pixels to the left, gated
// resnets with concat_elu, weight normalisation everywhere, and a 1x1 (nin) head that emits the
// logistic-mixture parameters read by models/discretized_logistic.h.
//
// Initialisation is data-independent: every weight-normalised layer starts like PyTorch's default
// (v ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias likewise) with g = ||v||, so w = v at init. This is what the
// PyTorch port (pclucas14/pixel-cnn-pp, which Meng et al. build on) does; the TensorFlow original instead runs
// a data-dependent init pass that sets g and b from the first batch's statistics. Not implemented.
// Transposed convolutions normalise per *input* channel by default, as the authors' PyTorch code does
// (torch.nn.utils.weight_norm(dim=0) on ConvTranspose2d, whose weight is [in, out, kh, kw]: g is [in, 1, 1, 1]).
// PixelCNNppConfig::deconv_norm = "output" normalises per output channel as the TensorFlow original does (g
// [1, out, 1, 1]; scorelab's only form before, and what model folders without the key in config.json hold).
// The forward pass of one form converts exactly into the other; training differs (another parametrisation).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

namespace scorelab {

// ---- shifts and nonlinearity -----------------------------------------------------------------------------

// Drops the last row and zero-pads the first: out[:, :, i] = x[:, :, i - 1] (0 for i = 0).
at::Tensor down_shift(const at::Tensor& x);
// Drops the last column and zero-pads the first: out[..., j] = x[..., j - 1] (0 for j = 0).
at::Tensor right_shift(const at::Tensor& x);
// concat_elu(x) = elu([x, -x]) along channels: doubles the channel count.
at::Tensor concat_elu(const at::Tensor& x);

// ---- weight-normalised primitives ------------------------------------------------------------------------

// Convolution (or stride-s transposed convolution, output_padding s - 1) with weight normalisation
// (Salimans & Kingma 2016): w = g * v / ||v||, the norm taken per output channel (convolutions), and for a
// transposed convolution per input channel (per_input, PyTorch's weight_norm(dim=0) on its [in, out, kh, kw]
// weight) or per output channel. Parameters are named like torch.nn.utils.weight_norm's: weight_v, weight_g,
// bias. No padding: the shifted layers below pad.
class WNConv2dImpl : public torch::nn::Module {
 public:
  WNConv2dImpl(int64_t in, int64_t out, std::array<int64_t, 2> kernel, int64_t stride = 1, bool transposed = false,
               bool per_input = true);
  at::Tensor forward(const at::Tensor& x);
  // The effective weight g * v / ||v||.
  at::Tensor weight() const;

  at::Tensor weight_v, weight_g, bias;

 private:
  int64_t stride_;
  bool transposed_, per_input_;
};
TORCH_MODULE(WNConv2d);

// Network-in-network: a weight-normalised linear map over channels at every pixel (a 1x1 convolution).
class NinImpl : public torch::nn::Module {
 public:
  NinImpl(int64_t in, int64_t out);
  at::Tensor forward(const at::Tensor& x);  // [N, in, H, W] -> [N, out, H, W]

 private:
  friend class PixelCNNppCache;  // models/pixelcnnpp_cache.h reads the layers to sample incrementally
  WNConv2d lin_a_{nullptr};
};
TORCH_MODULE(Nin);

// ---- causal (shifted) convolutions -----------------------------------------------------------------------

enum class Shift {
  kDown,       // sees rows above (and the current row for kernel height 1): filter 2x3, pad left/right 1, top 1
  kDownRight,  // sees rows above and columns to the left: filter 2x2, pad left 1, top 1
};

// down_shifted_conv2d / down_right_shifted_conv2d: zero-pad (kDown: (kw-1)/2 left and right, kh-1 on top;
// kDownRight: kw-1 left, kh-1 on top), convolve, and optionally shift the output by one (kDown: down_shift,
// kDownRight: right_shift). kernel {0, 0} means the default (2x3 or 2x2). With stride 2, H -> ceil(H/2).
class ShiftedConv2dImpl : public torch::nn::Module {
 public:
  ShiftedConv2dImpl(int64_t in, int64_t out, Shift shift, std::array<int64_t, 2> kernel = {0, 0}, int64_t stride = 1,
                    bool shift_output = false);
  at::Tensor forward(const at::Tensor& x);

 private:
  friend class PixelCNNppCache;  // models/pixelcnnpp_cache.h reads the layers to sample incrementally
  WNConv2d conv_{nullptr};
  Shift shift_;
  std::array<int64_t, 2> kernel_;
  bool shift_output_;
};
TORCH_MODULE(ShiftedConv2d);

// down_shifted_deconv2d / down_right_shifted_deconv2d: stride-2 transposed convolution (output_padding 1),
// cropped as published: keep rows [0, H' - kh + 1) and, for kDown, columns [(kw-1)/2, W' - (kw-1)/2), for
// kDownRight columns [0, W' - kw + 1). Restores H -> 2H exactly.
class ShiftedDeconv2dImpl : public torch::nn::Module {
 public:
  ShiftedDeconv2dImpl(int64_t in, int64_t out, Shift shift, std::array<int64_t, 2> kernel = {0, 0},
                      int64_t stride = 2, bool per_input_norm = true);
  at::Tensor forward(const at::Tensor& x);

 private:
  friend class PixelCNNppCache;  // models/pixelcnnpp_cache.h reads the layers to sample incrementally
  WNConv2d deconv_{nullptr};
  Shift shift_;
  std::array<int64_t, 2> kernel_;
};
TORCH_MODULE(ShiftedDeconv2d);

// ---- gated resnet ----------------------------------------------------------------------------------------

// c1 = conv(concat_elu(x)) (+ nin(concat_elu(skip))); c1 = Dropout2d(concat_elu(c1)); c2 = conv(c1) to 2F
// (+ nin(h) for a conditioning map h, the conditional-PixelCNN++ term); out = x + a * sigmoid(b), [a, b] = c2.
// skip_channels = 0: no skip input. cond_channels = 0: no conditioning input.
class GatedResnetImpl : public torch::nn::Module {
 public:
  GatedResnetImpl(int64_t filters, Shift shift, int64_t skip_channels, int64_t cond_channels, double dropout);
  // gen draws the Dropout2d channel masks (training mode only; may be null when dropout is 0 or in eval).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& skip, const at::Tensor& cond, at::Generator* gen);

 private:
  friend class PixelCNNppCache;  // models/pixelcnnpp_cache.h reads the layers to sample incrementally
  ShiftedConv2d conv_input_{nullptr}, conv_out_{nullptr};
  Nin nin_skip_{nullptr}, nin_cond_{nullptr};
  double dropout_;
};
TORCH_MODULE(GatedResnet);

// ---- the network -----------------------------------------------------------------------------------------

enum class PixelCNNConditioning {
  kNone,     // p(x)
  kStacked,  // the authors' p(x | x~): x~ stacked above x along height (2H x W input); params for x's rows only
  kStream,   // an encoder of x~ feeds nin(h) into every gated resnet at the matching resolution
};

// "none" | "stacked" | "stream"; anything else is a ConfigError naming `flag`.
PixelCNNConditioning parse_pixelcnn_conditioning(const std::string& name, const std::string& flag = "conditioning");
std::string to_string(PixelCNNConditioning mode);

struct PixelCNNppConfig {
  int64_t nr_resnet = 5;
  int64_t nr_filters = 160;
  int64_t nr_logistic_mix = 10;
  int64_t input_channels = 3;  // 1 (gray, 3M outputs) or 3 (RGB, 10M outputs)
  double dropout = 0.5;        // Dropout2d rate in every gated resnet
  PixelCNNConditioning conditioning = PixelCNNConditioning::kNone;
  int64_t cond_channels = 0;   // stream: channels of x~ (0: input_channels)
  uint64_t dropout_seed = 0;   // seeds the model's own dropout generator (see set_dropout_generator)
  // Weight norm of the transposed convolutions: "input" (per input channel, the authors' PyTorch code) or
  // "output" (per output channel, the TensorFlow original; scorelab before this option).
  std::string deconv_norm = "input";

  void validate() const;  // ConfigError naming the offending field
  int64_t output_channels() const { return (input_channels == 1 ? 3 : 10) * nr_logistic_mix; }
};

// The authors' configurations (Meng et al. 2021 configs; PixelCNN++ paper for CIFAR-10).
PixelCNNppConfig pixelcnnpp_mnist_preset();    // nr_resnet 5, nr_filters 40, 10 mixtures, gray
PixelCNNppConfig pixelcnnpp_cifar10_preset();  // nr_resnet 5, nr_filters 160, 10 mixtures, RGB
// By size: "tiny" (tests: nr_resnet 1, nr_filters 8, 3 mixtures), "small" (this CPU, minutes: nr_resnet 1,
// nr_filters 32 gray / 48 RGB, 5 mixtures), "paper" (the MNIST preset for 1 channel, the CIFAR-10 preset
// for 3; 10 mixtures).
// Unknown names are a ConfigError naming --preset.
PixelCNNppConfig pixelcnnpp_preset(const std::string& size_preset, int64_t channels);

// Closed-form parameter count of the network `config` describes (equals the built module's count).
int64_t pixelcnnpp_param_count(const PixelCNNppConfig& config);

class PixelCNNppImpl : public torch::nn::Module {
 public:
  explicit PixelCNNppImpl(const PixelCNNppConfig& config);

  // x in [-1, 1], [N, C, H, W] with H and W multiples of 4 (two stride-2 stages; 28 -> 14 -> 7).
  // cond = x~ ([N, C, H, W]) for kStacked and kStream, undefined for kNone.
  // Returns the mixture parameters [N, 3M or 10M, H, W]; entry (i, j) depends only on pixels of x strictly
  // before (i, j) in raster order (all channels of the current pixel excluded), and on x~.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cond = {});

  // Dropout2d masks in training mode are drawn from this generator (STYLE 7). The default is a CPU
  // generator seeded with config.dropout_seed; masks are drawn on the generator's device and moved.
  void set_dropout_generator(at::Generator gen) { dropout_gen_ = std::move(gen); }
  // The generator the dropout masks come from (a shared handle: checkpoint its state to resume exactly).
  at::Generator dropout_generator() const { return dropout_gen_; }

  const PixelCNNppConfig& config() const { return config_; }

  // The parameters named and shaped as the authors' PyTorch PixelCNN++ (pclucas14/pixel-cnn-pp, which Meng et
  // al. build on) holds them: nin layers are weight_norm(nn.Linear), so their weight_v is [out, in] and
  // weight_g [out, 1] (scorelab keeps the 1x1-convolution shapes [out, in, 1, 1] and [out, 1, 1, 1]). With
  // deconv_norm "input", and conditioning none or stacked, the result loads into that module with
  // load_state_dict(strict=True) (bench/authors_pixelcnnpp.py; tests/apps/authors_state_dict.sh).
  std::vector<std::pair<std::string, at::Tensor>> reference_state_dict() const;

 private:
  friend class PixelCNNppCache;  // models/pixelcnnpp_cache.h reads the layers to sample incrementally
  at::Tensor trunk(const at::Tensor& x, const std::vector<at::Tensor>& cond_maps);
  std::vector<at::Tensor> encode_condition(const at::Tensor& cond);
  GatedResnetImpl& block(const torch::nn::ModuleList& list, int64_t layer, bool ul, int64_t i);

  PixelCNNppConfig config_;
  at::Generator dropout_gen_;
  torch::nn::ModuleList up_layers_{nullptr}, down_layers_{nullptr};
  torch::nn::ModuleList downsize_u_stream_{nullptr}, downsize_ul_stream_{nullptr};
  torch::nn::ModuleList upsize_u_stream_{nullptr}, upsize_ul_stream_{nullptr};
  ShiftedConv2d u_init_{nullptr}, ul_init_down_{nullptr}, ul_init_right_{nullptr};
  Nin nin_out_{nullptr};
  // kStream: x~ (plus a ones channel) -> 3x3 conv at full resolution, then two stride-2 3x3 convs.
  torch::nn::ModuleList cond_encoder_{nullptr};
};
TORCH_MODULE(PixelCNNpp);

}  // namespace scorelab
