#include "eval/neighbours.h"

#include <torch/torch.h>

#include "core/error.h"
#include "eval/image_grid.h"

namespace scorelab {
namespace {

at::Tensor model_scale(const at::Tensor& images) {
  if (images.scalar_type() == torch::kUInt8) return to_model_range(images);
  TORCH_CHECK(images.is_floating_point(), "neighbours: images must be uint8 levels or float, got ", images.scalar_type());
  return images.to(torch::kFloat);
}

}  // namespace

Neighbours nearest_neighbours(const at::Tensor& queries, const at::Tensor& reference, int64_t k, int64_t chunk) {
  TORCH_CHECK(queries.dim() >= 1 && reference.dim() >= 1 && queries.size(0) >= 1,
              "nearest_neighbours: need at least one query and a reference set");
  TORCH_CHECK(chunk >= 1, "nearest_neighbours: chunk must be >= 1, got ", chunk);
  const at::Tensor q = queries.reshape({queries.size(0), -1}).to(torch::kCPU, torch::kDouble);
  const int64_t n = reference.size(0);
  TORCH_CHECK(k >= 1 && k <= n, "nearest_neighbours: k must be in [1, ", n, "], got ", k);
  TORCH_CHECK(reference.numel() / std::max<int64_t>(n, 1) == q.size(1), "nearest_neighbours: rows have ", q.size(1),
              " values per query but ", reference.numel() / std::max<int64_t>(n, 1), " per reference row");
  const at::Tensor q2 = q.pow(2).sum(1, true);
  at::Tensor best_d, best_i;
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t end = std::min(start + chunk, n);
    const at::Tensor r = reference.slice(0, start, end).reshape({end - start, -1}).to(torch::kCPU, torch::kDouble);
    const at::Tensor d2 = (q2 + r.pow(2).sum(1).unsqueeze(0) - 2.0 * q.matmul(r.t())).clamp_min(0.0);
    const at::Tensor idx = torch::arange(start, end, torch::kLong).unsqueeze(0).expand({q.size(0), end - start});
    at::Tensor cand_d = best_d.defined() ? torch::cat({best_d, d2}, 1) : d2;
    at::Tensor cand_i = best_i.defined() ? torch::cat({best_i, idx}, 1) : idx;
    // Stable sort keeps earlier (lower-index) candidates first among equal distances.
    const int64_t keep = std::min(k, cand_d.size(1));
    const auto sorted = cand_d.sort(/*stable=*/true, 1, false);
    const at::Tensor order = std::get<1>(sorted).slice(1, 0, keep);
    best_d = std::get<0>(sorted).slice(1, 0, keep).contiguous();
    best_i = cand_i.gather(1, order).contiguous();
  }
  return {best_i, best_d.sqrt()};
}

Neighbours nearest_training_images(const at::Tensor& samples, const ImageDataset& train, int64_t k,
                                   const std::string& space, ImageClassifier* classifier) {
  TORCH_CHECK(samples.dim() == 4 && samples.sizes().slice(1) == train.images.sizes().slice(1),
              "nearest_training_images: samples must be [Q, ", train.images.size(1), ", ", train.images.size(2), ", ",
              train.images.size(3), "] like the training images, got ", samples.sizes());
  if (space == "pixel") return nearest_neighbours(model_scale(samples), model_scale(train.images), k);
  if (space == "feature") {
    if (classifier == nullptr)
      throw ConfigError(flag_error("--neighbour-space", "feature", "a classifier for feature space (or 'pixel')"));
    return nearest_neighbours(classifier_features(*classifier, samples), classifier_features(*classifier, train.images), k);
  }
  throw ConfigError(flag_error("--neighbour-space", space, "pixel or feature"));
}

void write_neighbour_grid(const std::string& path, const at::Tensor& samples, const at::Tensor& train_images,
                          const Neighbours& neighbours, int64_t padding) {
  const int64_t q = samples.size(0);
  TORCH_CHECK(neighbours.indices.dim() == 2 && neighbours.indices.size(0) == q,
              "write_neighbour_grid: indices must be [", q, ", k], got ", neighbours.indices.sizes());
  TORCH_CHECK(samples.dim() == 4 && samples.sizes().slice(1) == train_images.sizes().slice(1),
              "write_neighbour_grid: samples ", samples.sizes(), " and training images ", train_images.sizes(),
              " differ in shape");
  const int64_t k = neighbours.indices.size(1);
  const at::Tensor s = model_scale(samples).to(torch::kCPU).unsqueeze(1);  // [Q, 1, C, H, W]
  const at::Tensor nb = model_scale(train_images.index_select(0, neighbours.indices.flatten().to(torch::kCPU)))
                            .view({q, k, samples.size(1), samples.size(2), samples.size(3)});
  const at::Tensor rows = torch::cat({s, nb}, 1).flatten(0, 1);  // sample, then its neighbours, per row
  write_png_grid(path, rows, k + 1, padding);
}

}  // namespace scorelab
