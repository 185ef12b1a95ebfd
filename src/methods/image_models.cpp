#include "methods/image_models.h"

#include "data/datasets.h"
#include "methods/method.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
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

ImageModel build_image_model(const ImageTrainConfig& c, int64_t channels, int64_t size) {
  return get_method(c.method).build(c, channels, size);
}

}  // namespace scorelab
