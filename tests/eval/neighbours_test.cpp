#include "eval/neighbours.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/runtime.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

TEST(Neighbours, MatchBruteForceWhateverTheChunk) {
  at::Generator gen = make_generator(1);
  const at::Tensor ref = torch::randn({50, 6}, gen, torch::kDouble);
  const at::Tensor q = torch::cat({ref.index_select(0, torch::tensor({3, 17}, torch::kLong)) + 1e-3,
                                   torch::randn({3, 6}, gen, torch::kDouble)});
  const Neighbours a = nearest_neighbours(q, ref, 4, 7);
  const Neighbours b = nearest_neighbours(q, ref, 4);
  EXPECT_TRUE(torch::equal(a.indices, b.indices));
  EXPECT_TRUE(torch::allclose(a.distances, b.distances));
  EXPECT_EQ(a.indices[0][0].item<int64_t>(), 3);
  EXPECT_EQ(a.indices[1][0].item<int64_t>(), 17);
  const auto brute = torch::cdist(q, ref).sort(1);
  EXPECT_TRUE(torch::equal(a.indices, std::get<1>(brute).slice(1, 0, 4)));
  EXPECT_TRUE(torch::allclose(a.distances, std::get<0>(brute).slice(1, 0, 4), 1e-9, 1e-9));
  EXPECT_NEAR(a.distances[0][0].item<double>(), 1e-3 * std::sqrt(6.0), 1e-6);
}

TEST(Neighbours, TiesKeepTheLowerIndexAndBadKThrows) {
  const at::Tensor ref = torch::tensor({{1.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}});
  const Neighbours n = nearest_neighbours(torch::zeros({1, 2}), ref, 3, 2);
  EXPECT_TRUE(torch::equal(n.indices, torch::tensor({{1, 2, 3}}, torch::kLong)));
  EXPECT_THROW(nearest_neighbours(torch::zeros({1, 2}), ref, 0), c10::Error);
  EXPECT_THROW(nearest_neighbours(torch::zeros({1, 2}), ref, 5), c10::Error);
  EXPECT_THROW(nearest_neighbours(torch::zeros({1, 3}), ref, 1), c10::Error);
}

TEST(Neighbours, TrainingImagesInPixelAndFeatureSpaceAndGrid) {
  at::Generator gen = make_generator(2);
  const ImageDataset train{torch::randint(0, 256, {40, 1, 28, 28}, gen, torch::kLong).to(torch::kUInt8),
                           torch::zeros({40}, torch::kLong), "mnist"};
  // Copies of training images 5 and 9 (as model-scale floats) find themselves at distance 0.
  const at::Tensor samples = to_model_range(train.images.index_select(0, torch::tensor({5, 9}, torch::kLong)));
  const Neighbours px = nearest_training_images(samples, train, 3);
  EXPECT_TRUE(torch::equal(px.indices.select(1, 0), torch::tensor({5, 9}, torch::kLong)));
  EXPECT_NEAR(px.distances.select(1, 0).abs().max().item<double>(), 0.0, 1e-4);
  EXPECT_GT(px.distances[0][1].item<double>(), 1.0);
  seed_module_init(2);
  ImageClassifier clf = make_classifier("mnist");
  const Neighbours ft = nearest_training_images(samples, train, 2, "feature", &clf);
  EXPECT_EQ(ft.indices[0][0].item<int64_t>(), 5);
  EXPECT_EQ(ft.indices[1][0].item<int64_t>(), 9);
  EXPECT_THROW(nearest_training_images(samples, train, 2, "feature"), ConfigError);
  EXPECT_THROW(nearest_training_images(samples, train, 2, "wavelet"), ConfigError);
  EXPECT_THROW(nearest_training_images(torch::zeros({2, 3, 32, 32}), train, 2), c10::Error);

  // Grid: 2 rows of (sample + 3 neighbours), 28 px tiles, padding 2 -> 4 * 30 + 2 = 122 by 2 * 30 + 2 = 62.
  const fs::path dir = fs::temp_directory_path() / ("scorelab_neighbours_" + std::to_string(::getpid()));
  const std::string png = (dir / "nn.png").string();
  write_neighbour_grid(png, samples, train.images, px);
  std::ifstream in(png, std::ios::binary);
  std::string head(24, '\0');
  in.read(head.data(), 24);
  ASSERT_TRUE(in.good());
  auto be32 = [&](int off) {
    return (static_cast<unsigned char>(head[off]) << 24) | (static_cast<unsigned char>(head[off + 1]) << 16) |
           (static_cast<unsigned char>(head[off + 2]) << 8) | static_cast<unsigned char>(head[off + 3]);
  };
  EXPECT_EQ(head.substr(1, 3), "PNG");
  EXPECT_EQ(be32(16), 122u);
  EXPECT_EQ(be32(20), 62u);
  fs::remove_all(dir);
  Neighbours wrong{px.indices.slice(0, 0, 1), px.distances.slice(0, 0, 1)};
  EXPECT_THROW(write_neighbour_grid(png, samples, train.images, wrong), c10::Error);
}

}  // namespace
}  // namespace scorelab
