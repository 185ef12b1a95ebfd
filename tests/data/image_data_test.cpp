#include "data/image_data.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/runtime.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

TEST(ImageTransforms, ModelRangeEndpointsAndRoundTrip) {
  const at::Tensor k = torch::arange(256, torch::kInt64).to(torch::kUInt8);
  const at::Tensor x = to_model_range(k);
  ASSERT_EQ(x.scalar_type(), torch::kFloat);
  EXPECT_FLOAT_EQ(x[0].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(x[255].item<float>(), 1.0f);
  EXPECT_NEAR(x[128].item<float>(), 128.0 / 127.5 - 1.0, 1e-7);
  EXPECT_TRUE(torch::equal(to_uint8(x), k));
  EXPECT_THROW(to_model_range(x), c10::Error);
}

TEST(ImageTransforms, ToUint8ClampsAndMapsNanToGrey) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor x = torch::tensor({-3.0f, 5.0f, nan, 0.0f, -1.0f + 1.4f / 127.5f});
  const at::Tensor y = to_uint8(x).to(torch::kInt64);
  EXPECT_TRUE(torch::equal(y, torch::tensor({0, 255, 128, 128, 1}, torch::kInt64))) << y;
}

TEST(ImageTransforms, DequantizeStaysInTheLevelBin) {
  at::Generator gen = make_generator(7);
  const at::Tensor k = torch::arange(256, torch::kInt64).to(torch::kUInt8).repeat({200});
  const at::Tensor x = to_model_range(k);
  const at::Tensor y = dequantize_uniform(x, gen);
  const at::Tensor u = (y - x).to(torch::kDouble);
  EXPECT_LE(u.abs().max().item<double>(), 1.0 / 255.0 + 1e-7);
  // U[-1/255, 1/255): mean 0 (sd of the mean ~ 1.6e-5), variance (2/255)^2 / 12.
  EXPECT_NEAR(u.mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(u.var().item<double>(), std::pow(2.0 / 255.0, 2) / 12.0, 2e-7);
  // Rounding recovers the level, except within float32 rounding error of a bin edge.
  const at::Tensor diff = to_uint8(y).to(torch::kInt64) - k.to(torch::kInt64);
  EXPECT_LE(diff.abs().max().item<int64_t>(), 1);
  EXPECT_LE(diff.ne(0).sum().item<int64_t>(), 5) << "of " << k.numel();
  at::Generator again = make_generator(7);
  EXPECT_TRUE(torch::equal(dequantize_uniform(x, again), y));
}

class ImageDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scorelab_imgdata_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "mnist");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes an IDX ubyte file with the given sizes and payload, gzipped if the name ends in .gz.
  void write_idx(const std::string& rel, const std::vector<uint32_t>& dims, const std::vector<unsigned char>& payload) {
    std::string b = {0, 0, 8, static_cast<char>(dims.size())};
    for (uint32_t d : dims) {
      for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>(d >> s));
    }
    b.append(payload.begin(), payload.end());
    const std::string p = (dir_ / rel).string();
    if (rel.size() > 3 && rel.substr(rel.size() - 3) == ".gz") {
      gzFile f = gzopen(p.c_str(), "wb");
      gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
      gzclose(f);
    } else {
      std::ofstream(p, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
    }
  }

  fs::path dir_;
};

TEST_F(ImageDataTest, LoadsMnistLayoutFromDataDir) {
  std::vector<unsigned char> pixels(3 * 28 * 28, 0);
  pixels[2 * 784 + 5 * 28 + 6] = 200;
  write_idx("mnist/t10k-images-idx3-ubyte", {3, 28, 28}, pixels);
  write_idx("mnist/t10k-labels-idx1-ubyte.gz", {3}, {4, 0, 9});
  const ImageDataset ds = load_image_dataset("mnist", "test", dir_.string());
  EXPECT_EQ(ds.name, "mnist");
  ASSERT_EQ(ds.images.sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
  EXPECT_EQ(ds.images[2][0][5][6].item<int>(), 200);
  EXPECT_EQ(ds.images.sum().item<int64_t>(), 200);
  EXPECT_TRUE(torch::equal(ds.labels, torch::tensor({4, 0, 9}, torch::kInt64)));
}

TEST_F(ImageDataTest, InconsistentFilesAreDataErrors) {
  write_idx("mnist/t10k-images-idx3-ubyte", {2, 28, 28}, std::vector<unsigned char>(2 * 784, 0));
  write_idx("mnist/t10k-labels-idx1-ubyte", {3}, {1, 2, 3});
  EXPECT_THROW(load_image_dataset("mnist", "test", dir_.string()), DataError);
  write_idx("mnist/t10k-labels-idx1-ubyte", {2}, {1, 12});
  try {
    load_image_dataset("mnist", "test", dir_.string());
    ADD_FAILURE() << "label 12 accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("t10k-labels-idx1-ubyte"), std::string::npos) << e.what();
  }
}

TEST_F(ImageDataTest, MissingFilesNameThePathAndTheFix) {
  try {
    load_image_dataset("mnist", "train", dir_.string());
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((dir_ / "mnist" / "train-images-idx3-ubyte").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("scripts/get-data mnist"), std::string::npos) << msg;
  }
  try {
    load_image_dataset("cifar10", "test", dir_.string());
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("test_batch.bin"), std::string::npos) << msg;
    EXPECT_NE(msg.find("scripts/get-data cifar10"), std::string::npos) << msg;
  }
}

TEST(ImageDataNames, UnknownNameAndSplitAreConfigErrors) {
  try {
    load_image_dataset("svhn", "train");
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    for (const char* n : {"svhn", "mnist", "fashion-mnist", "cifar10"})
      EXPECT_NE(msg.find(n), std::string::npos) << msg;
  }
  EXPECT_THROW(load_image_dataset("mnist", "valid"), ConfigError);
  EXPECT_EQ(image_dataset_names(), (std::vector<std::string>{"mnist", "fashion-mnist", "cifar10"}));
  EXPECT_EQ(resolve_data_root("/x/y"), "/x/y");
  const char* old_env = std::getenv("SCORELAB_DATA");
  const std::string saved = old_env != nullptr ? old_env : "";
  ::setenv("SCORELAB_DATA", "/from/env", 1);
  EXPECT_EQ(resolve_data_root(), "/from/env");
  EXPECT_EQ(resolve_data_root("/x/y"), "/x/y");
  ::unsetenv("SCORELAB_DATA");
  EXPECT_EQ(resolve_data_root(), (fs::path(SCORELAB_SOURCE_DIR) / "data").string());
  if (old_env != nullptr) ::setenv("SCORELAB_DATA", saved.c_str(), 1);
}

// Real datasets fetched by scripts/get-data, when present (a present but broken dataset fails).
bool dataset_present(const std::string& name) {
  const fs::path root = resolve_data_root();
  if (name == "cifar10") return fs::exists(root / "cifar10" / "cifar-10-batches-bin");
  return fs::exists(root / name) || (name == "fashion-mnist" && fs::exists("/usr/share/datasets/fashion-mnist"));
}

TEST(ImageDataReal, Mnist) {
  if (!dataset_present("mnist")) GTEST_SKIP() << "run scripts/get-data mnist";
  const ImageDataset train = load_image_dataset("mnist", "train");
  const ImageDataset test = load_image_dataset("mnist", "test");
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(train.labels.size(0), 60000);
  EXPECT_EQ(test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(train.labels.slice(0, 0, 10), torch::tensor({5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, torch::kInt64)));
  // MNIST test set class counts: 980 zeros ... 1009 nines.
  EXPECT_TRUE(torch::equal(torch::bincount(test.labels),
                           torch::tensor({980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, torch::kInt64)));
}

TEST(ImageDataReal, FashionMnist) {
  if (!dataset_present("fashion-mnist")) GTEST_SKIP() << "run scripts/get-data fashion-mnist";
  const ImageDataset train = load_image_dataset("fashion-mnist", "train");
  const ImageDataset test = load_image_dataset("fashion-mnist", "test");
  EXPECT_EQ(train.name, "fashion-mnist");
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  // Fashion-MNIST is balanced: 6000 / 1000 per class.
  EXPECT_TRUE(torch::equal(torch::bincount(train.labels), torch::full({10}, 6000, torch::kInt64)));
  EXPECT_TRUE(torch::equal(torch::bincount(test.labels), torch::full({10}, 1000, torch::kInt64)));
}

TEST(ImageDataReal, Cifar10) {
  if (!dataset_present("cifar10")) GTEST_SKIP() << "run scripts/get-data cifar10";
  const ImageDataset train = load_image_dataset("cifar10", "train");
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{50000, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(torch::bincount(train.labels), torch::full({10}, 5000, torch::kInt64)));
  // data_batch_1 comes first (README known values).
  EXPECT_TRUE(torch::equal(train.labels.slice(0, 0, 10), torch::tensor({6, 9, 9, 4, 1, 1, 2, 7, 8, 3}, torch::kInt64)));
  EXPECT_EQ(train.images[0][0][0][0].item<int>(), 59);
  EXPECT_EQ(load_image_dataset("cifar10", "test").images.size(0), 10000);
}

}  // namespace
}  // namespace scorelab
