// Tiny image models and train configurations shared by the image-method tests (8x8 gray models, one CPU
// thread, quiet, evaluated every iteration).
#pragma once
#include <cstdint>
#include <string>

#include "core/runtime.h"
#include "methods/image_sampling.h"
#include "methods/image_train.h"

namespace scorelab::test_support {

// An untrained tiny model of `method` (smoothed-ar: `stage` 1 or 2) for 8x8 images; weights from
// seed_module_init(seed).
inline LoadedImageModel tiny_image_model(const std::string& method, int stage, uint64_t seed, int64_t channels = 1) {
  ImageTrainConfig c;
  c.method = method;
  c.stage = stage;
  c.preset = "tiny";
  c.timesteps = 10;
  c.levels = 3;
  seed_module_init(seed);
  return build_loaded_image_model(c, channels, 8);
}

// A `train` configuration with the tiny preset on `data_dir` (mnist layout), CPU, one thread, quiet.
inline ImageTrainConfig tiny_train_config(const std::string& method, const std::string& data_dir, int64_t iters,
                                          int64_t eval_images) {
  ImageTrainConfig c;
  c.method = method;
  c.dataset = "mnist";
  c.preset = "tiny";
  c.data_dir = data_dir;
  c.runtime.threads = 1;
  c.runtime.device = "cpu";
  c.train.quiet = true;
  c.train.iters = iters;
  c.train.batch_size = 2;
  c.eval_images = eval_images;
  c.eval_every = 1;
  return c;
}

}  // namespace scorelab::test_support
