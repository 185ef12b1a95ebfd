// Methods (ar, smoothed-ar, ncsn, ddpm): the one place where a method name becomes its networks,
// objectives and samplers, for both kinds of data source (data/source.h). Each method is one class in its
// own file (methods/ar.cpp, smoothed_ar.cpp, ncsn.cpp, ddpm.cpp) and one line in the list of method.cpp:
//   on a mixture (the toy lab) it builds MLPs (toy-ar, score-mlp, eps-mlp) and a ToyMethod session trains
//   them on exact draws, samples and evaluates (toy_method.h);
//   on images it builds PixelCNN++ / NCSNv2 / U-Net (build), and draws, inpaints and reports through the
//   image pipelines (image_train, image_sampling, inpaint, image_compare, sample).
// Score methods hand samplers a model wrapper (samplers/wrappers.h), so every sampler they offer runs on
// them; inpainting with a score method is the sampler loop's projection hook. The pipelines hold no
// `method == "..."` switch: they ask the method.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/source.h"
#include "methods/image_sampling.h"
#include "methods/toy_method.h"

namespace scorelab {

struct ImageCompareRows;  // image_compare.h
struct LikelihoodConfig;  // eval/likelihood.h
struct ImageDataset;      // data/image_data.h

// Per-image test likelihood in bits/dim on the 8-bit scale (eval/likelihood.h's conventions).
struct ImageLikelihood {
  at::Tensor bits_per_dim;  // [N]
  std::string label;        // what it is: "exact (discretized)", "upper bound ...", "probability-flow ODE ..."
  double nfe = 0;           // network evaluations per image
  bool continuous = false;  // a continuous density on [-1, 1] (its nats per image: (bpd - log2 127.5) D ln 2)
};

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;
  virtual std::string help() const = 0;
  // The networks it builds for a data source (model registry names), e.g. {"toy-ar"} on a mixture and
  // {"pixelcnnpp"} on images (smoothed-ar: both stages are of that kind).
  virtual std::vector<std::string> networks(const DataSource& source) const = 0;

  // ---- shared by both kinds of data
  virtual bool likelihood() const { return false; }  // its test loss is a likelihood (nats / bits per dim)
  virtual int max_stage() const { return 1; }          // 2: a second (reverse-smoothing) model
  // Its corruption of the data, for the smoothing methods: "noise" (smoothed-ar), "blur", "blur+noise"; "" otherwise.
  virtual std::string smoothing_kind() const { return ""; }
  // Its reverse-smoothing rows of `compare` out of --denoisers (the blur methods: conditional-ar only).
  virtual std::vector<std::string> compare_denoisers(const std::vector<std::string>& requested) const {
    return requested;
  }
  // Its sampler when --sampler is not given; "" for methods that draw pixel by pixel / coordinate by coordinate.
  virtual std::string default_sampler() const { return ""; }
  // What its trained image model offers to samplers (SamplerSpec::needs names: its model wrapper's
  // offered()). A toy session checks --sampler against its own model (e.g. ncsn --score exact adds log_density).
  virtual std::vector<std::string> offered() const { return {}; }

  // ---- mixture data: a session that trains on exact draws, samples and evaluates (toy_method.h)
  virtual std::unique_ptr<ToyMethod> toy(const ToyMethodConfig& config) const = 0;

  // ---- image data: training
  virtual bool supports_hybrid() const { return false; }  // --hybrid (learned variances)
  // The network and objective of `config` for images channels x size x size.
  virtual ImageModel build(const ImageTrainConfig& config, int64_t channels, int64_t size) const = 0;
  // The --preset paper / small optimiser defaults, for the flags `unset` says the user did not give.
  using Unset = std::function<bool(const char*)>;
  virtual void paper_preset(ImageTrainConfig& config, const Unset& unset) const = 0;
  virtual void small_preset(ImageTrainConfig&, const Unset&) const {}

  // ---- image data: sampling
  // The inputs for a sampler on the loaded model (score methods; ConfigError otherwise), guided by `guide` (classifier
  // guidance, issue 15; scale 0: unguided).
  virtual SamplerArgs sampler_args(const SamplingConfig& config, const LoadedImageModel& model,
                                   const ClassifierGuide& guide) const;
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
  // The likelihoods it has on images ("exact", "bound", "ode"), and one of them for images x [N, C, H, W]
  // (model scale) with the loaded models (smoothed-ar's bound needs the stage-2 model).
  virtual std::vector<std::string> likelihood_kinds() const { return {}; }
  virtual ImageLikelihood image_likelihood(const std::string& kind, const LoadedModels& models, const at::Tensor& x,
                                           const LikelihoodConfig& config, at::Generator& gen) const;
  // image_likelihood over the first n images of `test` in batches of config.batch_size, summarised: {"kind",
  // "bits_per_dim" (mean), "se", "n", "nfe" (per image), "continuous_nll_nats" where it is a continuous density}.
  nlohmann::json test_likelihood(const std::string& kind, const LoadedModels& models, const ImageDataset& test,
                                 int64_t n, const LikelihoodConfig& config, at::Generator& gen) const;
  // The models `compare` trains for it (labels of ImageCompareConfig's model folders; see image_compare.h)
  // and its rows of the comparison: one row by default (draw_samples), smoothed-ar one per denoiser.
  virtual void compare_rows(ImageCompareRows& rows) const;
};

// The registered methods, in a stable order (ar, smoothed-ar, ncsn, ddpm).
const std::vector<std::shared_ptr<const Method>>& methods();
std::vector<std::string> method_names();
// "NAME: HELP" for each method, joined with `separator` (for --method help texts).
std::string methods_help(const std::string& separator);
// ConfigError "flag --method: got 'NAME'; expected one of ar, smoothed-ar, ncsn, ddpm".
const Method& get_method(const std::string& name);

}  // namespace scorelab
