#include "methods/image_models.h"

#include "data/datasets.h"
#include "methods/method.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/shard.h"
#include "data/image_data.h"
#include "models/discretized_logistic.h"
#include "models/ncsnv2.h"
#include "models/pixelcnnpp.h"
#include "models/registry.h"
#include "models/unet.h"

namespace scorelab {

PixelCNNppConfig pixelcnn_config(const ImageTrainConfig& c, int64_t channels) {
  PixelCNNppConfig p = pixelcnnpp_preset(c.preset, channels);
  if (c.nr_resnet > 0) p.nr_resnet = c.nr_resnet;
  if (c.nr_filters > 0) p.nr_filters = c.nr_filters;
  if (c.nr_logistic_mix > 0) p.nr_logistic_mix = c.nr_logistic_mix;
  p.input_channels = channels;
  p.dropout_seed = derive_seed(c.runtime.seed, "dropout");
  p.deconv_norm = c.deconv_norm;
  if (c.stage == 2)  // only a method with a stage-2 model passes validate() with --stage 2
    p.conditioning = parse_pixelcnn_conditioning(c.conditioning, "--conditioning");
  p.validate();
  return p;
}

ImageShape image_dataset_shape(const std::string& dataset) {
  const ImageDatasetInfo& info = image_dataset(dataset);
  return {info.channels, info.size};
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

ModelArgs model_args(const ImageTrainConfig& c, int64_t channels, int64_t size) {
  ModelArgs args;
  args.channels = channels;
  args.image_size = size;
  args.size_preset = c.preset;
  args.base_channels = c.base_channels;
  args.learn_sigma = c.hybrid;
  return args;
}

void setup_conditioning(const ImageTrainConfig& c, ImageModel& m, ModelArgs& args) {
  if (c.condition != "class") return;
  m.labels = std::make_shared<at::Tensor>();
  args.classes = kImageClasses;
  if (c.label_dropout > 0) {
    m.null_label = kImageClasses;
    args.classes = kImageClasses + 1;
  }
}

at::Tensor labels_for(const std::shared_ptr<at::Tensor>& holder, int64_t null_label, const at::Tensor& x,
                      const std::string& method) {
  if (!holder) return {};
  if (!holder->defined()) {
    if (null_label >= 0)
      return torch::full({x.size(0)}, null_label, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    throw ConfigError("method " + method + " --condition class: the model needs the labels of its rows here (inpainting "
                      "and likelihoods need the marginal model: train with --label-dropout p > 0 for one)");
  }
  const at::Tensor y = local_rows(*holder);
  TORCH_CHECK(y.size(0) == x.size(0) || y.size(0) == 1, method, ": ", y.size(0), " labels bound for ", x.size(0), " rows");
  return y;
}

at::Tensor drop_labels(const at::Tensor& y, double p, int64_t null_label, at::Generator& gen) {
  if (p <= 0) return y;
  TORCH_CHECK(null_label >= 0, "drop_labels: the model has no null label");
  return torch::where(at::rand({y.size(0)}, gen, torch::TensorOptions().device(y.device())) < p, torch::full_like(y, null_label), y);
}

at::Tensor guided(const ImageModel& m, double w, const at::Tensor& x, const std::function<at::Tensor()>& f) {
  // Nothing to guide without bound labels (inpainting, likelihoods: the null label itself).
  if (w == 0.0 || !m.labels || m.null_label < 0 || !m.labels->defined()) return f();
  const at::Tensor conditional = f();
  struct Restore {
    at::Tensor& slot;
    at::Tensor saved;
    ~Restore() { slot = saved; }
  } restore{*m.labels, *m.labels};
  *m.labels = torch::full({x.size(0)}, m.null_label, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  const at::Tensor unconditional = f();
  return (1.0 + w) * conditional - w * unconditional;
}

ImageModel build_image_model(const ImageTrainConfig& c, int64_t channels, int64_t size) {
  return get_method(c.method).build(c, channels, size);
}

}  // namespace scorelab
