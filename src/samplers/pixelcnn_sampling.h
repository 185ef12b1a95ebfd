// Raster-order sampling from PixelCNN++ (REFERENCE.md sections 1-2): the reference sampler (one full forward
// per pixel, as the authors' code) and the cached sampler (models/pixelcnnpp_cache.h, Ramachandran et al. 2017
// style), which draw the SAME samples for the same seed: per pixel both read the head's parameters [N, P] at
// that position and call the same draw, so the generator is consumed identically.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include "models/discretized_logistic.h"
#include "samplers/sampler.h"

namespace scorelab {

class PixelCNNppImpl;
class PixelCNNppCache;

struct PixelCNNSampleOptions {
  // "bisection": Meng et al.'s inverse-CDF sampler of the continuous mixture (sample_mix_logistic_bisection);
  // "logistic": PixelCNN++'s Gumbel-max component + logistic noise (sample_from_(discretized_)mix_logistic).
  std::string draw = "bisection";
  // true: the continuous mixture of stage 1 on smoothed x~ (no clamp by default); false: the discretized
  // mixture of clean data (clamp to [-1, 1] by default, as the references do).
  bool continuous = false;
  BisectionOptions bisection = bisection_mnist();
  // A model of p(x | x~) (stage 2). PixelCNNSampler sets it from the model's conditioning.
  bool conditional = false;
  // "auto" | "none" | "unit" ([-1, 1]) | "clean" (every draw of clean data, ar and stage 2, but not x~:
  // what "auto" did before issue 16). "auto" clamps only unconditional draws of clean data (PixelCNN++'s
  // sample_from_discretized_mix_logistic); smoothed x~ (stage 1) and stage 2's p(x | x~) are not clamped, as
  // in the authors' sampler (clamp=False), so later pixels condition on the values drawn. With "logistic",
  // [-1, 1] clamps each channel before it enters the coupling of the next; with "bisection" the search runs
  // over [-1, 1] instead of [-bound, bound] (the authors' clamp=True).
  std::string clamp = "auto";
  bool cached = true;  // false: the reference, one full forward per pixel
};

// ConfigError naming the flag (--ar-draw, --clamp) for an unknown draw or clamp name, or bad bisection
// settings (--bisection-bound, --bisection-iters, --bisection-u-min).
void validate(const PixelCNNSampleOptions& options);
// Whether samples are clamped to [-1, 1] ("auto" resolves by `continuous`).
bool clamps_to_unit(const PixelCNNSampleOptions& options);

// Draws one pixel [N, C] from the head's parameters at one position [N, P], as `options` says.
at::Tensor draw_pixel(const at::Tensor& params, int64_t channels, at::Generator& gen,
                      const PixelCNNSampleOptions& options);

// n images [n, C, H, W] in raster order (row, column; all channels of one pixel drawn together from the head).
// The model must be in eval mode (dropout off); runs without autograd. cond: x~ [n, C, H, W] for kStacked /
// kStream models, undefined otherwise. known / known_mask [n, C, H, W] (optional, for inpainting): where
// known_mask != 0 the value is set to `known` instead of the draw (the draw still runs, so the generator
// advances the same; every later pixel conditions on the known value). on_step(i, H*W, x) after each pixel,
// with the image being filled (clone it to keep a snapshot).
at::Tensor sample_pixelcnnpp(PixelCNNppImpl& model, int64_t n, int64_t channels, int64_t height, int64_t width,
                             at::Generator& gen, const PixelCNNSampleOptions& options, const at::Tensor& cond = {},
                             const at::Tensor& known = {}, const at::Tensor& known_mask = {},
                             const StepCallback& on_step = {});

// The sampler behind sample_pixelcnnpp (its one path, through run_sampler): steps are the H*W raster positions and must run in order from 0
// (step 0 starts a fresh cache for x's batch). Step i takes pixels [0, i) from x, so run_sampler_from with a
// partly filled x continues from it. cond / known / known_mask as above, with the batch size of the run.
class PixelCNNSampler : public Sampler {
 public:
  // The model must outlive the sampler.
  PixelCNNSampler(PixelCNNppImpl& model, int64_t channels, int64_t height, int64_t width,
                  PixelCNNSampleOptions options, at::Tensor cond = {}, at::Tensor known = {},
                  at::Tensor known_mask = {});
  // Keeps the model alive.
  PixelCNNSampler(std::shared_ptr<PixelCNNppImpl> model, int64_t channels, int64_t height, int64_t width,
                  PixelCNNSampleOptions options, at::Tensor cond = {}, at::Tensor known = {},
                  at::Tensor known_mask = {});
  ~PixelCNNSampler() override;

  std::string name() const override { return "pixelcnnpp"; }
  int64_t num_steps() const override { return height_ * width_; }
  // Zeros [n, C, H, W] on the model's device; sample_shape must be {C, H, W}.
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  NoiseLevel init_level() const override { return NoiseLevel::none(); }
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;

 private:
  std::shared_ptr<PixelCNNppImpl> owner_;
  PixelCNNppImpl* model_;
  int64_t channels_, height_, width_;
  PixelCNNSampleOptions options_;
  at::Tensor cond_, known_, known_mask_;
  // Sampling state, advanced by step(): the cache and the next position expected.
  mutable std::unique_ptr<PixelCNNppCache> cache_;
  mutable int64_t next_ = 0;
};

}  // namespace scorelab
