#include "models/pixelcnnpp.h"

#include "core/shard.h"

#include <cmath>

#include <torch/torch.h>

#include "core/error.h"
#include "core/precision.h"
#include "core/runtime.h"

namespace scorelab {

namespace F = torch::nn::functional;

// ---- shifts and nonlinearity -----------------------------------------------------------------------------

at::Tensor down_shift(const at::Tensor& x) {
  return F::pad(x.slice(2, 0, x.size(2) - 1), F::PadFuncOptions({0, 0, 1, 0}));
}

at::Tensor right_shift(const at::Tensor& x) {
  return F::pad(x.slice(3, 0, x.size(3) - 1), F::PadFuncOptions({1, 0, 0, 0}));
}

namespace {
// concat_elu as one autograd node (the training step's hottest elementwise op; scripts/bench): elu(x) and
// elu(-x) are written straight into the two halves of one buffer, and the backward is
// dx = elu'(x) g_1 - elu'(-x) g_2 with elu' read off the saved output (1 where out > 0, out + 1 elsewhere).
// Saves the cat and half the passes of elu(cat(x, -x)); same values (to float rounding).
struct ConcatElu : torch::autograd::Function<ConcatElu> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    const int64_t c = x.size(1);
    auto shape = x.sizes().vec();
    shape[1] = 2 * c;
    auto out = at::empty(shape, x.options().memory_format(at::MemoryFormat::Contiguous));
    auto pos = out.narrow(1, 0, c), neg = out.narrow(1, c, c);
    at::elu_out(pos, x);
    at::neg_out(neg, x);
    at::elu_(neg);
    ctx->save_for_backward({out});
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto out = ctx->get_saved_variables()[0];
    const int64_t c = out.size(1) / 2;
    const auto& g = grads[0];
    auto dx = at::elu_backward(g.narrow(1, 0, c), 1.0, 1.0, 1.0, /*is_result=*/true, out.narrow(1, 0, c));
    dx.sub_(at::elu_backward(g.narrow(1, c, c), 1.0, 1.0, 1.0, /*is_result=*/true, out.narrow(1, c, c)));
    return {dx};
  }
};
}  // namespace

at::Tensor concat_elu(const at::Tensor& x) {
  TORCH_CHECK(x.dim() >= 2, "concat_elu: expected [N, C, ...], got ", x.sizes());
  return ConcatElu::apply(x);
}

// ---- weight-normalised primitives ------------------------------------------------------------------------

namespace {
// The dimensions the weight norm sums over: all but the normalised one (dim 0 of the stored weight for
// Conv2d [out, in, kh, kw] and for a per-input-channel ConvTranspose2d [in, out, kh, kw]; dim 1 for a
// per-output-channel ConvTranspose2d).
std::vector<int64_t> norm_dims(bool transposed, bool per_input) {
  return transposed && !per_input ? std::vector<int64_t>{0, 2, 3} : std::vector<int64_t>{1, 2, 3};
}
}  // namespace

WNConv2dImpl::WNConv2dImpl(int64_t in, int64_t out, std::array<int64_t, 2> kernel, int64_t stride, bool transposed,
                           bool per_input)
    : stride_(stride), transposed_(transposed), per_input_(per_input) {
  TORCH_CHECK(in > 0 && out > 0 && kernel[0] > 0 && kernel[1] > 0 && stride > 0, "WNConv2d: bad sizes");
  // ConvTranspose2d stores [in, out, kh, kw]; PyTorch's default init takes fan_in from dim 1 for both.
  auto v = transposed ? torch::empty({in, out, kernel[0], kernel[1]}) : torch::empty({out, in, kernel[0], kernel[1]});
  const double bound = 1.0 / std::sqrt(static_cast<double>(v.size(1) * kernel[0] * kernel[1]));
  v.uniform_(-bound, bound);
  auto b = torch::empty({out}).uniform_(-bound, bound);
  auto g = v.pow(2).sum(norm_dims(transposed, per_input), /*keepdim=*/true).sqrt();  // g = ||v||: w = v at init
  weight_v = register_parameter("weight_v", v);
  weight_g = register_parameter("weight_g", g);
  bias = register_parameter("bias", b);
}

at::Tensor WNConv2dImpl::weight() const {
  return weight_v * (weight_g / weight_v.pow(2).sum(norm_dims(transposed_, per_input_), /*keepdim=*/true).sqrt());
}

at::Tensor WNConv2dImpl::forward(const at::Tensor& x) {
  if (transposed_)
    return at::conv_transpose2d(x, weight(), bias, {stride_, stride_}, /*padding=*/{0, 0},
                                /*output_padding=*/{stride_ - 1, stride_ - 1});
  return at::conv2d(x, weight(), bias, {stride_, stride_});
}

NinImpl::NinImpl(int64_t in, int64_t out) {
  lin_a_ = register_module("lin_a", WNConv2d(in, out, std::array<int64_t, 2>{1, 1}));
}

at::Tensor NinImpl::forward(const at::Tensor& x) { return lin_a_->forward(x); }

// ---- causal (shifted) convolutions -----------------------------------------------------------------------

namespace {
std::array<int64_t, 2> default_kernel(Shift shift, std::array<int64_t, 2> kernel) {
  if (kernel[0] > 0) return kernel;
  return shift == Shift::kDown ? std::array<int64_t, 2>{2, 3} : std::array<int64_t, 2>{2, 2};
}
}  // namespace

ShiftedConv2dImpl::ShiftedConv2dImpl(int64_t in, int64_t out, Shift shift, std::array<int64_t, 2> kernel,
                                     int64_t stride, bool shift_output)
    : shift_(shift), kernel_(default_kernel(shift, kernel)), shift_output_(shift_output) {
  conv_ = register_module("conv", WNConv2d(in, out, kernel_, stride));
}

at::Tensor ShiftedConv2dImpl::forward(const at::Tensor& x) {
  const int64_t kh = kernel_[0], kw = kernel_[1];
  // F::pad order: {left, right, top, bottom}.
  const std::vector<int64_t> pad = shift_ == Shift::kDown ? std::vector<int64_t>{(kw - 1) / 2, (kw - 1) / 2, kh - 1, 0}
                                                          : std::vector<int64_t>{kw - 1, 0, kh - 1, 0};
  auto out = conv_->forward(F::pad(x, F::PadFuncOptions(pad)));
  if (!shift_output_) return out;
  return shift_ == Shift::kDown ? down_shift(out) : right_shift(out);
}

ShiftedDeconv2dImpl::ShiftedDeconv2dImpl(int64_t in, int64_t out, Shift shift, std::array<int64_t, 2> kernel,
                                         int64_t stride, bool per_input_norm)
    : shift_(shift), kernel_(default_kernel(shift, kernel)) {
  deconv_ = register_module("deconv", WNConv2d(in, out, kernel_, stride, /*transposed=*/true, per_input_norm));
}

at::Tensor ShiftedDeconv2dImpl::forward(const at::Tensor& x) {
  auto out = deconv_->forward(x);
  const int64_t kh = kernel_[0], kw = kernel_[1];
  const int64_t h = out.size(2), w = out.size(3);
  out = out.slice(2, 0, h - kh + 1);
  if (shift_ == Shift::kDown) return out.slice(3, (kw - 1) / 2, w - (kw - 1) / 2);
  return out.slice(3, 0, w - kw + 1);
}

// ---- gated resnet ----------------------------------------------------------------------------------------

GatedResnetImpl::GatedResnetImpl(int64_t filters, Shift shift, int64_t skip_channels, int64_t cond_channels,
                                 double dropout)
    : dropout_(dropout) {
  conv_input_ = register_module("conv_input", ShiftedConv2d(2 * filters, filters, shift));
  if (skip_channels > 0) nin_skip_ = register_module("nin_skip", Nin(2 * skip_channels, filters));
  conv_out_ = register_module("conv_out", ShiftedConv2d(2 * filters, 2 * filters, shift));
  if (cond_channels > 0) nin_cond_ = register_module("nin_cond", Nin(cond_channels, 2 * filters));
}

at::Tensor GatedResnetImpl::forward(const at::Tensor& x, const at::Tensor& skip, const at::Tensor& cond,
                                    at::Generator* gen) {
  auto c = conv_input_->forward(concat_elu(x));
  if (nin_skip_) {
    TORCH_CHECK(skip.defined(), "GatedResnet: this block needs a skip input");
    c = c + nin_skip_->forward(concat_elu(skip));
  }
  c = concat_elu(c);
  if (is_training() && dropout_ > 0) {
    // Dropout2d: zero whole channels with probability p, scale the rest by 1 / (1 - p).
    TORCH_CHECK(gen != nullptr, "GatedResnet: training-mode dropout needs a generator");
    // Data parallel: the masks of the whole global batch, this rank's rows (core/shard.h).
    const int64_t world = current_batch_shard().world;
    auto mask = local_rows(at::empty({c.size(0) * world, c.size(1), 1, 1}, c.options().device(gen->device()))
                               .bernoulli_(1.0 - dropout_, *gen))
                    .to(c.device());
    c = c * mask.div_(1.0 - dropout_);  // scale the [N, 2F, 1, 1] mask, not the activations
  }
  c = conv_out_->forward(c);
  if (nin_cond_) {
    TORCH_CHECK(cond.defined(), "GatedResnet: this block needs a conditioning map");
    c = c + nin_cond_->forward(cond);
  }
  auto ab = c.chunk(2, 1);
  return torch::addcmul(x, ab[0], torch::sigmoid(ab[1]));  // x + a * sigmoid(b) in one pass
}

// ---- configuration ---------------------------------------------------------------------------------------

PixelCNNConditioning parse_pixelcnn_conditioning(const std::string& name, const std::string& flag) {
  if (name == "none") return PixelCNNConditioning::kNone;
  if (name == "stacked") return PixelCNNConditioning::kStacked;
  if (name == "stream") return PixelCNNConditioning::kStream;
  throw ConfigError(flag_error(flag, name, "none, stacked or stream"));
}

std::string to_string(PixelCNNConditioning mode) {
  switch (mode) {
    case PixelCNNConditioning::kNone: return "none";
    case PixelCNNConditioning::kStacked: return "stacked";
    case PixelCNNConditioning::kStream: return "stream";
  }
  return "none";
}

void PixelCNNppConfig::validate() const {
  if (nr_resnet < 1) throw ConfigError(flag_error("nr-resnet", std::to_string(nr_resnet), "an integer >= 1"));
  if (nr_filters < 1) throw ConfigError(flag_error("nr-filters", std::to_string(nr_filters), "an integer >= 1"));
  if (nr_logistic_mix < 1)
    throw ConfigError(flag_error("nr-logistic-mix", std::to_string(nr_logistic_mix), "an integer >= 1"));
  if (input_channels != 1 && input_channels != 3)
    throw ConfigError(flag_error("input-channels", std::to_string(input_channels), "1 (gray) or 3 (RGB)"));
  if (!(dropout >= 0.0 && dropout < 1.0))
    throw ConfigError(flag_error("dropout", std::to_string(dropout), "a rate in [0, 1)"));
  if (cond_channels < 0)
    throw ConfigError(flag_error("cond-channels", std::to_string(cond_channels), "0 (= input channels) or more"));
  if (deconv_norm != "input" && deconv_norm != "output")
    throw ConfigError(flag_error("--deconv-norm", deconv_norm,
                                 "input (the authors' PyTorch weight_norm on ConvTranspose2d) or output (the TensorFlow original)"));
}

PixelCNNppConfig pixelcnnpp_mnist_preset() {
  PixelCNNppConfig c;
  c.nr_resnet = 5;
  c.nr_filters = 40;
  c.nr_logistic_mix = 10;
  c.input_channels = 1;
  return c;
}

PixelCNNppConfig pixelcnnpp_cifar10_preset() {
  PixelCNNppConfig c;
  c.nr_resnet = 5;
  c.nr_filters = 160;
  c.nr_logistic_mix = 10;
  c.input_channels = 3;
  return c;
}

PixelCNNppConfig pixelcnnpp_preset(const std::string& size_preset, int64_t channels) {
  if (channels != 1 && channels != 3)
    throw ConfigError(flag_error("channels", std::to_string(channels), "1 (gray) or 3 (RGB) for pixelcnnpp"));
  PixelCNNppConfig c = channels == 1 ? pixelcnnpp_mnist_preset() : pixelcnnpp_cifar10_preset();
  if (size_preset == "paper") return c;
  if (size_preset == "tiny") {
    c.nr_resnet = 1;
    c.nr_filters = 8;
    c.nr_logistic_mix = 3;
  } else if (size_preset == "small") {
    // Minutes on a 2-core CPU (about 1 s per batch of 16 MNIST images).
    c.nr_resnet = 1;
    c.nr_filters = channels == 1 ? 32 : 48;
    c.nr_logistic_mix = 5;
  } else {
    throw ConfigError(flag_error("preset", size_preset, "tiny, small or paper"));
  }
  return c;
}

namespace {
int64_t cond_channels_of(const PixelCNNppConfig& c) { return c.cond_channels > 0 ? c.cond_channels : c.input_channels; }
const std::array<int64_t, 3> kDownBlocksExtra = {0, 1, 1};  // down pass: [nr, nr + 1, nr + 1]
}  // namespace

int64_t pixelcnnpp_param_count(const PixelCNNppConfig& c) {
  const int64_t f = c.nr_filters, cin = c.input_channels + 1;
  auto conv = [](int64_t in, int64_t out, int64_t kh, int64_t kw) { return in * out * kh * kw + 2 * out; };
  auto nin = [&](int64_t in, int64_t out) { return conv(in, out, 1, 1); };
  const bool stream = c.conditioning == PixelCNNConditioning::kStream;
  auto resnet = [&](int64_t kh, int64_t kw, int64_t skip) {
    int64_t n = conv(2 * f, f, kh, kw) + conv(2 * f, 2 * f, kh, kw);
    if (skip > 0) n += nin(2 * skip, f);
    if (stream) n += nin(f, 2 * f);
    return n;
  };
  int64_t n = conv(cin, f, 2, 3) + conv(cin, f, 1, 3) + conv(cin, f, 2, 1);
  n += 3 * c.nr_resnet * (resnet(2, 3, 0) + resnet(2, 2, f));
  for (int64_t extra : kDownBlocksExtra) n += (c.nr_resnet + extra) * (resnet(2, 3, f) + resnet(2, 2, 2 * f));
  n += 2 * 2 * (conv(f, f, 2, 3) + conv(f, f, 2, 2));  // downsize and upsize, u and ul
  n += nin(f, c.output_channels());
  if (stream) n += conv(cond_channels_of(c) + 1, f, 3, 3) + 2 * conv(f, f, 3, 3);
  return n;
}

// ---- the network -----------------------------------------------------------------------------------------

namespace {
// One stage of the up or down pass: nr gated resnets on each of the u and ul streams (names as in the
// authors' PyTorch port: up_layers.i.u_stream.k ...).
class PixelCNNLayerImpl : public torch::nn::Module {
 public:
  PixelCNNLayerImpl(int64_t blocks, int64_t filters, bool down, int64_t cond_channels, double dropout) {
    u_stream = register_module("u_stream", torch::nn::ModuleList());
    ul_stream = register_module("ul_stream", torch::nn::ModuleList());
    for (int64_t i = 0; i < blocks; ++i) {
      // Up pass: u has no skip, ul takes u. Down pass: u takes the up-pass u, ul takes [u, up-pass ul].
      u_stream->push_back(GatedResnet(filters, Shift::kDown, down ? filters : 0, cond_channels, dropout));
      const int64_t ul_skip = down ? 2 * filters : filters;
      ul_stream->push_back(GatedResnet(filters, Shift::kDownRight, ul_skip, cond_channels, dropout));
    }
  }
  torch::nn::ModuleList u_stream{nullptr}, ul_stream{nullptr};
};
TORCH_MODULE(PixelCNNLayer);
}  // namespace

PixelCNNppImpl::PixelCNNppImpl(const PixelCNNppConfig& config)
    : config_(config), dropout_gen_(make_generator(config.dropout_seed)) {
  config_.validate();
  const int64_t f = config_.nr_filters, cin = config_.input_channels + 1;  // + the ones channel
  const bool stream = config_.conditioning == PixelCNNConditioning::kStream;
  const int64_t cond_f = stream ? f : 0;
  up_layers_ = register_module("up_layers", torch::nn::ModuleList());
  down_layers_ = register_module("down_layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < 3; ++i) {
    up_layers_->push_back(PixelCNNLayer(config_.nr_resnet, f, false, cond_f, config_.dropout));
    down_layers_->push_back(
        PixelCNNLayer(config_.nr_resnet + kDownBlocksExtra[i], f, true, cond_f, config_.dropout));
  }
  downsize_u_stream_ = register_module("downsize_u_stream", torch::nn::ModuleList());
  downsize_ul_stream_ = register_module("downsize_ul_stream", torch::nn::ModuleList());
  upsize_u_stream_ = register_module("upsize_u_stream", torch::nn::ModuleList());
  upsize_ul_stream_ = register_module("upsize_ul_stream", torch::nn::ModuleList());
  for (int64_t i = 0; i < 2; ++i) {
    downsize_u_stream_->push_back(ShiftedConv2d(f, f, Shift::kDown, std::array<int64_t, 2>{2, 3}, 2));
    downsize_ul_stream_->push_back(ShiftedConv2d(f, f, Shift::kDownRight, std::array<int64_t, 2>{2, 2}, 2));
    const bool per_input = config_.deconv_norm == "input";
    upsize_u_stream_->push_back(ShiftedDeconv2d(f, f, Shift::kDown, std::array<int64_t, 2>{0, 0}, 2, per_input));
    upsize_ul_stream_->push_back(ShiftedDeconv2d(f, f, Shift::kDownRight, std::array<int64_t, 2>{0, 0}, 2, per_input));
  }
  // u starts from the rows above; ul from the row above (1x3, shifted down) plus the pixels to the left
  // on the current and previous rows (2x1, shifted right).
  u_init_ = register_module("u_init", ShiftedConv2d(cin, f, Shift::kDown, std::array<int64_t, 2>{2, 3}, 1, true));
  auto ul_init = register_module("ul_init", torch::nn::ModuleList());
  ul_init_down_ = ShiftedConv2d(cin, f, Shift::kDown, std::array<int64_t, 2>{1, 3}, 1, true);
  ul_init_right_ = ShiftedConv2d(cin, f, Shift::kDownRight, std::array<int64_t, 2>{2, 1}, 1, true);
  ul_init->push_back(ul_init_down_);
  ul_init->push_back(ul_init_right_);
  nin_out_ = register_module("nin_out", Nin(f, config_.output_channels()));
  if (stream) {
    cond_encoder_ = register_module("cond_encoder", torch::nn::ModuleList());
    cond_encoder_->push_back(WNConv2d(cond_channels_of(config_) + 1, f, std::array<int64_t, 2>{3, 3}));
    for (int64_t i = 0; i < 2; ++i) cond_encoder_->push_back(WNConv2d(f, f, std::array<int64_t, 2>{3, 3}, 2));
  }
}

std::vector<std::pair<std::string, at::Tensor>> PixelCNNppImpl::reference_state_dict() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (const auto& p : named_parameters(true)) {
    at::Tensor t = p.value();
    if (ends_with(p.key(), "lin_a.weight_v") || ends_with(p.key(), "lin_a.weight_g")) t = t.flatten(1);  // [out, in|1]
    out.emplace_back(p.key(), t);
  }
  for (const auto& b : named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

GatedResnetImpl& PixelCNNppImpl::block(const torch::nn::ModuleList& list, int64_t layer, bool ul, int64_t i) {
  auto& stage = *list->ptr(layer)->as<PixelCNNLayerImpl>();
  return *(ul ? stage.ul_stream : stage.u_stream)->ptr(i)->as<GatedResnetImpl>();
}

std::vector<at::Tensor> PixelCNNppImpl::encode_condition(const at::Tensor& cond) {
  auto ones = torch::ones({cond.size(0), 1, cond.size(2), cond.size(3)}, cond.options());
  std::vector<at::Tensor> maps;
  // 3x3 convolutions with padding 1: stride 2 gives ceil(H / 2), the size of the causal stride-2 stages.
  auto h = cond_encoder_[0]->as<WNConv2dImpl>()->forward(F::pad(torch::cat({cond, ones}, 1),
                                                                F::PadFuncOptions({1, 1, 1, 1})));
  maps.push_back(torch::elu(h));
  for (int64_t i = 1; i < 3; ++i) {
    h = cond_encoder_[i]->as<WNConv2dImpl>()->forward(F::pad(maps.back(), F::PadFuncOptions({1, 1, 1, 1})));
    maps.push_back(torch::elu(h));
  }
  return maps;
}

at::Tensor PixelCNNppImpl::trunk(const at::Tensor& x, const std::vector<at::Tensor>& cond_maps) {
  const int64_t nr = config_.nr_resnet;
  at::Generator* gen = &dropout_gen_;
  auto h_at = [&](int64_t level) { return cond_maps.empty() ? at::Tensor() : cond_maps[level]; };
  auto ones = torch::ones({x.size(0), 1, x.size(2), x.size(3)}, x.options());
  auto xin = torch::cat({x, ones}, 1);

  // Up pass: 3 stages at full, 1/2 and 1/4 resolution; every output is kept for the down pass.
  std::vector<at::Tensor> u_list{u_init_->forward(xin)};
  std::vector<at::Tensor> ul_list{ul_init_down_->forward(xin) + ul_init_right_->forward(xin)};
  for (int64_t s = 0; s < 3; ++s) {
    for (int64_t i = 0; i < nr; ++i) {
      auto u = block(up_layers_, s, false, i).forward(u_list.back(), {}, h_at(s), gen);
      auto ul = block(up_layers_, s, true, i).forward(ul_list.back(), u, h_at(s), gen);
      u_list.push_back(u);
      ul_list.push_back(ul);
    }
    if (s != 2) {
      u_list.push_back(downsize_u_stream_[s]->as<ShiftedConv2dImpl>()->forward(u_list.back()));
      ul_list.push_back(downsize_ul_stream_[s]->as<ShiftedConv2dImpl>()->forward(ul_list.back()));
    }
  }
  auto pop = [](std::vector<at::Tensor>& list) {
    auto t = list.back();
    list.pop_back();
    return t;
  };

  // Down pass: [nr, nr + 1, nr + 1] blocks at 1/4, 1/2 and full resolution, consuming the up-pass outputs.
  auto u = pop(u_list);
  auto ul = pop(ul_list);
  for (int64_t s = 0; s < 3; ++s) {
    for (int64_t i = 0; i < nr + kDownBlocksExtra[s]; ++i) {
      u = block(down_layers_, s, false, i).forward(u, pop(u_list), h_at(2 - s), gen);
      ul = block(down_layers_, s, true, i).forward(ul, torch::cat({u, pop(ul_list)}, 1), h_at(2 - s), gen);
    }
    if (s != 2) {
      u = upsize_u_stream_[s]->as<ShiftedDeconv2dImpl>()->forward(u);
      ul = upsize_ul_stream_[s]->as<ShiftedDeconv2dImpl>()->forward(ul);
    }
  }
  TORCH_CHECK(u_list.empty() && ul_list.empty(), "PixelCNN++: unbalanced skip connections");
  return nin_out_->forward(torch::elu(ul));
}

at::Tensor PixelCNNppImpl::forward(const at::Tensor& x, const at::Tensor& cond) {
  const int64_t c = config_.input_channels;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == c, "PixelCNN++: x must be [N, ", c, ", H, W], got ", x.sizes());
  const int64_t h = x.size(2), w = x.size(3);
  // --precision bf16: the trunk under autocast, the head parameters fp32 (the logistic likelihood stays fp32).
  MixedPrecisionScope mixed;
  switch (config_.conditioning) {
    case PixelCNNConditioning::kNone:
      TORCH_CHECK(!cond.defined(), "PixelCNN++: an unconditional model takes no condition");
      TORCH_CHECK(h % 4 == 0 && w % 4 == 0, "PixelCNN++: H and W must be multiples of 4, got ", h, "x", w);
      return to_float32(trunk(x, {}));
    case PixelCNNConditioning::kStacked: {
      TORCH_CHECK(cond.defined() && cond.sizes() == x.sizes(), "PixelCNN++ (stacked): the condition must have x's "
                  "shape ", x.sizes(), ", got ", cond.defined() ? cond.sizes() : at::IntArrayRef{});
      TORCH_CHECK(h % 2 == 0 && w % 4 == 0, "PixelCNN++ (stacked): 2H and W must be multiples of 4, got ", h, "x", w);
      // x~ above x: every row of x sees all of x~ plus the rows of x above it. Only x's rows are returned,
      // so a loss on the output is the authors' bottom-half loss.
      return to_float32(trunk(torch::cat({cond, x}, 2), {}).slice(2, h, 2 * h));
    }
    case PixelCNNConditioning::kStream: {
      const int64_t cc = cond_channels_of(config_);
      TORCH_CHECK(cond.defined() && cond.dim() == 4 && cond.size(0) == x.size(0) && cond.size(1) == cc &&
                      cond.size(2) == h && cond.size(3) == w,
                  "PixelCNN++ (stream): the condition must be [N, ", cc, ", H, W] matching x ", x.sizes());
      TORCH_CHECK(h % 4 == 0 && w % 4 == 0, "PixelCNN++: H and W must be multiples of 4, got ", h, "x", w);
      return to_float32(trunk(x, encode_condition(cond)));
    }
  }
  return {};
}

}  // namespace scorelab
