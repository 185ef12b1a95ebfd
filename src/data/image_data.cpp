#include "data/image_data.h"
#include "data/datasets.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "data/cifar10.h"
#include "data/idx.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMnistSize = 28;
constexpr int64_t kNumClasses = 10;
const char* const kFashionSystemDir = "/usr/share/datasets/fashion-mnist";

std::string join_names() {
  std::string out;
  for (const auto& n : image_dataset_names()) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// First existing file among <dir>/<stem>, <dir>/<stem>.gz and the dotted variant some mirrors use
// (train-images.idx3-ubyte); "" if none.
std::string find_idx_file(const std::vector<std::string>& dirs, const std::string& stem, std::string& looked) {
  std::string dotted = stem;
  const auto dash = dotted.find("-idx");
  if (dash != std::string::npos) dotted[dash] = '.';
  for (const auto& dir : dirs) {
    for (const auto& name : {stem, stem + ".gz", dotted, dotted + ".gz"}) {
      const fs::path p = fs::path(dir) / name;
      std::error_code ec;
      if (fs::is_regular_file(p, ec)) return p.string();
    }
    looked += (looked.empty() ? "" : ", ") + (fs::path(dir) / stem).string() + "[.gz]";
  }
  return "";
}

ImageDataset load_idx_dataset(const std::string& name, const std::string& split, const std::vector<std::string>& dirs) {
  const std::string hint = "run scripts/get-data " + name + " (or pass a data folder / set $SCORELAB_DATA)";
  const std::string prefix = split == "train" ? "train" : "t10k";
  std::string looked;
  const std::string images_path = find_idx_file(dirs, prefix + "-images-idx3-ubyte", looked);
  if (images_path.empty())
    throw DataError(name + " " + split + " images not found: looked for " + looked + "; " + hint);
  looked.clear();
  const std::string labels_path = find_idx_file(dirs, prefix + "-labels-idx1-ubyte", looked);
  if (labels_path.empty())
    throw DataError(name + " " + split + " labels not found: looked for " + looked + "; " + hint);

  ImageDataset ds;
  ds.name = name;
  ds.images = read_idx_images(images_path, hint);
  ds.labels = read_idx_labels(labels_path, hint);
  if (ds.images.size(2) != kMnistSize || ds.images.size(3) != kMnistSize) {
    throw DataError("IDX file '" + images_path + "': images are " + std::to_string(ds.images.size(2)) + "x" +
                    std::to_string(ds.images.size(3)) + ", expected 28x28 for " + name + "; " + hint);
  }
  if (ds.images.size(0) != ds.labels.size(0)) {
    throw DataError("IDX files '" + images_path + "' and '" + labels_path +
                    "' disagree: " + std::to_string(ds.images.size(0)) + " images but " +
                    std::to_string(ds.labels.size(0)) + " labels; " + hint);
  }
  if (ds.labels.max().item<int64_t>() >= kNumClasses) {
    throw DataError("IDX file '" + labels_path + "': label " + std::to_string(ds.labels.max().item<int64_t>()) +
                    " out of range 0..9; " + hint);
  }
  return ds;
}

ImageDataset load_cifar10(const std::string& split, const std::string& root) {
  const fs::path dir = fs::path(root) / "cifar10" / "cifar-10-batches-bin";
  std::vector<std::string> files;
  if (split == "train") {
    for (int k = 1; k <= 5; ++k) files.push_back((dir / ("data_batch_" + std::to_string(k) + ".bin")).string());
  } else {
    files.push_back((dir / "test_batch.bin").string());
  }
  const std::string hint = "run scripts/get-data cifar10 (or pass a data folder / set $SCORELAB_DATA)";
  CifarBatch b = read_cifar10_batches(files, hint);
  ImageDataset ds;
  ds.name = "cifar10";
  ds.images = b.images;
  ds.labels = b.labels;
  return ds;
}

}  // namespace

std::vector<std::string> image_dataset_names() {
  std::vector<std::string> out;
  for (const auto& d : image_datasets()) out.push_back(d.name);
  return out;
}

ImageDataset load_mnist_files(const std::string& split, const std::string& root) {
  return load_idx_dataset("mnist", split, {(fs::path(root) / "mnist").string()});
}

ImageDataset load_fashion_mnist_files(const std::string& split, const std::string& root) {
  return load_idx_dataset("fashion-mnist", split, {(fs::path(root) / "fashion-mnist").string(), kFashionSystemDir});
}

ImageDataset load_cifar10_files(const std::string& split, const std::string& root) { return load_cifar10(split, root); }

std::string resolve_data_root(const std::string& data_dir) {
  if (!data_dir.empty()) return data_dir;
  const char* env = std::getenv("SCORELAB_DATA");
  if (env != nullptr && env[0] != '\0') return env;
  return (fs::path(SCORELAB_SOURCE_DIR) / "data").string();
}

ImageDataset load_image_dataset(const std::string& name, const std::string& split, const std::string& data_dir) {
  const ImageDatasetInfo& info = image_dataset(name);
  if (split != "train" && split != "test") throw ConfigError(flag_error("--split", split, "train or test"));
  return info.load(split, resolve_data_root(data_dir));
}

at::Tensor to_model_range(const at::Tensor& uint8_images) {
  TORCH_CHECK(uint8_images.scalar_type() == at::kByte, "to_model_range: expected uint8 images, got ",
              uint8_images.scalar_type());
  return uint8_images.to(at::kFloat).div(127.5).sub(1.0);
}

at::Tensor dequantize_uniform(const at::Tensor& x_model_range, at::Generator& gen) {
  TORCH_CHECK(at::isFloatingType(x_model_range.scalar_type()), "dequantize_uniform: expected a floating tensor, got ",
              x_model_range.scalar_type());
  constexpr double kHalfBin = 1.0 / 255.0;
  at::Tensor u = at::empty_like(x_model_range).uniform_(-kHalfBin, kHalfBin, gen);
  return x_model_range + u;
}

at::Tensor to_uint8(const at::Tensor& x_model_range) {
  TORCH_CHECK(at::isFloatingType(x_model_range.scalar_type()), "to_uint8: expected a floating tensor, got ",
              x_model_range.scalar_type());
  return x_model_range.nan_to_num(0.0).add(1.0).mul(127.5).clamp(0.0, 255.0).round().to(at::kByte);
}

}  // namespace scorelab
