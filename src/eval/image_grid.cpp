#include "eval/image_grid.h"

#include <stb_image_write.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "data/image_data.h"

namespace scorelab {

at::Tensor make_image_grid(const at::Tensor& images, int64_t nrow, int64_t padding) {
  at::Tensor x = images.dim() == 3 ? images.unsqueeze(0) : images;
  TORCH_CHECK(x.dim() == 4, "make_image_grid: expected images [N, C, H, W], got ", images.sizes());
  TORCH_CHECK(x.size(1) == 1 || x.size(1) == 3, "make_image_grid: expected 1 or 3 channels, got ", x.size(1));
  TORCH_CHECK(x.size(0) > 0 && x.size(2) > 0 && x.size(3) > 0, "make_image_grid: empty images ", images.sizes());
  TORCH_CHECK(nrow >= 0 && padding >= 0, "make_image_grid: nrow and padding must be >= 0, got ", nrow, ", ", padding);
  if (x.scalar_type() != at::kByte) x = to_uint8(x);
  x = x.to(at::kCPU);

  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  int64_t cols = nrow > 0 ? nrow : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  cols = std::min(cols, n);
  const int64_t rows = (n + cols - 1) / cols;
  at::Tensor grid = torch::zeros({c, rows * (h + padding) + padding, cols * (w + padding) + padding}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = padding + (i / cols) * (h + padding);
    const int64_t left = padding + (i % cols) * (w + padding);
    grid.slice(1, top, top + h).slice(2, left, left + w).copy_(x[i]);
  }
  return grid;
}

void write_png_grid(const std::string& path, const at::Tensor& images, int64_t nrow, int64_t padding) {
  namespace fs = std::filesystem;
  const at::Tensor grid = make_image_grid(images, nrow, padding);
  const at::Tensor hwc = grid.permute({1, 2, 0}).contiguous();
  const int height = static_cast<int>(hwc.size(0)), width = static_cast<int>(hwc.size(1));
  const int comp = static_cast<int>(hwc.size(2));

  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw DataError("cannot write PNG '" + path + "': cannot create its folder (" + ec.message() + ")");
  }
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  if (stbi_write_png(tmp.c_str(), width, height, comp, hwc.data_ptr<uint8_t>(), width * comp) == 0) {
    fs::remove(tmp, ec);
    throw DataError("cannot write PNG '" + path + "': writing the temporary file '" + tmp +
                    "' failed (check that the folder exists and is writable)");
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw DataError("cannot write PNG '" + path + "': rename from '" + tmp + "' failed (" + ec.message() + ")");
  }
}

}  // namespace scorelab
