// Nearest training neighbours of generated samples: the memorisation check that goes next to every
// sample-quality number (a model that copies its training set scores a perfect FD).
#pragma once
#include <ATen/Tensor.h>

#include <cstdint>
#include <string>

#include "data/image_data.h"
#include "eval/classifier.h"

namespace scorelab {

struct Neighbours {
  at::Tensor indices;    // int64 [Q, k]: rows of the reference set, nearest first
  at::Tensor distances;  // float64 [Q, k]: Euclidean distances ||q - r||_2, ascending
};

// The k nearest rows of `reference` [N, ...] for each row of `queries` [Q, ...] in Euclidean distance
// over the flattened rows, computed in float64 as ||q||^2 + ||r||^2 - 2 q.r (clamped at 0) over chunks of
// `chunk` reference rows (memory O(Q * chunk)). Ties keep the lower index first. 1 <= k <= N.
Neighbours nearest_neighbours(const at::Tensor& queries, const at::Tensor& reference, int64_t k, int64_t chunk = 4096);

// Nearest training images of `samples` [Q, C, H, W] (float on the model scale or uint8 levels) in
//   space "pixel":   L2 between images on the model scale [-1, 1] (uint8 via to_model_range);
//   space "feature": L2 between the classifier's penultimate features (`classifier` required).
// Unknown space, or "feature" without a classifier: ConfigError naming --neighbour-space.
Neighbours nearest_training_images(const at::Tensor& samples, const ImageDataset& train, int64_t k,
                                   const std::string& space = "pixel", ImageClassifier* classifier = nullptr);

// A PNG with one row per sample: the sample, then its k nearest training images (nearest first), via
// write_png_grid (nrow = k + 1). `train_images` are the images `neighbours.indices` index into.
void write_neighbour_grid(const std::string& path, const at::Tensor& samples, const at::Tensor& train_images,
                          const Neighbours& neighbours, int64_t padding = 2);

}  // namespace scorelab
