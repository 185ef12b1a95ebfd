// Training of the image models (PixelCNN++, conditional PixelCNN++, NCSNv2 score network, DDPM U-Net)
// on MNIST, Fashion-MNIST and CIFAR-10: the engine behind `apps/train` (and, later, `compare` on images).
#pragma once
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "core/runtime.h"
#include "data/transforms.h"  // Smoothing
#include "train/trainer.h"

namespace scorelab {

struct ImageTrainConfig {
  std::string method = "smoothed-ar";  // --method ar | smoothed-ar | ncsn | ddpm
  int stage = 1;                       // --stage 1 | 2 (smoothed-ar: 2 = reverse smoothing p(x | x~))
  std::string dataset = "mnist";       // --dataset mnist | fashion-mnist | cifar10
  std::string data_dir;                // --data-dir (default: $SCORELAB_DATA or <repo>/data)
  std::string preset = "small";        // --preset tiny | small | paper
  double sigma = 0.0;                  // --sigma: smoothing level (0: 0.5 for MNIST-like, 0.3 for CIFAR-10)
  std::string conditioning = "stacked";  // --conditioning stacked (authors) | stream (stage 2)
  double target_noise = 0.01;          // --target-noise: stage-2 target dequantization N(0, 0.01^2)
  // --blur-sigma: the Gaussian blur (pixels) of smoothed-ar-blur and smoothed-ar-blur-noise (0: 1 pixel); config.json
  // has the key only for those methods.
  double blur_sigma = 0.0;
  int64_t nr_resnet = 0, nr_filters = 0, nr_logistic_mix = 0;  // PixelCNN++ sizes (0: the preset's)
  // --deconv-norm input (the authors' weight_norm on ConvTranspose2d) | output (TensorFlow PixelCNN++; scorelab's
  // only form before). A config.json without the key is "output" (image_train_config_from_json).
  std::string deconv_norm = "input";
  // --loss-reduction sum (the authors': -log p summed over the batch and every dimension, so Adam sees
  // gradients B*D times larger and its epsilon matters less) | mean (per dimension). PixelCNN++ methods only;
  // the logged and reported losses are bits/dim either way.
  std::string loss_reduction = "sum";
  int64_t base_channels = 0;           // --base-channels: NCSNv2 ngf / U-Net ch (0: the preset's)
  double sigma_max = 0.0;              // ncsn (0: the preset's)
  double sigma_min = 0.01;
  int64_t levels = 0;                  // ncsn L (0: the preset's)
  std::string objective = "dsm";       // ncsn: dsm | ssm
  // --score-net ncsnv2 | unet: ncsn's network; unet is the DDPM U-Net with an NCSN head (issue 14, experiment 11):
  // s(x, sigma) = UNet(2x - 1, t(sigma)) / sigma, t = 1000 log(sigma / sigma_min) / log(sigma_max / sigma_min).
  std::string score_net = "ncsnv2";
  // --condition none | class: ncsn or ddpm class-conditional on the image label (issue 14, experiment 10; issue 15);
  // samples draw their labels uniformly. config.json has these keys only when they are not the default.
  std::string condition = "none";
  // --label-dropout p: with --condition class (ncsn or ddpm), each training label is replaced by the null label with
  // probability p (classifier-free guidance, Ho & Salimans 2022): the model is then also the marginal model.
  double label_dropout = 0.0;
  int64_t timesteps = 1000;            // ddpm T
  std::string beta_schedule = "linear";
  bool antithetic = false;
  bool hybrid = false;                 // --hybrid: learned variances + L_hybrid (improved DDPM)
  int64_t eval_every = 0;              // --eval-every iterations (0: 10 evaluations per run)
  int64_t eval_images = 0;             // --eval-images test images per evaluation (0: the preset's)
  bool describe = false;               // --describe: print {"params", "layers"} as JSON and exit
  TrainConfig train;
  RuntimeConfig runtime;

  ImageTrainConfig();
  void add_options(boost::program_options::options_description& desc);
  // Fills the preset's training defaults (iters, batch size, lr...) for flags the user did not give.
  void apply_preset(const boost::program_options::variables_map& vm);
  void validate() const;
  nlohmann::json to_json() const;
  double smoothing_sigma() const;
  // The method's corruption x~ = B x + sigma z (Method::smoothing_kind): noise (smoothed-ar) {smoothing_sigma(), 0},
  // blur {0, blur}, blur+noise {smoothing_sigma(), blur}.
  Smoothing smoothing() const;
  double blur() const { return blur_sigma > 0 ? blur_sigma : 1.0; }
};

// --describe: parameter count and a per-module summary of the network the config builds.
nlohmann::json describe_image_model(const ImageTrainConfig& config);

// Trains, evaluates on the test set before and after, and writes to out_dir: metrics.json (params,
// test_loss_initial, test_loss_final, loss_unit, params_sha256, ...), timings.json (train_s,
// images_per_s), config.json, train_loss.csv, test_loss.csv, losses.png, checkpoint.ckpt (atomic;
// --resume) and model.pt (a dict of tensors Python's torch.load reads). Returns metrics.json and
// timings.json merged (read_run_metrics).
nlohmann::json run_image_train(const ImageTrainConfig& config, const std::string& out_dir, const std::string& command);

}  // namespace scorelab
