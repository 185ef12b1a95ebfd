#include "models/unet.h"

#include "core/shard.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "core/error.h"
#include "core/precision.h"

namespace scorelab {
namespace {

constexpr double kGroupNormEps = 1e-6;
constexpr double kZeroInitScale = 1e-10;  // the reference's init_scale = 0

// Group norm in float32 whatever the input (improved-diffusion's GroupNorm32): under --precision bf16 the
// statistics stay fp32 and the result comes back in the input's dtype (LibTorch 1.13's CPU autocast would pass a
// bf16 input with fp32 affine weights, which its kernel refuses).
at::Tensor norm32(torch::nn::GroupNorm& norm, const at::Tensor& x) {
  if (x.scalar_type() != at::kBFloat16 && x.scalar_type() != at::kHalf) return norm->forward(x);
  return norm->forward(x.to(at::kFloat)).to(x.scalar_type());
}

torch::nn::GroupNorm group_norm(int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(group_norm_groups(channels), channels).eps(kGroupNormEps));
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(stride == 1 ? kernel / 2 : 0));
}

// TensorFlow's variance_scaling(scale, mode='fan_avg', distribution='uniform'): U(-a, a) with
// a = sqrt(3 scale / ((fan_in + fan_out) / 2)); weight [out, in, k...] (conv) or [out, in] (dense).
void variance_scaling_(at::Tensor& weight, double scale) {
  const int64_t receptive = weight.numel() / (weight.size(0) * weight.size(1));
  const double fan_avg = 0.5 * static_cast<double>((weight.size(0) + weight.size(1)) * receptive);
  const double limit = std::sqrt(3.0 * scale / fan_avg);
  weight.uniform_(-limit, limit);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::vector<int64_t>& v) {
  std::string out;
  for (auto x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
}

}  // namespace

int64_t group_norm_groups(int64_t channels) {
  TORCH_CHECK(channels > 0, "group_norm_groups: channels must be positive");
  int64_t groups = std::min(kGroupNormGroups, std::max<int64_t>(channels / 4, 1));
  while (channels % groups) --groups;
  return groups;
}

at::Tensor ddpm_timestep_embedding(const at::Tensor& t, int64_t dim) {
  TORCH_CHECK(t.dim() == 1, "ddpm_timestep_embedding: t must be [N], got ", t.sizes());
  TORCH_CHECK(dim >= 4 && dim % 2 == 0, "ddpm_timestep_embedding: dim must be even and >= 4, got ", dim);
  const int64_t half = dim / 2;
  auto freqs = torch::exp(torch::arange(half, t.options().dtype(torch::kFloat32)) *
                          (-std::log(10000.0) / static_cast<double>(half - 1)));
  auto args = t.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({torch::sin(args), torch::cos(args)}, 1);
}

// ---- blocks ----

UNetResBlockImpl::UNetResBlockImpl(int64_t in, int64_t out, int64_t temb_dim, double dropout) {
  norm1_ = register_module("norm1", group_norm(in));
  conv1_ = register_module("conv1", conv(in, out, 3));
  temb_proj_ = register_module("temb_proj", torch::nn::Linear(temb_dim, out));
  norm2_ = register_module("norm2", group_norm(out));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
  conv2_ = register_module("conv2", conv(out, out, 3));
  if (in != out) nin_shortcut_ = register_module("nin_shortcut", conv(in, out, 1));
}

at::Tensor UNetResBlockImpl::forward(const at::Tensor& x, const at::Tensor& temb) {
  auto h = conv1_->forward(torch::silu(norm32(norm1_, x)));
  h = h + temb_proj_->forward(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);
  h = torch::silu(norm32(norm2_, h));
  const BatchShard& shard = current_batch_shard();
  const double p = dropout_->options.p();
  if (shard.world > 1 && is_training() && p > 0) {
    // Data parallel: the mask of the global batch (LibTorch's global generator, as nn::Dropout draws it), this
    // rank's rows of it, so that N processes drop what one process would.
    auto shape = h.sizes().vec();
    shape[0] *= shard.world;
    h = h * local_rows(at::empty(shape, h.options()).bernoulli_(1 - p).div_(1 - p));
  } else {
    h = dropout_->forward(h);
  }
  h = conv2_->forward(h);
  return (nin_shortcut_ ? nin_shortcut_->forward(x) : x) + h;
}

UNetAttnBlockImpl::UNetAttnBlockImpl(int64_t channels) {
  norm_ = register_module("norm", group_norm(channels));
  q_ = register_module("q", conv(channels, channels, 1));
  k_ = register_module("k", conv(channels, channels, 1));
  v_ = register_module("v", conv(channels, channels, 1));
  proj_out_ = register_module("proj_out", conv(channels, channels, 1));
}

at::Tensor UNetAttnBlockImpl::forward(const at::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), hgt = x.size(2), wid = x.size(3);
  auto h = norm32(norm_, x);
  auto q = q_->forward(h).reshape({b, c, hgt * wid});
  auto k = k_->forward(h).reshape({b, c, hgt * wid});
  auto v = v_->forward(h).reshape({b, c, hgt * wid});
  // w[b, i, j] = softmax_j(q_i . k_j / sqrt(C)); out[b, :, i] = sum_j w[b, i, j] v[b, :, j].
  auto w = torch::softmax(torch::bmm(q.transpose(1, 2), k) / std::sqrt(static_cast<double>(c)), 2);
  auto out = torch::bmm(v, w.transpose(1, 2)).reshape({b, c, hgt, wid});
  return x + proj_out_->forward(out);
}

// ---- config ----

void UNetConfig::validate() const {
  if (channels < 1) throw ConfigError(flag_error("--channels", std::to_string(channels), "at least 1"));
  if (ch < 2 || ch % 2) throw ConfigError(flag_error("--base-channels", std::to_string(ch), "an even width >= 2"));
  if (ch_mult.empty() || std::any_of(ch_mult.begin(), ch_mult.end(), [](int64_t m) { return m < 1; }))
    throw ConfigError("unet ch_mult: got (" + join(ch_mult) + "); expected one or more positive multipliers");
  if (classes < 0) throw ConfigError("unet classes: got " + std::to_string(classes) + "; expected >= 0");
  if (num_res_blocks < 1)
    throw ConfigError("unet num_res_blocks: got " + std::to_string(num_res_blocks) + "; expected >= 1");
  if (!(dropout >= 0 && dropout < 1))
    throw ConfigError(flag_error("--dropout", std::to_string(dropout), "a probability in [0, 1)"));
  const int64_t factor = int64_t{1} << (ch_mult.size() - 1);
  if (image_size < factor || image_size % factor)
    throw ConfigError(flag_error("--image-size", std::to_string(image_size),
                                 "a multiple of " + std::to_string(factor) + " for ch_mult (" + join(ch_mult) +
                                     "), so every downsampled resolution is even"));
}

UNetConfig unet_preset(const std::string& preset, int64_t channels, int64_t image_size) {
  UNetConfig c;
  c.channels = channels;
  c.image_size = image_size;
  const std::vector<int64_t> mult =
      image_size % 8 == 0 ? std::vector<int64_t>{1, 2, 2, 2} : std::vector<int64_t>{1, 2, 2};
  if (preset == "paper" || preset == "small") {
    c.ch = preset == "paper" ? 128 : 32;
    c.num_res_blocks = preset == "paper" ? 2 : 1;
    c.ch_mult = image_size == 28 ? std::vector<int64_t>{1, 2, 2} : mult;
    c.attn_resolutions = {image_size == 32 ? 16 : image_size / 2};
    c.dropout = 0.1;
  } else if (preset == "tiny") {
    c.ch = 8;
    c.ch_mult = {1, 2};
    c.num_res_blocks = 1;
    c.attn_resolutions = {image_size / 2};
    c.dropout = 0.0;
  } else {
    throw ConfigError(flag_error("--preset", preset, "one of tiny, small, paper"));
  }
  c.validate();
  return c;
}

// ---- the network ----

UNetImpl::UNetImpl(const UNetConfig& config) : config_(config) {
  config_.validate();
  const int64_t ch = config_.ch, temb = 4 * ch, levels = static_cast<int64_t>(config_.ch_mult.size());
  const auto has_attn = [this](int64_t res) {
    const auto& a = config_.attn_resolutions;
    return std::find(a.begin(), a.end(), res) != a.end();
  };
  temb_dense0_ = register_module("temb_dense_0", torch::nn::Linear(ch, temb));
  temb_dense1_ = register_module("temb_dense_1", torch::nn::Linear(temb, temb));
  conv_in_ = register_module("conv_in", conv(config_.in_channels(), ch, 3));

  std::vector<int64_t> skips = {ch};  // widths of the skip activations, in push order
  int64_t block_in = ch, res = config_.image_size;
  for (int64_t i = 0; i < levels; ++i) {
    const std::string level = "down_" + std::to_string(i) + "_";
    const int64_t block_out = ch * config_.ch_mult[i];
    down_blocks_.emplace_back();
    down_attn_.emplace_back();
    for (int64_t j = 0; j < config_.num_res_blocks; ++j) {
      down_blocks_[i].push_back(register_module(level + "block_" + std::to_string(j),
                                                UNetResBlock(block_in, block_out, temb, config_.dropout)));
      block_in = block_out;
      if (has_attn(res))
        down_attn_[i].push_back(register_module(level + "attn_" + std::to_string(j), UNetAttnBlock(block_in)));
      skips.push_back(block_in);
    }
    downsample_.push_back(nullptr);
    if (i != levels - 1) {
      downsample_[i] = register_module(level + "downsample", conv(block_in, block_in, 3, 2));
      skips.push_back(block_in);
      res /= 2;
    }
  }

  mid_block1_ = register_module("mid_block_1", UNetResBlock(block_in, block_in, temb, config_.dropout));
  mid_attn_ = register_module("mid_attn_1", UNetAttnBlock(block_in));
  mid_block2_ = register_module("mid_block_2", UNetResBlock(block_in, block_in, temb, config_.dropout));

  up_blocks_.resize(levels);
  up_attn_.resize(levels);
  upsample_.resize(levels, nullptr);
  for (int64_t i = levels - 1; i >= 0; --i) {
    const std::string level = "up_" + std::to_string(i) + "_";
    const int64_t block_out = ch * config_.ch_mult[i];
    for (int64_t j = 0; j <= config_.num_res_blocks; ++j) {
      const int64_t skip = skips.back();
      skips.pop_back();
      up_blocks_[i].push_back(register_module(level + "block_" + std::to_string(j),
                                              UNetResBlock(block_in + skip, block_out, temb, config_.dropout)));
      block_in = block_out;
      if (has_attn(res))
        up_attn_[i].push_back(register_module(level + "attn_" + std::to_string(j), UNetAttnBlock(block_in)));
    }
    if (i != 0) {
      upsample_[i] = register_module(level + "upsample", conv(block_in, block_in, 3));
      res *= 2;
    }
  }
  TORCH_CHECK(skips.empty(), "UNet: skip bookkeeping is inconsistent");
  norm_out_ = register_module("norm_out", group_norm(block_in));
  conv_out_ = register_module("conv_out", conv(block_in, config_.out_channels(), 3));

  if (config_.reference_init) {
    torch::NoGradGuard ng;
    for (const auto& item : named_modules("", /*include_self=*/false)) {
      const std::string& name = item.key();
      torch::nn::Module* m = item.value().get();
      at::Tensor weight, bias;
      if (auto* c = dynamic_cast<torch::nn::Conv2dImpl*>(m)) {
        weight = c->weight;
        bias = c->bias;
      } else if (auto* l = dynamic_cast<torch::nn::LinearImpl*>(m)) {
        weight = l->weight;
        bias = l->bias;
      } else {
        continue;
      }
      const bool zero = ends_with(name, "conv2") || ends_with(name, "proj_out") || name == "conv_out";
      variance_scaling_(weight, zero ? kZeroInitScale : 1.0);
      if (bias.defined()) bias.zero_();
    }
  }
  // Built last (after the initialisation above), so the other weights draw exactly as an unconditional network's.
  if (config_.classes > 0) label_emb_ = register_module("label_emb", torch::nn::Embedding(config_.classes, temb));
}

at::Tensor UNetImpl::forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == config_.in_channels() && x.size(2) == config_.image_size &&
                  x.size(3) == config_.image_size,
              "UNet: expected x [N, ", config_.in_channels(), ", ", config_.image_size, ", ", config_.image_size,
              "], got ", x.sizes());
  const int64_t batch = x.size(0);
  TORCH_CHECK(t.numel() == batch || t.numel() == 1, "UNet: t must have N = ", batch, " values (or one), got ",
              t.sizes());
  auto steps = t.to(x.device()).reshape({-1}).expand({batch});
  MixedPrecisionScope mixed;  // --precision bf16: the network under autocast, the output fp32
  auto temb = ddpm_timestep_embedding(steps, config_.ch).to(x.scalar_type());
  temb = temb_dense1_->forward(torch::silu(temb_dense0_->forward(temb)));
  TORCH_CHECK(y.defined() == (config_.classes > 0), "UNet: ",
              config_.classes > 0 ? "a class-conditional network needs labels y" : "an unconditional network takes no labels");
  if (config_.classes > 0) {
    TORCH_CHECK(y.numel() == batch || y.numel() == 1, "UNet: y must have N = ", batch, " labels (or one), got ", y.sizes());
    const at::Tensor labels = y.to(x.device(), torch::kLong).reshape({-1}).expand({batch});
    TORCH_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < config_.classes,
                "UNet: labels must be in 0..", config_.classes - 1);
    temb = temb + label_emb_->forward(labels).to(temb.scalar_type());
  }

  const int64_t levels = static_cast<int64_t>(config_.ch_mult.size());
  std::vector<at::Tensor> hs = {conv_in_->forward(x)};
  for (int64_t i = 0; i < levels; ++i) {
    for (size_t j = 0; j < down_blocks_[i].size(); ++j) {
      auto h = down_blocks_[i][j]->forward(hs.back(), temb);
      if (!down_attn_[i].empty()) h = down_attn_[i][j]->forward(h);
      hs.push_back(h);
    }
    if (downsample_[i]) {
      // TensorFlow 'SAME' padding for a stride-2 3x3 conv: (0, 1) on even sizes.
      const int64_t size = hs.back().size(2), total = std::max<int64_t>((size + 1) / 2 * 2 + 1 - size, 0);
      const int64_t before = total / 2, after = total - before;
      hs.push_back(downsample_[i]->forward(torch::constant_pad_nd(hs.back(), {before, after, before, after}, 0)));
    }
  }

  auto h = mid_block2_->forward(mid_attn_->forward(mid_block1_->forward(hs.back(), temb)), temb);

  for (int64_t i = levels - 1; i >= 0; --i) {
    for (size_t j = 0; j < up_blocks_[i].size(); ++j) {
      h = up_blocks_[i][j]->forward(torch::cat({h, hs.back()}, 1), temb);
      hs.pop_back();
      if (!up_attn_[i].empty()) h = up_attn_[i][j]->forward(h);
    }
    if (upsample_[i]) h = upsample_[i]->forward(torch::upsample_nearest2d(h, {2 * h.size(2), 2 * h.size(3)}));
  }
  return to_float32(conv_out_->forward(torch::silu(norm32(norm_out_, h))));
}

}  // namespace scorelab
