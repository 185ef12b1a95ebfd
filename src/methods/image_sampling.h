// Drawing images from trained image models (issue 4): one entry point, draw_samples, for every image
// method, built only from the sampler contract (samplers/sampler.h) and PixelCNN++ sampling
// (samplers/pixelcnn_sampling.h). The engine behind `inpaint` and `compare` on images.
//
//   ar           PixelCNN++ ancestral sampling of the discretized mixture (--ar-draw, --clamp).
//   smoothed-ar  stage 1: x~ ~ p_theta(x~) (continuous mixture); stage 2 (--denoise):
//                  single-step     x_bar = x~ + sigma^2 grad_x~ log p_theta(x~) (Meng et al. 2021, eq. of
//                                  REFERENCE 1), with --grad detached (the authors' quirk: params =
//                                  net(x~).detach(), so only each pixel's own mixture density, plus the
//                                  in-pixel RGB coupling, is differentiated) or --grad full (backprop through
//                                  the network: the true gradient of log p_theta(x~));
//                  conditional-ar  x ~ p_theta(x | x~), the stage-2 PixelCNN++ (discretized draw).
//   ncsn         annealed Langevin (NCSN Alg. 1) on s(x, sigma) = net(x) / sigma with the network's own
//                sigmas, on NCSN's [0, 1] data scale, from uniform noise on [0, 1]; returned in [-1, 1].
//   ddpm         ancestral sampling (--ddpm-variance, --clip-x0) or DDIM (--sampler ddim, --steps, --eta,
//                --spacing) on the U-Net's eps (the first C output channels when variances are learned:
//                the learned variance is not used, the sampler's fixed small/large variance is).
// Images are on the model scale [-1, 1] throughout (data/image_data.h: to_model_range / to_uint8).
#pragma once
#include <boost/program_options/options_description.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include "methods/image_models.h"
#include "methods/image_train.h"
#include "samplers/registry.h"
#include "samplers/sampler.h"
#include "samplers/wrappers.h"

namespace scorelab {

class PixelCNNppImpl;
struct PixelCNNSampleOptions;
struct GuideClassifier;

// ---- loading trained models ------------------------------------------------------------------------------

// A trained image model with the config it was built from.
struct LoadedImageModel {
  ImageTrainConfig config;  // method, stage, dataset, sizes, sigma, schedules (from DIR/config.json)
  ImageModel model;         // in eval mode, on the device it was loaded to
  int64_t channels = 0;
  int64_t size = 0;         // height = width
  std::string dir;          // the train output folder ("" when built in memory)
};

// The models a method samples with: `main` is the method's model (stage 1 for smoothed-ar); `stage2` is
// smoothed-ar's reverse-smoothing PixelCNN++ p(x | x~), needed only by --denoise conditional-ar.
struct LoadedModels {
  LoadedImageModel main;
  std::optional<LoadedImageModel> stage2;
  // ncsn and ddpm with --classifier-scale > 0: the noise-aware classifier that guides them (methods/guidance.h).
  std::shared_ptr<const GuideClassifier> guide;
  const std::string& method() const { return main.config.method; }
};

// A freshly built (untrained) model of `config` for images of `channels` x `size` x `size`, in eval mode
// on `device`: what load_image_model fills with weights; also for tests and in-memory pipelines.
LoadedImageModel build_loaded_image_model(const ImageTrainConfig& config, int64_t channels, int64_t size,
                                          c10::Device device = c10::Device(c10::kCPU));

// Inverse of ImageTrainConfig::to_json for the fields that determine the network (method, stage,
// dataset, preset, sizes, sigma, conditioning, schedules, seed). Missing keys keep their defaults.
ImageTrainConfig image_train_config_from_json(const nlohmann::json& j);

// Rebuilds the model of a `train` output folder: DIR/config.json, then the weights from DIR/model.pt
// (the final weights, EMA ones when EMA was on) or, when training stopped before writing it, the raw
// weights of DIR/checkpoint.ckpt. Missing or mismatched files: DataError naming the file and what to do;
// a folder of a toy model: ConfigError. The module is put in eval mode on `device`.
LoadedImageModel load_image_model(const std::string& dir, c10::Device device = c10::Device(c10::kCPU));

// Loads --model-dir (and --stage2-dir when not empty) and checks that they fit together: the stage-2
// folder must hold a smoothed-ar stage-2 model of the same dataset and sigma as a smoothed-ar stage-1
// main model; a stage-2 model given as the main model is a ConfigError naming --model-dir.
LoadedModels load_models(const std::string& model_dir, const std::string& stage2_dir = "",
                         c10::Device device = c10::Device(c10::kCPU));

// ---- configuration ---------------------------------------------------------------------------------------

struct SamplingConfig {
  // ar and smoothed-ar (PixelCNN++).
  std::string ar_draw = "bisection";   // --ar-draw bisection (inverse-CDF, the authors') | logistic (Gumbel + logistic)
  std::string clamp = "auto";          // --clamp: forwarded to PixelCNNSampleOptions::clamp
  bool ar_naive = false;               // --ar-naive: one full forward per pixel instead of the cached sampler
  // smoothed-ar stage 2.
  std::string denoise = "single-step";  // --denoise single-step | conditional-ar (needs --stage2-dir)
  std::string grad = "full";            // --grad full | detached (the authors' quirk)
  // ncsn and ddpm: "" = the method's default (ncsn: annealed-langevin; ddpm: ddpm).
  std::string sampler;                  // --sampler annealed-langevin | ddpm | ddim
  SamplerConfig sampling;               // --step-size, --steps-per-level, --step-rule, --final-denoise,
                                        // --ddpm-variance, --clip-x0, --steps, --eta, --spacing
  int64_t snapshots = 0;                // --snapshots K: intermediate grids per sampling stage
  double guidance_scale = 0.0;          // --guidance-scale w: classifier-free guidance (image_models.h: guided)
  // --classifier-scale s: classifier guidance of ncsn and ddpm by a noise-aware classifier (LoadedModels::guide): each
  // row drawn for a uniformly random digit y, the score s(x) + s grad_x log p(y | x, sigma) (methods/guidance.h).
  double classifier_scale = 0.0;
  int64_t ardm_steps = 0;               // --ardm-steps: ardm's decoding steps (0: one pixel per step)
  // compare's --sample-batch B: images per sampler call (rows drawn B at a time from the same stream, so the sampler's
  // memory is bounded; 0: all at once). Runs with at most B samples draw exactly as one call.
  int64_t sample_batch = 250;

  // Binds every flag above.
  void add_options(boost::program_options::options_description& desc);
  // Binds only the image-specific flags (--ar-draw, --clamp, --ar-naive, --snapshots), for apps that
  // already bind --denoise, --grad, --sampler and the SamplerConfig flags (the toy lab's ToyMethodConfig)
  // and copy them into this struct.
  void add_image_options(boost::program_options::options_description& desc);
  // ConfigError naming the flag, the value and what is allowed.
  void validate() const;
  // Checks the choices against the loaded models (e.g. --sampler ddim for an ncsn model, --denoise
  // conditional-ar without a stage-2 model, --steps above the model's T): ConfigError naming the flag.
  void validate_for(const LoadedModels& models) const;
  nlohmann::json to_json() const;
  // The sampler that runs for `method` ("" for ar / smoothed-ar).
  std::string sampler_for(const std::string& method) const;
};

// ---- progress and snapshots ------------------------------------------------------------------------------

// Watches a sampling run. Each stage of a method (ar: "ar"; smoothed-ar: "stage1", then "single-step" or
// "stage2"; ncsn: "annealed-langevin"; ddpm: "ddpm" / "ddim") asks for a StepCallback. After step i of N
// the monitor:
//   - prints "[sample STAGE] step i/N  elapsed Es  ETA Ts" to stderr (on a terminal one updating line,
//     at most every 0.5 s; otherwise one line every 10 s and one at the end), unless progress is off;
//   - with snapshots K > 0 and a folder, writes DIR/snapshot-STAGE-<step, 6 digits>.png (write_png_grid
//     of the current x) at the K steps ceil((k + 1) N / K) - 1, k = 0..K-1 (every step when K >= N),
//     so the last snapshot is the stage's result. x is mapped to [-1, 1] by the stage's affine map
//     (ncsn's [0, 1] scale: scale 2, shift -1).
class SamplingMonitor {
 public:
  SamplingMonitor(std::string dir = "", int64_t snapshots = 0, bool progress = true);
  StepCallback stage(const std::string& name, double scale = 1.0, double shift = 0.0);
  const std::vector<std::string>& snapshot_files() const { return state_->files; }

  // The steps (0-based) at which K snapshots of an N-step stage are written.
  static std::vector<int64_t> snapshot_steps(int64_t steps, int64_t snapshots);

 private:
  struct State {
    std::string dir;
    int64_t snapshots = 0;
    bool progress = true;
    std::vector<std::string> files;
  };
  std::shared_ptr<State> state_;
};

// ---- building blocks (also used by inpainting) -----------------------------------------------------------

// The affine map between the model scale [-1, 1] and the scale a score model's sampler runs on (NCSN's
// [0, 1]: to_sampler(x) = (x + 1) / 2; identity otherwise): x_model = scale x_sampler + shift.
struct ImageDataTransform {
  double scale = 1.0, shift = 0.0;
  at::Tensor to_sampler(const at::Tensor& x) const;
  at::Tensor to_model(const at::Tensor& x) const;
};
ImageDataTransform sampler_data_transform(const LoadedImageModel& model);

// The PixelCNN++ inside an ar / smoothed-ar ImageModel (std::logic_error if it holds another network).
PixelCNNppImpl& pixelcnn_of(const ImageModel& model);

// PixelCNN++ sampling options from the config: --ar-draw, --clamp, cached unless --ar-naive, bisection
// bounds of the MNIST preset for 1 channel and of CIFAR-10 for 3; `continuous` for stage 1's x~.
PixelCNNSampleOptions pixelcnn_options(const SamplingConfig& config, const std::string& dataset, bool continuous);

// s(x~) = grad_x~ log p_theta(x~) of a smoothed-ar stage-1 PixelCNN++ (continuous mixture), computed
// with autograd enabled locally. detached: params = net(x~).detach(), so each pixel contributes only the
// derivative of its own mixture density (with the in-pixel RGB coupling); full: the whole network is
// differentiated. The sigma argument is ignored (the model is trained at one sigma).
ScoreFn pixelcnn_score_fn(const ImageModel& stage1, bool detached);

// NCSN score s(x, sigma) = net(x) / sigma on the [0, 1] data scale (what the objective trained); with `guidance` w
// and a class-conditional model, classifier-free guidance (image_models.h: guided).
ScoreFn ncsn_score_fn(const ImageModel& model, double guidance = 0.0);

// DDPM eps_theta(x_t, t): the U-Net's first `channels` output channels (guided as ncsn_score_fn).
EpsFn ddpm_eps_fn(const ImageModel& model, int64_t channels, double guidance = 0.0);

// The ncsn / ddpm sampler the config selects, built through the sampler registry, on the model guided by `guide`
// (classifier guidance; none by default). For ncsn the init box is [0, 1] (NCSN's data scale).
std::unique_ptr<Sampler> make_image_sampler(const SamplingConfig& config, const LoadedImageModel& model,
                                            const ClassifierGuide& guide = {});

// Single-step (Tweedie) denoising x~ + sigma^2 s(x~, sigma) through SingleStepDenoiser.
at::Tensor denoise_single_step(const ScoreFn& score, const at::Tensor& x_noisy, double sigma, at::Generator& gen,
                               const StepCallback& on_step = {});

// ---- drawing ---------------------------------------------------------------------------------------------

struct ImageSamples {
  at::Tensor samples;  // [n, C, H, W] on the model scale [-1, 1] (not clamped), on the models' device
  at::Tensor noisy;    // smoothed-ar: the stage-1 draws x~ before reverse smoothing; else undefined
  at::Tensor labels;   // class-conditional models: the label [n] each sample was drawn for; else undefined
  double seconds = 0.0;
  std::map<std::string, double> stats;  // the score sampler's counters (nfe, ...) where it keeps them
};

// Draws n samples with the method of models.main (see the table at the top). `monitor` (may be null)
// receives every step of every stage. validate() and validate_for(models) are called first.
ImageSamples draw_samples(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                          SamplingMonitor* monitor = nullptr);

// draw_samples shared by the data-parallel ranks (dist::sharded_draw): each draws its share on its own
// stream from `seed`, and every rank gets all n samples (and x~); seconds: the slowest rank; counters: the
// mean over ranks weighted by their rows. In one process: draw_samples with a generator seeded with `seed`.
ImageSamples draw_samples_sharded(const SamplingConfig& config, const LoadedModels& models, int64_t n, uint64_t seed,
                                  c10::Device device, SamplingMonitor* monitor = nullptr);

}  // namespace scorelab
