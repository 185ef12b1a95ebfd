#include "eval/image_grid.h"

#include <gtest/gtest.h>
#include <stb_image.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

class ImageGridTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scorelab_grid_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  struct Png {
    int w = 0, h = 0, comp = 0;
    std::vector<unsigned char> pixels;
    int at(int x, int y, int c) const { return pixels[static_cast<size_t>((y * w + x) * comp + c)]; }
  };
  static Png load(const std::string& path) {
    Png p;
    unsigned char* data = stbi_load(path.c_str(), &p.w, &p.h, &p.comp, 0);
    EXPECT_NE(data, nullptr) << stbi_failure_reason();
    if (data != nullptr) {
      p.pixels.assign(data, data + static_cast<size_t>(p.w) * p.h * p.comp);
      stbi_image_free(data);
    }
    return p;
  }

  fs::path dir_;
};

TEST_F(ImageGridTest, GreyGridLayoutAndValues) {
  // 5 images of 2x3 (HxW), image i filled with the model-range value of level 50 * i.
  at::Tensor images = torch::empty({5, 1, 2, 3});
  for (int i = 0; i < 5; ++i) images[i].fill_(50.0 * i / 127.5 - 1.0);
  const std::string path = (dir_ / "sub" / "grid.png").string();
  write_png_grid(path, images);  // nrow 0 -> ceil(sqrt(5)) = 3 columns, 2 rows
  const Png p = load(path);
  EXPECT_EQ(p.w, 3 * (3 + 2) + 2);
  EXPECT_EQ(p.h, 2 * (2 + 2) + 2);
  EXPECT_EQ(p.comp, 1);
  EXPECT_EQ(p.at(0, 0, 0), 0);                                                     // padding
  EXPECT_EQ(p.at(2, 2, 0), 0);                                                     // image 0 = level 0
  EXPECT_EQ(p.at(2 + 5 + 2, 2 + 1, 0), 50);                                        // image 1: column 1, last pixel
  EXPECT_EQ(p.at(2 + 5, 2 + 4 + 1, 0), 200);                                       // image 4: row 1, column 1
  EXPECT_EQ(p.at(2 + 2 * 5, 2 + 4, 0), 0);                                         // empty sixth slot
  EXPECT_EQ(fs::directory_iterator(dir_ / "sub")->path().filename(), "grid.png");  // no temporary left
}

TEST_F(ImageGridTest, RgbUint8WithExplicitNrowAndNoPadding) {
  at::Tensor images = torch::zeros({3, 3, 4, 4}, torch::kUInt8);
  images[1][0].fill_(255);  // image 1 red
  images[2][2].fill_(17);   // image 2 blue
  const std::string path = (dir_ / "rgb.png").string();
  write_png_grid(path, images, /*nrow=*/1, /*padding=*/0);
  const Png p = load(path);
  EXPECT_EQ(p.w, 4);
  EXPECT_EQ(p.h, 12);
  EXPECT_EQ(p.comp, 3);
  EXPECT_EQ(p.at(1, 5, 0), 255);
  EXPECT_EQ(p.at(1, 5, 1), 0);
  EXPECT_EQ(p.at(3, 11, 2), 17);
  EXPECT_EQ(p.at(3, 11, 0), 0);
  // Overwriting an existing file works (rename over it).
  write_png_grid(path, images.slice(0, 0, 1), 1, 0);
  EXPECT_EQ(load(path).h, 4);
}

TEST_F(ImageGridTest, MakeImageGridClampsFloats) {
  const at::Tensor grid = make_image_grid(torch::full({1, 1, 1, 1}, 3.0), 0, 1);
  EXPECT_EQ(grid.sizes(), (std::vector<int64_t>{1, 3, 3}));
  EXPECT_EQ(grid[0][1][1].item<int>(), 255);
  EXPECT_THROW(make_image_grid(torch::zeros({1, 2, 4, 4})), c10::Error);
}

TEST_F(ImageGridTest, UnwritablePathIsDataErrorNamingIt) {
  const std::string blocker = (dir_ / "file").string();
  std::ofstream(blocker) << "x";
  const std::string path = blocker + "/grid.png";  // parent is a regular file
  try {
    write_png_grid(path, torch::zeros({1, 1, 2, 2}));
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scorelab
