#include "models/ncsnv2.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/precision.h"

namespace scorelab {
namespace {

constexpr double kNormEps = 1e-5;  // InstanceNorm2d's eps, also used for the variance of the means

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, bool bias = true, int64_t dilation = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, 3).padding(dilation).dilation(dilation).bias(bias));
}

at::Tensor mean_pool2(const at::Tensor& x) { return torch::avg_pool2d(x, {2, 2}, {2, 2}); }

}  // namespace

// ---- InstanceNorm++ ----

InstanceNormPlusImpl::InstanceNormPlusImpl(int64_t features, int64_t num_classes, bool bias)
    : features_(features), num_classes_(num_classes), bias_(bias) {
  TORCH_CHECK(features > 0 && num_classes >= 0, "InstanceNorm++: bad sizes");
  torch::NoGradGuard ng;
  if (num_classes_ > 0) {
    embed_ = register_module("embed", torch::nn::Embedding(num_classes_, (bias_ ? 3 : 2) * features_));
    embed_->weight.narrow(1, 0, 2 * features_).normal_(1.0, 0.02);
    if (bias_) embed_->weight.narrow(1, 2 * features_, features_).zero_();
  } else {
    alpha_ = register_parameter("alpha", torch::empty({features_}).normal_(1.0, 0.02));
    gamma_ = register_parameter("gamma", torch::empty({features_}).normal_(1.0, 0.02));
    if (bias_) beta_ = register_parameter("beta", torch::zeros({features_}));
  }
}

at::Tensor InstanceNormPlusImpl::forward(const at::Tensor& x, const at::Tensor& level) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == features_, "InstanceNorm++: expected [N, ", features_,
              ", H, W], got ", x.sizes());
  auto [var, mu] = torch::var_mean(x, {2, 3}, /*unbiased=*/false, /*keepdim=*/true);  // [N, C, 1, 1]
  auto h = (x - mu) * torch::rsqrt(var + kNormEps);
  auto [v, m] = torch::var_mean(mu, {1}, /*unbiased=*/true, /*keepdim=*/true);  // over channels
  auto means = (mu - m) * torch::rsqrt(v + kNormEps);
  at::Tensor gamma, alpha, beta;
  if (conditional()) {
    TORCH_CHECK(level.defined() && level.dim() == 1 && level.size(0) == x.size(0),
                "conditional InstanceNorm++ needs level indices [N]");
    auto e = embed_->forward(level).unsqueeze(-1).unsqueeze(-1);  // [N, kF, 1, 1]
    gamma = e.narrow(1, 0, features_);
    alpha = e.narrow(1, features_, features_);
    if (bias_) beta = e.narrow(1, 2 * features_, features_);
  } else {
    gamma = gamma_.view({1, -1, 1, 1});
    alpha = alpha_.view({1, -1, 1, 1});
    if (bias_) beta = beta_.view({1, -1, 1, 1});
  }
  auto out = gamma * (h + alpha * means);
  return bias_ ? out + beta : out;
}

// ---- encoder residual block ----

NCSNResBlockImpl::NCSNResBlockImpl(int64_t in, int64_t out, bool down, int64_t dilation, int64_t num_classes)
    : down_(down), pool_(down && dilation == 0) {
  const int64_t d = dilation > 0 ? dilation : 1;
  norm1_ = register_module("normalize1", InstanceNormPlus(in, num_classes));
  if (down) {
    conv1_ = register_module("conv1", conv3x3(in, in, true, d));
    norm2_ = register_module("normalize2", InstanceNormPlus(in, num_classes));
    conv2_ = register_module("conv2", conv3x3(in, out, true, d));
    shortcut_ = register_module(
        "shortcut", pool_ ? torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)) : conv3x3(in, out, true, d));
  } else {
    TORCH_CHECK(in == out, "NCSN residual block without resampling needs in == out");
    conv1_ = register_module("conv1", conv3x3(in, out, true, d));
    norm2_ = register_module("normalize2", InstanceNormPlus(out, num_classes));
    conv2_ = register_module("conv2", conv3x3(out, out, true, d));
  }
}

at::Tensor NCSNResBlockImpl::forward(const at::Tensor& x, const at::Tensor& level) {
  auto h = conv1_->forward(torch::elu(norm1_->forward(x, level)));
  h = conv2_->forward(torch::elu(norm2_->forward(h, level)));
  if (!down_) return x + h;
  // ConvMeanPool: the mean pool follows the conv, on both paths.
  if (pool_) return mean_pool2(shortcut_->forward(x)) + mean_pool2(h);
  return shortcut_->forward(x) + h;
}

// ---- RefineNet parts ----

RCUBlockImpl::RCUBlockImpl(int64_t features, int64_t blocks, int64_t stages) : blocks_(blocks), stages_(stages) {
  for (int64_t i = 0; i < blocks; ++i)
    for (int64_t j = 0; j < stages; ++j)
      convs_.push_back(register_module(std::to_string(i + 1) + "_" + std::to_string(j + 1) + "_conv",
                                       conv3x3(features, features, /*bias=*/false)));
}

at::Tensor RCUBlockImpl::forward(at::Tensor x) {
  for (int64_t i = 0; i < blocks_; ++i) {
    auto residual = x;
    for (int64_t j = 0; j < stages_; ++j) x = convs_[i * stages_ + j]->forward(torch::elu(x));
    x = x + residual;
  }
  return x;
}

CRPBlockImpl::CRPBlockImpl(int64_t features, int64_t stages) {
  for (int64_t i = 0; i < stages; ++i)
    convs_.push_back(register_module("convs_" + std::to_string(i), conv3x3(features, features, /*bias=*/false)));
}

at::Tensor CRPBlockImpl::forward(at::Tensor x) {
  x = torch::elu(x);
  auto path = x;
  for (auto& conv : convs_) {
    path = conv->forward(torch::max_pool2d(path, {5, 5}, {1, 1}, {2, 2}));
    x = path + x;
  }
  return x;
}

RefineBlockImpl::RefineBlockImpl(const std::vector<int64_t>& in_planes, int64_t features, bool end) {
  TORCH_CHECK(!in_planes.empty(), "RefineBlock needs at least one input");
  for (size_t i = 0; i < in_planes.size(); ++i)
    adapt_.push_back(register_module("adapt_convs_" + std::to_string(i), RCUBlock(in_planes[i], 2, 2)));
  output_ = register_module("output_convs", RCUBlock(features, end ? 3 : 1, 2));
  if (in_planes.size() > 1)
    for (size_t i = 0; i < in_planes.size(); ++i)
      msf_.push_back(register_module("msf_convs_" + std::to_string(i), conv3x3(in_planes[i], features)));
  crp_ = register_module("crp", CRPBlock(features, 2));
}

at::Tensor RefineBlockImpl::forward(const std::vector<at::Tensor>& xs, at::IntArrayRef output_size) {
  TORCH_CHECK(xs.size() == adapt_.size(), "RefineBlock: expected ", adapt_.size(), " inputs, got ", xs.size());
  at::Tensor h;
  if (xs.size() == 1) {
    h = adapt_[0]->forward(xs[0]);
  } else {
    namespace F = torch::nn::functional;
    const std::vector<int64_t> size(output_size.begin(), output_size.end());
    for (size_t i = 0; i < xs.size(); ++i) {
      auto hi = msf_[i]->forward(adapt_[i]->forward(xs[i]));
      hi = F::interpolate(hi, F::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(true));
      h = h.defined() ? h + hi : hi;
    }
  }
  return output_->forward(crp_->forward(h));
}

// ---- the network ----

void NCSNv2Config::validate() const {
  if (channels < 1) throw ConfigError(flag_error("--channels", std::to_string(channels), "at least 1"));
  if (image_size < 2 || image_size % 2)
    throw ConfigError(flag_error("--image-size", std::to_string(image_size),
                                 "an even size (ncsnv2 downsamples once by 2)"));
  if (ngf < 1) throw ConfigError(flag_error("--base-channels", std::to_string(ngf), "ngf >= 1"));
  for (double s : sigmas)
    if (!(s > 0)) throw ConfigError("ncsnv2: conditional noise levels must be positive, got " + std::to_string(s));
  if (classes < 0) throw ConfigError("ncsnv2: the number of classes must be >= 0, got " + std::to_string(classes));
}

NCSNv2Config ncsnv2_preset(const std::string& preset, int64_t channels, int64_t image_size) {
  NCSNv2Config c;
  c.channels = channels;
  c.image_size = image_size;
  if (preset == "paper") {
    c.ngf = 128;
  } else if (preset == "small") {
    c.ngf = 32;
  } else if (preset == "tiny") {
    c.ngf = 8;
  } else {
    throw ConfigError(flag_error("--preset", preset, "one of tiny, small, paper"));
  }
  c.validate();
  return c;
}

NCSNv2Impl::NCSNv2Impl(const NCSNv2Config& config) : config_(config) {
  config_.validate();
  const int64_t n = config_.ngf, n2 = 2 * n;
  const int64_t levels = static_cast<int64_t>(config_.sigmas.size());
  // Rows of the conditional InstanceNorm++ embeddings: one per level, per class, or per (level, class).
  const int64_t classes = config_.classes > 0 ? std::max<int64_t>(levels, 1) * config_.classes : levels;
  if (levels > 0)
    sigmas_ = register_buffer("sigmas", torch::tensor(config_.sigmas, torch::kFloat64).to(torch::kFloat32));
  begin_conv_ = register_module("begin_conv", conv3x3(config_.channels, n));
  // {in, out, down, dilation} per block: res1 at S, res2 down to S/2, res3 / res4 dilated at S/2.
  struct Spec {
    int64_t in, out;
    bool down;
    int64_t dilation;
  };
  const std::vector<std::vector<Spec>> specs = {
      {{n, n, false, 0}, {n, n, false, 0}},
      {{n, n2, true, 0}, {n2, n2, false, 0}},
      {{n2, n2, true, 2}, {n2, n2, false, 2}},
      {{n2, n2, true, 4}, {n2, n2, false, 4}},
  };
  for (size_t s = 0; s < specs.size(); ++s) {
    stages_.emplace_back();
    for (size_t b = 0; b < specs[s].size(); ++b) {
      const auto& p = specs[s][b];
      stages_.back().push_back(register_module("res" + std::to_string(s + 1) + "_" + std::to_string(b),
                                               NCSNResBlock(p.in, p.out, p.down, p.dilation, classes)));
    }
  }
  refine_.push_back(register_module("refine1", RefineBlock(std::vector<int64_t>{n2}, n2, false)));
  refine_.push_back(register_module("refine2", RefineBlock(std::vector<int64_t>{n2, n2}, n2, false)));
  refine_.push_back(register_module("refine3", RefineBlock(std::vector<int64_t>{n2, n2}, n, false)));
  refine_.push_back(register_module("refine4", RefineBlock(std::vector<int64_t>{n, n}, n, true)));
  normalizer_ = register_module("normalizer", InstanceNormPlus(n, classes));
  end_conv_ = register_module("end_conv", conv3x3(n, config_.channels));
}

at::Tensor NCSNv2Impl::levels(const at::Tensor& sigma) const {
  TORCH_CHECK(sigmas_.defined(), "NCSNv2::levels: the network is unconditional (config.sigmas is empty)");
  auto d = (torch::log(sigma.to(torch::kFloat32).reshape({-1, 1})) - torch::log(sigmas_.reshape({1, -1}))).abs();
  return d.argmin(1);
}

at::Tensor NCSNv2Impl::forward(const at::Tensor& x, const at::Tensor& sigma, const at::Tensor& y) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == config_.channels, "NCSNv2: expected x [N, ", config_.channels,
              ", H, W], got ", x.sizes());
  TORCH_CHECK(x.size(2) % 2 == 0 && x.size(3) % 2 == 0, "NCSNv2: height and width must be even, got ", x.sizes());
  const int64_t batch = x.size(0);
  TORCH_CHECK(sigma.numel() == batch || sigma.numel() == 1, "NCSNv2: sigma must have N = ", batch,
              " values (or one), got ", sigma.sizes());
  auto s = sigma.to(x.device(), x.scalar_type()).reshape({-1, 1, 1, 1}).expand({batch, 1, 1, 1});
  at::Tensor level;
  if (sigmas_.defined()) level = levels(s.reshape({-1}));
  TORCH_CHECK(y.defined() == (config_.classes > 0), "NCSNv2: ",
              config_.classes > 0 ? "a class-conditional network needs labels y" : "an unconditional network takes no labels");
  if (config_.classes > 0) {
    TORCH_CHECK(y.numel() == batch || y.numel() == 1, "NCSNv2: y must have N = ", batch, " labels (or one), got ", y.sizes());
    const at::Tensor labels = y.to(x.device(), torch::kLong).reshape({-1}).expand({batch});
    TORCH_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < config_.classes,
                "NCSNv2: labels must be in 0..", config_.classes - 1);
    level = level.defined() ? level * config_.classes + labels : labels;
  }

  MixedPrecisionScope mixed;  // --precision bf16: the trunk under autocast; the division by sigma in fp32
  auto h = begin_conv_->forward(config_.rescale_input ? 2 * x - 1 : x);
  std::vector<at::Tensor> layers;
  for (auto& stage : stages_) {
    for (auto& block : stage) h = block->forward(h, level);
    layers.push_back(h);
  }
  auto ref = refine_[0]->forward({layers[3]}, layers[3].sizes().slice(2));
  ref = refine_[1]->forward({layers[2], ref}, layers[2].sizes().slice(2));
  ref = refine_[2]->forward({layers[1], ref}, layers[1].sizes().slice(2));
  ref = refine_[3]->forward({layers[0], ref}, layers[0].sizes().slice(2));
  auto out = to_float32(end_conv_->forward(torch::elu(normalizer_->forward(ref, level))));
  return out / s;
}

}  // namespace scorelab
