#include "samplers/pixelcnn_sampling.h"

#include <torch/torch.h>

#include "core/error.h"
#include "models/pixelcnnpp.h"
#include "models/pixelcnnpp_cache.h"

namespace scorelab {

namespace {

at::Tensor pixel(const at::Tensor& x, int64_t r, int64_t c) { return x.select(2, r).select(2, c); }  // [N, C]

at::TensorOptions model_options(PixelCNNppImpl& model) {
  auto params = model.parameters();
  TORCH_CHECK(!params.empty(), "pixelcnnpp sampler: the model has no parameters");
  return params.front().options();
}

void check_setup(PixelCNNppImpl& model, int64_t channels, int64_t height, int64_t width) {
  TORCH_CHECK(model.config().input_channels == channels, "pixelcnnpp sampler: the model has ",
              model.config().input_channels, " channels, asked for ", channels);
  TORCH_CHECK(height > 0 && width > 0, "pixelcnnpp sampler: bad image size ", height, "x", width);
  TORCH_CHECK(!model.is_training(), "pixelcnnpp sampler: the model must be in eval mode (dropout off); call eval()");
}

void check_known(const at::Tensor& known, const at::Tensor& mask, int64_t n, int64_t c, int64_t h, int64_t w) {
  TORCH_CHECK(known.defined() == mask.defined(), "pixelcnnpp sampler: known and known_mask go together");
  if (!known.defined()) return;
  const std::vector<int64_t> shape{n, c, h, w};
  TORCH_CHECK(known.sizes() == shape && mask.sizes() == shape, "pixelcnnpp sampler: known ", known.sizes(),
              " and known_mask ", mask.sizes(), " must be ", at::IntArrayRef(shape));
}

// The drawn pixel, with the known values where the mask is set.
at::Tensor keep_known(const at::Tensor& drawn, const at::Tensor& known, const at::Tensor& mask, int64_t r,
                      int64_t c) {
  if (!known.defined()) return drawn;
  return at::where(pixel(mask, r, c) != 0, pixel(known, r, c).to(drawn.options()), drawn);
}

// The head's parameters at (r, c) [N, P]: from the cache, or from one full forward of x (the reference).
at::Tensor params_at(PixelCNNppImpl& model, PixelCNNppCache* cache, const at::Tensor& x, const at::Tensor& cond,
                     int64_t r, int64_t c) {
  if (cache != nullptr) return cache->params_at(r * x.size(3) + c);
  return pixel(model.forward(x, cond), r, c).contiguous();
}

}  // namespace

void validate(const PixelCNNSampleOptions& o) {
  if (o.draw != "bisection" && o.draw != "logistic")
    throw ConfigError(flag_error("--ar-draw", o.draw, "bisection or logistic"));
  if (o.clamp != "auto" && o.clamp != "none" && o.clamp != "unit" && o.clamp != "clean")
    throw ConfigError(flag_error("--clamp", o.clamp, "auto, none, unit or clean"));
  if (o.draw == "bisection") {
    if (!(o.bisection.bound > 0))
      throw ConfigError(flag_error("--bisection-bound", std::to_string(o.bisection.bound), "a number > 0"));
    if (o.bisection.iters < 1)
      throw ConfigError(flag_error("--bisection-iters", std::to_string(o.bisection.iters), "an integer >= 1"));
    if (!(o.bisection.u_min > 0 && o.bisection.u_min < 0.5))
      throw ConfigError(flag_error("--bisection-u-min", std::to_string(o.bisection.u_min), "a number in (0, 0.5)"));
  }
}

bool clamps_to_unit(const PixelCNNSampleOptions& o) {
  if (o.clamp == "auto") return !o.continuous && !o.conditional;
  if (o.clamp == "clean") return !o.continuous;  // "auto" before issue 16: stage 2 clamped too
  return o.clamp == "unit";
}

at::Tensor draw_pixel(const at::Tensor& params, int64_t channels, at::Generator& gen,
                      const PixelCNNSampleOptions& options) {
  TORCH_CHECK(params.dim() == 2, "draw_pixel: params must be [N, P], got ", params.sizes());
  const bool unit = clamps_to_unit(options);
  if (options.draw == "logistic")
    return unit ? sample_from_discretized_mix_logistic(params, channels, gen)
                : sample_from_mix_logistic(params, channels, gen);
  BisectionOptions b = options.bisection;
  if (unit) b.bound = 1.0;  // the authors' clamp=True: search [-1, 1]
  return sample_mix_logistic_bisection(params, channels, gen, b);
}

at::Tensor sample_pixelcnnpp(PixelCNNppImpl& model, int64_t n, int64_t channels, int64_t height, int64_t width,
                             at::Generator& gen, const PixelCNNSampleOptions& options, const at::Tensor& cond,
                             const at::Tensor& known, const at::Tensor& known_mask, const StepCallback& on_step) {
  // The one path: the sampler contract, driven by the one loop.
  TORCH_CHECK(n > 0, "pixelcnnpp sampler: n must be positive, got ", n);
  PixelCNNSampler sampler(model, channels, height, width, options, cond, known, known_mask);
  return run_sampler(sampler, n, {channels, height, width}, gen, on_step);
}

PixelCNNSampler::PixelCNNSampler(PixelCNNppImpl& model, int64_t channels, int64_t height, int64_t width,
                                 PixelCNNSampleOptions options, at::Tensor cond, at::Tensor known,
                                 at::Tensor known_mask)
    : model_(&model),
      channels_(channels),
      height_(height),
      width_(width),
      options_(std::move(options)),
      cond_(std::move(cond)),
      known_(std::move(known)),
      known_mask_(std::move(known_mask)) {
  validate(options_);
  options_.conditional = model.config().conditioning != PixelCNNConditioning::kNone;
  check_setup(model, channels_, height_, width_);
  TORCH_CHECK(known_.defined() == known_mask_.defined(), "pixelcnnpp sampler: known and known_mask go together");
}

PixelCNNSampler::PixelCNNSampler(std::shared_ptr<PixelCNNppImpl> model, int64_t channels, int64_t height,
                                 int64_t width, PixelCNNSampleOptions options, at::Tensor cond, at::Tensor known,
                                 at::Tensor known_mask)
    : PixelCNNSampler(*model, channels, height, width, std::move(options), std::move(cond), std::move(known),
                      std::move(known_mask)) {
  owner_ = std::move(model);
}

PixelCNNSampler::~PixelCNNSampler() = default;

at::Tensor PixelCNNSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& /*gen*/) const {
  const std::vector<int64_t> expected{channels_, height_, width_};
  TORCH_CHECK(sample_shape == at::IntArrayRef(expected), "pixelcnnpp sampler: sample shape ", sample_shape,
              " does not match the sampler's ", at::IntArrayRef(expected));
  return at::zeros(batch_shape(n, sample_shape), model_options(*model_));
}

StepOutput PixelCNNSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == channels_ && x.size(2) == height_ && x.size(3) == width_,
              "pixelcnnpp sampler: x must be [N, ", channels_, ", ", height_, ", ", width_, "], got ", x.sizes());
  TORCH_CHECK(i >= 0 && i < num_steps(), "pixelcnnpp sampler: position ", i, " outside [0, ", num_steps(), ")");
  torch::NoGradGuard no_grad;
  if (i == 0) {
    check_known(known_, known_mask_, x.size(0), channels_, height_, width_);
    cache_.reset();
    if (options_.cached) cache_ = std::make_unique<PixelCNNppCache>(*model_, x.size(0), height_, width_, cond_);
    next_ = 0;
  }
  TORCH_CHECK(i == next_, "pixelcnnpp sampler: steps run in raster order from 0; expected ", next_, ", got ", i);
  if (cache_ && i > 0) cache_->set_pixel(i - 1, pixel(x, (i - 1) / width_, (i - 1) % width_));
  const int64_t r = i / width_, c = i % width_;
  auto params = params_at(*model_, cache_.get(), x, cond_, r, c);
  auto value = keep_known(draw_pixel(params, channels_, gen, options_), known_, known_mask_, r, c);
  auto out = x.clone(at::MemoryFormat::Contiguous);
  pixel(out, r, c).copy_(value);
  next_ = i + 1;
  return {out, NoiseLevel::none(), {}};
}

}  // namespace scorelab
