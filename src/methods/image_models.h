// The one place where an image method name (and stage) becomes a network + objective: PixelCNN++ for
// ar / smoothed-ar, NCSNv2 for ncsn, the U-Net for ddpm.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>

#include <torch/nn/module.h>

#include "core/schedule.h"
#include "methods/image_train.h"
#include "objectives/objective.h"

namespace scorelab {

struct ImageModel {
  std::string name;                                 // e.g. "pixelcnnpp", "pixelcnnpp-stacked", "ncsnv2", "unet"
  std::shared_ptr<torch::nn::Module> module;
  std::shared_ptr<const Objective> objective;       // loss(x in [-1, 1], gen)
  std::string loss_unit;                            // display unit of the test loss
  double display_scale = 1.0;                       // displayed = scale * objective loss
  bool eval_needs_grad = false;
  // The reference sums this loss over the batch and every dimension (PixelCNN++): with --loss-reduction sum
  // the trainer scales the gradient by batch * C * H * W (TrainerHooks::loss_scale).
  bool reference_sums_loss = false;
  std::vector<std::pair<std::string, at::Generator>> generators;  // the model's own random streams (checkpointed)                     // ssm differentiates the score even when evaluating
  std::shared_ptr<const SigmaSchedule> sigmas;      // ncsn: the noise levels the score net was trained on ([0, 1] data scale)
  std::shared_ptr<const BetaSchedule> betas;        // ddpm: the variance schedule of the U-Net
  // ncsn: the score s(x, sigma) on its [0, 1] scale, whichever network computes it (--score-net).
  std::function<at::Tensor(const at::Tensor& x, const at::Tensor& sigma)> score;
  // ddpm: the U-Net's output eps (and v with learned variances) for x_t and timesteps t [N] (or one).
  std::function<at::Tensor(const at::Tensor& x, const at::Tensor& t)> eps;
  // Class-conditional models (--condition class): the labels [N] of the rows that the objective and the score see
  // next, set by their caller (the trainer per batch, the sampler per draw); null for unconditional models.
  std::shared_ptr<at::Tensor> labels;
  // The label of "no label" (the last embedding row) of a model trained with --label-dropout p > 0: it stands in
  // wherever no labels are bound (the marginal model: likelihoods, inpainting) and for classifier-free guidance;
  // -1 when the model has none.
  int64_t null_label = -1;
};

// Sets up --condition class on `m` and the network arguments: the label slot, the classes (plus the null label with
// --label-dropout > 0). Unconditional configs leave both as they are.
void setup_conditioning(const ImageTrainConfig& config, ImageModel& m, struct ModelArgs& args);
// The labels for the rows of x of a class-conditional model: the bound ones (local_rows: the rows this process keeps
// of a data-parallel batch), else its null label, else a ConfigError saying that labels are needed. Undefined for an
// unconditional model (labels == null).
at::Tensor labels_for(const std::shared_ptr<at::Tensor>& labels, int64_t null_label, const at::Tensor& x,
                      const std::string& method);
// --label-dropout p: each label replaced by `null_label` with probability p (draws from gen; p = 0: y itself).
at::Tensor drop_labels(const at::Tensor& y, double p, int64_t null_label, at::Generator& gen);
// Classifier-free guidance (Ho & Salimans 2022): (1 + w) f(x | y) - w f(x | null label), with f evaluating the model
// under the current binding; f itself when w = 0, no labels are bound, or the model has no null label.
at::Tensor guided(const ImageModel& m, double w, const at::Tensor& x, const std::function<at::Tensor()>& f);

struct ImageShape {
  int64_t channels;
  int64_t size;
};
ImageShape image_dataset_shape(const std::string& dataset);

// The network and objective of config.method (the method registry, method.h).
ImageModel build_image_model(const ImageTrainConfig& config, int64_t channels, int64_t size);

// Building blocks of the methods' networks: the PixelCNN++ config of the preset with the size flags, and the
// model-registry arguments (channels, size, preset, --base-channels, --hybrid) of NCSNv2 / the U-Net.
struct PixelCNNppConfig;
struct ModelArgs;
PixelCNNppConfig pixelcnn_config(const ImageTrainConfig& config, int64_t channels);
ModelArgs model_args(const ImageTrainConfig& config, int64_t channels, int64_t size);

int64_t count_parameters(const torch::nn::Module& module);

}  // namespace scorelab
