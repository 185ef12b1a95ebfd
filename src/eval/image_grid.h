// PNG grids of image batches (the layout of torchvision's make_grid / save_image).
#pragma once
#include <ATen/Tensor.h>

#include <cstdint>
#include <string>

namespace scorelab {

// Tiles `images` [N, C, H, W] (C = 1 or 3; a single [C, H, W] image is also accepted) into a grid with
// `nrow` images per row (0: ceil(sqrt(N))) and `padding` black pixels between and around the tiles:
// width = cols * (W + padding) + padding, height = rows * (H + padding) + padding, rows = ceil(N / cols).
// Float images are on the model scale [-1, 1] and converted by to_uint8 (clamp, round; NaN -> grey);
// uint8 images are written as they are. Any device. The PNG (grey for C = 1, RGB for C = 3) is written to
// a temporary file in the target folder and renamed over `path`; parent folders are created. Failure to
// write: DataError naming `path`.
void write_png_grid(const std::string& path, const at::Tensor& images, int64_t nrow = 0, int64_t padding = 2);

// The uint8 grid [C, height, width] that write_png_grid writes (same arguments).
at::Tensor make_image_grid(const at::Tensor& images, int64_t nrow = 0, int64_t padding = 2);

}  // namespace scorelab
