// Building blocks the method files (ar.cpp, smoothed_ar.cpp, ncsn.cpp, ddpm.cpp) share; not for pipelines.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "eval/likelihood.h"
#include "methods/method.h"
#include "models/pixelcnnpp.h"
#include "models/registry.h"
#include "models/toy_ar.h"
#include "models/toy_score.h"
#include "objectives/objective.h"

namespace scorelab::method_parts {

// ---- mixture data (toy sessions)

// Trains `module` on `objective` with fresh data batches (checkpoints under dir when not empty); records the
// result in `method` (train_info, modules, train_seconds, loss_curves).
void fit(ToyMethod& method, const std::string& label, const std::shared_ptr<torch::nn::Module>& module,
         const Objective& objective, const ToyData& data, const ToyMethodConfig& method_config, at::Generator& gen,
         const std::string& dir, const std::function<at::Tensor(const at::Tensor&)>& transform = {});
// The registered sampler `name` with validated settings.
std::unique_ptr<Sampler> make_sampler(const std::string& name, SamplerArgs args);
// Uniform Langevin initialisation over the data's 3-std box.
SamplerConfig with_box(SamplerConfig c, const GaussianMixture& truth);
// The MLP sizes of the config for data of dimension dim (cond_dim: a conditioning input) and scale.
ModelArgs toy_model_args(const ToyMethodConfig& c, int64_t dim, int64_t cond_dim, double scale);
// fn's samples with its wall time.
NamedSamples timed_sample(const std::string& name, const std::function<at::Tensor()>& fn);
// Ancestral draws of the toy AR model (optionally conditioned on cond) through the autoregressive sampler.
at::Tensor draw_ar(ToyAR& model, int64_t n, int64_t dim, const at::Tensor& cond, at::Generator& gen);

// ---- classifier guidance on mixtures (issue 15)
// A noise-aware classifier of the mixture component, trained with cross-entropy on labelled exact draws moved to the
// sampler's coordinates (`to_coords`, e.g. ddpm's standardisation; identity when empty) plus N(0, sigma^2 I) noise,
// sigma log-uniform on [sigma_lo, sigma_hi]; `coord_scale`: the data's std in those coordinates. Checkpoints and the
// loss curve as the method's other models (label "classifier").
std::shared_ptr<ToyClassifierImpl> fit_toy_classifier(ToyMethod& method, const ToyData& data, const ToyMethodConfig& c,
                                                      const std::function<at::Tensor(const at::Tensor&)>& to_coords,
                                                      double coord_scale, double sigma_lo, double sigma_hi,
                                                      at::Generator& gen, const std::string& dir);
// grad_x log p(y | x, sigma) of the classifier for the labels y [N] (with autograd on, whatever the caller's mode).
ScoreFn toy_classifier_grad(std::shared_ptr<ToyClassifierImpl> classifier, at::Tensor y);
// The exact one for a mixture (in the sampler's coordinates) smoothed at sigma: grad log p_y,sigma(x) - grad log p_sigma(x).
ScoreFn exact_classifier_grad(std::shared_ptr<const GaussianMixture> mixture, at::Tensor y);
// Labels for n guided draws, from the mixture weights (the class prior).
at::Tensor draw_labels(const GaussianMixture& truth, int64_t n, at::Generator& gen);
// The fraction of samples whose most responsible component (the exact, unsmoothed mixture) is their label.
double label_agreement(const GaussianMixture& truth, const at::Tensor& x, const at::Tensor& y);

// A test-set likelihood entry: {"kind", "nll" (nats per example, mean), "se" (standard error of the mean over
// examples), "n", "seconds", "nfe" (function evaluations per example)} plus `extra`.
nlohmann::json likelihood_entry(const std::string& kind, const at::Tensor& nll, double seconds, double nfe,
                                const nlohmann::json& extra = nullptr);
// fn over x in batches of `batch` rows, results concatenated (fn returns [rows]); nfe_mean gets the
// row-weighted mean of the nfe each call reports through its second argument.
at::Tensor batched(const at::Tensor& x, int64_t batch, const std::function<at::Tensor(const at::Tensor&, double&)>& fn,
                   double* nfe_mean);
double seconds_since(std::chrono::steady_clock::time_point t0);

// ---- image data

extern const char* const kRasterNote;  // the raster-order caveat of PixelCNN++ completions
StepCallback stage_callback(SamplingMonitor* monitor, const std::string& name, double scale = 1.0, double shift = 0.0);

// PixelCNN++ methods: a likelihood, the authors' optimiser settings at --preset paper.
class PixelCnnMethod : public Method {
 public:
  bool likelihood() const override { return true; }
  void paper_preset(ImageTrainConfig& c, const Unset& unset) const override;
  // An AR MLP on mixtures, PixelCNN++ on images (every stage).
  std::vector<std::string> networks(const DataSource& source) const override {
    return {source.images() ? "pixelcnnpp" : "toy-ar"};
  }

 protected:
  // The PixelCNN++ of `config` as an ImageModel (module, dropout generator, bits/dim units); objective and
  // name are the caller's.
  static ImageModel pixelcnn_model(const ImageTrainConfig& config, int64_t channels,
                                   std::shared_ptr<PixelCNNppImpl>& net);
};

// The DDPM U-Net's optimiser settings (ddpm and ardm train that network): --preset paper batch 128, lr 2e-4, EMA
// 0.9999, gradient clipping 1; --preset small clipping 1.
void unet_paper_preset(ImageTrainConfig& c, const Method::Unset& unset);
void unet_small_preset(ImageTrainConfig& c, const Method::Unset& unset);

// A score network run by any registered sampler it offers the inputs for (its model wrapper's), with
// inpainting as the sampler loop's projection hook.
class ScoreMethod : public Method {
 public:
  void validate_for(const SamplingConfig& config, const LoadedModels& models) const override;
  ImageSamples draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                    SamplingMonitor* monitor) const override;
  at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                     const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const override;
  nlohmann::json sampling_summary(const SamplingConfig& config) const override;
};

}  // namespace scorelab::method_parts
