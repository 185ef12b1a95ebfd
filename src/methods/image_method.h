// The image methods (ar, smoothed-ar, ncsn, ddpm) as classes in one registry: the one place where an image
// method name becomes its network, objective, training defaults, samplers, drawing and inpainting. The
// pipelines (image_models, image_train, image_sampling, inpaint, compare, sample) ask the registry and hold
// no `method == "..."` switch. The toy implementations of the same names are in toy_method.h.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "methods/image_sampling.h"

namespace scorelab {

class ImageMethod {
 public:
  virtual ~ImageMethod() = default;
  virtual std::string name() const = 0;
  virtual std::string help() const = 0;

  // ---- training
  virtual bool likelihood() const { return false; }    // its test loss is a likelihood (bits/dim)
  virtual int max_stage() const { return 1; }            // 2: a second (reverse-smoothing) model
  virtual bool supports_hybrid() const { return false; }  // --hybrid (learned variances)
  // The network and objective of `config` for images channels x size x size.
  virtual ImageModel build(const ImageTrainConfig& config, int64_t channels, int64_t size) const = 0;
  // The --preset paper / small optimiser defaults, for the flags `unset` says the user did not give.
  using Unset = std::function<bool(const char*)>;
  virtual void paper_preset(ImageTrainConfig& config, const Unset& unset) const = 0;
  virtual void small_preset(ImageTrainConfig&, const Unset&) const {}

  // ---- sampling
  // Its sampler when --sampler is not given; "" for methods that draw pixel by pixel (--sampler does not apply).
  virtual std::string default_sampler() const { return ""; }
  // What its model offers to samplers (SamplerSpec::needs names).
  virtual std::vector<std::string> offered() const { return {}; }
  // The inputs for a sampler on the loaded model (score methods; ConfigError otherwise).
  virtual SamplerArgs sampler_args(const SamplingConfig& config, const LoadedImageModel& model) const;
  // The scale the sampler runs on (identity unless overridden).
  virtual ImageDataTransform data_transform() const { return {}; }
  // ConfigError naming the flag when the choices do not fit the loaded models.
  virtual void validate_for(const SamplingConfig& config, const LoadedModels& models) const = 0;
  // n samples (ImageSamples::samples, ::noisy, ::stats; the caller times them), without autograd.
  virtual ImageSamples draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                            SamplingMonitor* monitor) const = 0;
  // Completes x0 [N, C, H, W] where `known` (bool, x0's shape) is false; see inpaint.h.
  virtual at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                             const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const = 0;
  // metrics.json keys that say how it sampled (sampler, or denoise / grad) and its caveats ("note").
  virtual nlohmann::json sampling_summary(const SamplingConfig& config) const = 0;
};

// The registered image methods, in a stable order (ar, smoothed-ar, ncsn, ddpm).
const std::vector<std::shared_ptr<const ImageMethod>>& image_methods();
std::vector<std::string> image_method_names();
// ConfigError "flag --method: got 'NAME'; expected one of ar, smoothed-ar, ncsn, ddpm".
const ImageMethod& image_method(const std::string& name);

}  // namespace scorelab
