#include "data/cifar10.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/image_data.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

class Cifar10Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scorelab_cifar_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `n` records: label i % 10, pixel byte j of record i = (i + j) % 256.
  static std::string records(int n) {
    std::string b;
    for (int i = 0; i < n; ++i) {
      b.push_back(static_cast<char>(i % 10));
      for (int j = 0; j < 3072; ++j) b.push_back(static_cast<char>((i + j) % 256));
    }
    return b;
  }
  std::string write(const std::string& name, const std::string& b) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
    return p;
  }
  static std::string error_of(const std::string& path) {
    try {
      read_cifar10_batch(path);
    } catch (const DataError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(Cifar10Test, ReadsRecordsAsPlanes) {
  const CifarBatch b = read_cifar10_batch(write("ok.bin", records(12)));
  ASSERT_EQ(b.images.sizes(), (std::vector<int64_t>{12, 3, 32, 32}));
  ASSERT_EQ(b.images.scalar_type(), torch::kUInt8);
  ASSERT_EQ(b.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(b.labels[11].item<int64_t>(), 1);
  // Record 5, green plane (offset 1024), row 2, column 7: pixel byte j = 1024 + 2 * 32 + 7.
  EXPECT_EQ(b.images[5][1][2][7].item<int>(), (5 + 1024 + 64 + 7) % 256);
  EXPECT_EQ(b.images[0][2][31][31].item<int>(), 3071 % 256);
}

TEST_F(Cifar10Test, RejectsBadSizes) {
  std::string b = records(2);
  const std::string short_path = write("short.bin", b.substr(0, b.size() - 1));
  std::string msg = error_of(short_path);
  EXPECT_NE(msg.find(short_path), std::string::npos) << msg;
  EXPECT_NE(msg.find("multiple of the 3073-byte record"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/get-data cifar10"), std::string::npos) << msg;
  const std::string empty = write("empty.bin", "");
  EXPECT_NE(error_of(empty).find(empty), std::string::npos);
  const std::string missing = (dir_ / "missing.bin").string();
  msg = error_of(missing);
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

TEST_F(Cifar10Test, RejectsLabelAboveNine) {
  std::string b = records(4);
  b[2 * 3073] = 10;
  const std::string p = write("label.bin", b);
  const std::string msg = error_of(p);
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_NE(msg.find("record 2 (byte 6146) has label 10"), std::string::npos) << msg;
}

// Known values of the real data (shared/data/README.md), when scripts/get-data cifar10 has run.
TEST(Cifar10RealData, KnownValues) {
  const fs::path dir = fs::path(resolve_data_root()) / "cifar10" / "cifar-10-batches-bin";
  if (!fs::exists(dir / "data_batch_1.bin")) GTEST_SKIP() << "run scripts/get-data cifar10";
  const CifarBatch b = read_cifar10_batch((dir / "data_batch_1.bin").string());
  ASSERT_EQ(b.images.size(0), 10000);
  EXPECT_TRUE(torch::equal(b.labels.slice(0, 0, 10), torch::tensor({6, 9, 9, 4, 1, 1, 2, 7, 8, 3}, torch::kInt64)));
  const at::Tensor red = b.images[0][0][0].slice(0, 0, 10).to(torch::kInt64);
  EXPECT_TRUE(torch::equal(red, torch::tensor({59, 43, 50, 68, 98, 119, 139, 145, 149, 149}, torch::kInt64)));
  const CifarBatch t = read_cifar10_batch((dir / "test_batch.bin").string());
  EXPECT_TRUE(torch::equal(torch::bincount(t.labels), torch::full({10}, 1000, torch::kInt64)));
}

}  // namespace
}  // namespace scorelab
