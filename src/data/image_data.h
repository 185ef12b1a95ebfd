// Image datasets by name (mnist, fashion-mnist, cifar10) and the pixel-scale transforms shared by every
// image model: uint8 levels k in {0..255} <-> model range [-1, 1] via x = k / 127.5 - 1 (the scale of
// PixelCNN++, DDPM and the smoothing paper, REFERENCE sections 1, 2, 4).
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include <string>
#include <vector>

namespace scorelab {

// Every image data set here has ten classes (digits, clothing, CIFAR-10's objects): labels 0..9.
constexpr int64_t kImageClasses = 10;

struct ImageDataset {
  at::Tensor images;  // uint8 [N, C, H, W], CPU
  at::Tensor labels;  // int64 [N], values 0..9
  std::string name;   // "mnist", "fashion-mnist" or "cifar10"
};

// The names load_image_dataset accepts, in a stable order.
std::vector<std::string> image_dataset_names();

// The data root: `data_dir` if not empty, else $SCORELAB_DATA if set, else <source tree>/data.
std::string resolve_data_root(const std::string& data_dir = "");

// Loads a split ("train" | "test") of a named dataset from the data root:
//   mnist          <root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//   fashion-mnist  <root>/fashion-mnist/ (same names), else Debian's dataset-fashion-mnist files in
//                  /usr/share/datasets/fashion-mnist/
//   cifar10        <root>/cifar10/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin
// Shapes: [N, 1, 28, 28] (N = 60000 / 10000) and [N, 3, 32, 32] (N = 50000 / 10000).
// Unknown name or split: ConfigError listing the allowed values. Missing or malformed files: DataError
// naming the file and the scripts/get-data command that fetches it.
ImageDataset load_image_dataset(const std::string& name, const std::string& split, const std::string& data_dir = "");

// The loaders behind the data set registry (data/datasets.h), from a data root.
ImageDataset load_mnist_files(const std::string& split, const std::string& root);
ImageDataset load_fashion_mnist_files(const std::string& split, const std::string& root);
ImageDataset load_cifar10_files(const std::string& split, const std::string& root);

// uint8 levels k -> float32 x = k / 127.5 - 1 in [-1, 1].
at::Tensor to_model_range(const at::Tensor& uint8_images);

// Uniform dequantization on the model scale: y = x + u, u ~ U[-1/255, 1/255) elementwise, for x on the
// grid of to_model_range (x = 2k/255 - 1, spacing 2/255). Each level is spread uniformly over its own
// bin of width 2/255 centred on it: the bins tile [-1 - 1/255, 1 + 1/255] and are exactly the bins of
// PixelCNN++'s discretized likelihood (half-width 1/255). This is the usual (k + U(0,1)) / 256 recipe,
// centred and rescaled to [-1, 1], so the mean is unchanged and to_uint8 recovers k. For a density p on
// y: log P(k) >= E_u log p(x + u) + D log(2/255) (Jensen; D = pixels x channels).
// `x_model_range` is a floating tensor; the result has its dtype and device.
at::Tensor dequantize_uniform(const at::Tensor& x_model_range, at::Generator& gen);

// float [-1, 1] -> uint8 round((x + 1) * 127.5) after clamping to [0, 255]; NaN maps to 128.
at::Tensor to_uint8(const at::Tensor& x_model_range);

}  // namespace scorelab
