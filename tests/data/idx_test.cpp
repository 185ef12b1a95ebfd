#include "data/idx.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/image_data.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<unsigned char>;

// An IDX ubyte file image: magic, big-endian sizes, payload 0, 1, 2, ... (mod 256).
Bytes idx_bytes(const std::vector<uint32_t>& dims, unsigned char type = 0x08) {
  Bytes b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  uint64_t n = 1;
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
    n *= d;
  }
  for (uint64_t i = 0; i < n; ++i) b.push_back(static_cast<unsigned char>(i % 256));
  return b;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scorelab_idx_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const Bytes& b) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return p;
  }
  std::string write_gz(const std::string& name, const Bytes& b) {
    const std::string p = (dir_ / name).string();
    gzFile f = gzopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
    gzclose(f);
    return p;
  }
  // Expects a DataError whose message names `path` and contains `what`.
  static void expect_error(const std::function<void()>& fn, const std::string& path, const std::string& what) {
    try {
      fn();
      ADD_FAILURE() << "no DataError for " << path;
    } catch (const DataError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  }

  fs::path dir_;
};

TEST_F(IdxTest, ReadsPlainAndGzipIdentically) {
  const Bytes b = idx_bytes({3, 4, 5});
  for (const auto& p : {write("a-idx3-ubyte", b), write_gz("a-idx3-ubyte.gz", b)}) {
    IdxArray a = read_idx(p);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 4, 5}));
    ASSERT_EQ(a.data.scalar_type(), torch::kUInt8);
    EXPECT_EQ(a.data.sizes(), (std::vector<int64_t>{3, 4, 5}));
    EXPECT_EQ(a.data[0][0][0].item<int>(), 0);
    EXPECT_EQ(a.data[1][2][3].item<int>(), 20 + 10 + 3);
    EXPECT_EQ(a.data[2][3][4].item<int>(), 59);
  }
}

TEST_F(IdxTest, ImagesAndLabelsHelpers) {
  Bytes images = idx_bytes({2, 3, 3});
  const at::Tensor x = read_idx_images(write_gz("img.gz", images));
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{2, 1, 3, 3}));
  EXPECT_EQ(x[1][0][2][1].item<int>(), 9 + 6 + 1);

  Bytes labels = idx_bytes({4});
  labels.back() = 7;
  const at::Tensor y = read_idx_labels(write("lab", labels));
  ASSERT_EQ(y.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(y, torch::tensor({0, 1, 2, 7}, torch::kInt64)));
}

TEST_F(IdxTest, MissingAndEmptyFiles) {
  const std::string missing = (dir_ / "nope").string();
  expect_error([&] { read_idx(missing); }, missing, "not found");
  const std::string empty = write("empty", {});
  expect_error([&] { read_idx(empty); }, empty, "empty");
  expect_error([&] { read_idx(missing, "run scripts/get-data mnist"); }, missing, "run scripts/get-data mnist");
}

TEST_F(IdxTest, TruncatedAndTrailingPayload) {
  Bytes b = idx_bytes({2, 3, 3});
  Bytes shorter(b.begin(), b.end() - 1);
  Bytes longer = b;
  longer.push_back(0);
  const std::string t = write("trunc", shorter), tg = write_gz("trunc.gz", shorter);
  const std::string l = write("long", longer), lg = write_gz("long.gz", longer);
  expect_error([&] { read_idx(t); }, t, "truncated");
  expect_error([&] { read_idx(tg); }, tg, "truncated");
  expect_error([&] { read_idx(l); }, l, "trailing bytes");
  expect_error([&] { read_idx(lg); }, lg, "trailing bytes");
  // A gzip stream cut in the middle.
  const std::string cut = write_gz("cut.gz", idx_bytes({64, 64}));
  fs::resize_file(cut, fs::file_size(cut) / 2);
  expect_error([&] { read_idx(cut); }, cut, "");
  const std::string header_only = write("hdr", Bytes(b.begin(), b.begin() + 6));
  expect_error([&] { read_idx(header_only); }, header_only, "truncated IDX header");
}

TEST_F(IdxTest, WrongMagicTypeAndDims) {
  Bytes b = idx_bytes({2, 2});
  Bytes bad_magic = b;
  bad_magic[0] = 0x1f;
  const std::string m = write("magic", bad_magic);
  expect_error([&] { read_idx(m); }, m, "not an IDX file");
  const std::string ty = write("float", idx_bytes({2}, 0x0D));
  expect_error([&] { read_idx(ty); }, ty, "element type");
  Bytes zero_dims = {0, 0, 8, 0};
  const std::string z = write("zerodims", zero_dims);
  expect_error([&] { read_idx(z); }, z, "0 dimensions");
  const std::string zs = write("zerosize", idx_bytes({2, 0}));
  expect_error([&] { read_idx(zs); }, zs, "is zero");
  Bytes huge = {0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
  const std::string h = write("huge", huge);
  expect_error([&] { read_idx(h); }, h, "4 GiB");
  // The helpers check the number of dimensions.
  const std::string two = write("two", b);
  expect_error([&] { read_idx_images(two); }, two, "3 dimensions");
  expect_error([&] { read_idx_labels(two); }, two, "1 dimension");
}

// The real MNIST files fetched by scripts/get-data, when present.
TEST(IdxRealData, MnistKnownLabels) {
  const std::string root = resolve_data_root();
  if (!fs::exists(fs::path(root) / "mnist" / "train-labels-idx1-ubyte")) GTEST_SKIP() << "run scripts/get-data mnist";
  const at::Tensor labels = read_idx_labels((fs::path(root) / "mnist" / "train-labels-idx1-ubyte").string());
  ASSERT_EQ(labels.size(0), 60000);
  EXPECT_TRUE(torch::equal(labels.slice(0, 0, 10), torch::tensor({5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, torch::kInt64)));
  const at::Tensor test_labels = read_idx_labels((fs::path(root) / "mnist" / "t10k-labels-idx1-ubyte").string());
  ASSERT_EQ(test_labels.size(0), 10000);
  EXPECT_TRUE(torch::equal(test_labels.slice(0, 0, 10), torch::tensor({7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, torch::kInt64)));
}

}  // namespace
}  // namespace scorelab
