// `compare` on images (issue 4): trains (or loads) every chosen method on MNIST / Fashion-MNIST / CIFAR-10
// with the same budget, draws samples, scores them offline with a classifier trained here, completes
// masked test images, and writes one report.
//
// Methods and the rows of the report:
//   ar                        PixelCNN++ on clean data (discretized mixture): bits/dim of the test set.
//   smoothed-ar               stage 1 PixelCNN++ on x~ = x + sigma z; ONE set of stage-1 draws x~ is
//                             reversed three ways, one row each: single-step (--grad detached, the authors'),
//                             single-step (--grad full) and conditional-ar (the stage-2 PixelCNN++, stacked).
//                             Likelihoods: stage-1 bits/dim of x~, and the two-stage variational bound.
//   ncsn                      NCSNv2 score network + annealed Langevin.
//   ddpm                      DDPM U-Net + ancestral sampling (or DDIM with --sampler ddim).
// Models are `train` output folders under OUT/checkpoints/<key> (keys: ar, smoothed-ar-stage1,
// smoothed-ar-stage2-stacked, ncsn, ddpm); training resumes there if interrupted, and
// --from-checkpoints DIR reads DIR/<key> instead of training.
#pragma once
#include <functional>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include "core/runtime.h"
#include "data/datasets.h"
#include "eval/likelihood.h"
#include "methods/image_sampling.h"
#include "methods/inpaint.h"

namespace scorelab {

struct ImageCompareConfig {
  std::string methods = "smoothed-ar";  // --method ar | smoothed-ar | ncsn | ddpm | a,b | all
  std::string dataset = "mnist";        // --dataset mnist | fashion-mnist | cifar10
  std::string data_dir;                 // --data-dir
  std::string preset = "small";         // --preset tiny | small | paper (model sizes and training defaults)
  int64_t iters = 0;                    // --iters per model (0: the preset's)
  double budget_minutes = 0.0;          // --budget-minutes per model: stop each training after this wall time
  int64_t batch_size = 0;               // --batch-size (0: the preset's)
  std::string deconv_norm = "input";    // --deconv-norm (ImageTrainConfig::deconv_norm)
  std::string loss_reduction = "sum";   // --loss-reduction (ImageTrainConfig::loss_reduction)
  std::string score_net = "ncsnv2";     // --score-net: the ncsn row's network (ImageTrainConfig::score_net)
  std::string condition = "none";       // --condition: the ncsn and ddpm rows class-conditional (ImageTrainConfig::condition)
  double label_dropout = 0.0;           // --label-dropout (ImageTrainConfig::label_dropout)
  double blur_sigma = 0.0;              // --blur-sigma: the blur methods' rows (ImageTrainConfig::blur_sigma)
  int64_t samples = 0;                  // --samples per method row (0: 64 at --preset tiny, 1000 otherwise)
  int64_t bootstrap = 200;              // --bootstrap resamples for the FD / KID 95% intervals (0: none)
  int64_t seeds = 1;                    // --seeds K: the whole comparison K times (seeds S..S+K-1), mean and std
  // --budget-iters a,b,c (increasing): train every model once, evaluating it after a, b and c iterations
  // (each step resumes the same checkpoints), then plot the scores against the cumulative training time.
  std::string budget_iters;
  std::string train_dir;                // where models train (default DIR/checkpoints); set by --budget-iters
  std::string denoisers = "all";        // --denoisers: smoothed-ar rows: all | single-step-detached,single-step-full,conditional-ar
  std::string from_checkpoints;         // --from-checkpoints DIR: evaluate DIR/<key> instead of training
  std::string classifier;               // --classifier FILE (default: the cached classifier of the dataset)
  int64_t classifier_epochs = 0;        // --classifier-epochs (only when trained; 0: default_classifier_epochs)
  // --classifier-scale S > 0 (sampling.classifier_scale): the noise-aware classifier of each guided row (ncsn, ddpm),
  // loaded from --guide-classifier DIR when it holds one, else trained there (default: <checkpoints>/<method>-guide-
  // classifier) for --guide-classifier-iters steps (methods/guidance.h).
  std::string guide_classifier;
  int64_t guide_classifier_iters = 2000;
  int64_t bound_images = 500;           // --bound-images: test images for the two-stage bound
  int64_t likelihood_images = 100;      // --likelihood-images: test images for each method's own likelihoods (0: none)
  LikelihoodConfig likelihood;          // --lik-solver, --divergence, --probes, --vlb-strata ...
  int64_t neighbours = 8;               // --neighbours: samples shown with their nearest training images
  int64_t inpaint_images = 6;           // --inpaint-images (0: no inpainting)
  int64_t inpaint_samples = 1;          // --inpaint-samples completions per image
  bool quiet = false;                   // --quiet: no progress lines
  MaskConfig mask;                      // --mask (default bottom-half: what raster-order models can complete)
  SamplingConfig sampling;              // --ar-draw, --clamp, --ar-naive, --snapshots, --sampler, sampler knobs
  RuntimeConfig runtime;

  ImageCompareConfig();
  void add_options(boost::program_options::options_description& desc);
  void validate() const;
  nlohmann::json to_json() const;
  std::vector<std::string> method_list() const;      // expanded --method
  std::vector<std::string> denoiser_list() const;    // expanded --denoisers
  int64_t sample_count() const;                      // --samples, or the preset's
  std::vector<int64_t> budget_list() const;          // parsed --budget-iters (empty: none)
};

// What a method's compare_rows (method.h) works with: the run's settings and data, its trained models'
// folders and metrics, and the row writers. Each row gets the same inpainting and sample-quality treatment.
struct ImageCompareRows {
  const ImageCompareConfig& config;
  std::string method;                   // the method whose rows these are
  c10::Device device;
  std::string out;                      // the report folder
  int64_t n = 0;                        // samples per row
  const nlohmann::json& train_metrics;  // metrics.json of each trained model, by key
  const ImageDataset& test_set;
  const ImageDataset& train_set;
  std::function<std::string(const std::string& key)> dir_of;  // the folder of a trained model
  // A row with the training numbers of model `key` (params, train_s, iters, images_per_s, test_loss_final, loss_unit).
  std::function<nlohmann::json(const std::string& name, const std::string& key)> base_row;
  // Adds row["inpaint"] (test images completed with these models and settings) unless inpainting is off.
  std::function<void(nlohmann::json& row, const std::string& model_dir, const std::string& stage2_dir,
                     const SamplingConfig& sampling, const std::string& tag)>
      inpaint_row;
  // Scores the samples (FD / KID, classifier scores, grids, neighbours) and appends the row.
  std::function<void(nlohmann::json row, const at::Tensor& samples, const std::string& tag)> score_row;
  std::function<void(const std::string& path, const at::Tensor& samples)> write_grid;  // PNG grid of <= 64 samples
  // Class-conditional rows: how often the evaluation classifier's argmax on the (quantized) samples is the label
  // they were drawn for: {accuracy, ci95 (Wilson), n}.
  std::function<nlohmann::json(const at::Tensor& samples, const at::Tensor& labels)> label_agreement;
};

// Per-example two-stage bound of distribution smoothing on clean images x (model scale), in nats:
//   log p(x) >= log p1(x~) + log p2(x + t e | x~) - log q(x~ | x),  x~ = x + sigma z, e ~ N(0, I)
// with the continuous densities of both PixelCNN++ stages (t = the stage-2 target noise). [N].
at::Tensor two_stage_log_bound(const LoadedImageModel& stage1, const LoadedImageModel& stage2, const at::Tensor& x,
                               at::Generator& gen);

// Runs the comparison into out_dir (report.md, metrics.json, config.json, samples-*.png, inpaint/*,
// neighbours-*.png, checkpoints/ unless --from-checkpoints); returns metrics.json and timings.json merged.
// With --seeds K > 1: one such comparison per seed in out_dir/seed-S (resumable: each trains into its own
// checkpoints/), then out_dir/report.md and metrics.json hold the mean and standard deviation over the seeds.
nlohmann::json run_image_compare(const ImageCompareConfig& config, const std::string& out_dir,
                                 const std::string& command);

}  // namespace scorelab
