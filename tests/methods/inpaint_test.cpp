#include "methods/inpaint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <stb_image.h>
#include <stb_image_write.h>

#include "core/error.h"
#include "core/io.h"
#include "core/runtime.h"
#include "methods/image_train.h"
#include "support/fake_mnist.h"
#include "support/tiny_image.h"
#include "support/trainer_fixture.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

std::string fresh(const std::string& name) { return test_support::fresh_path(name); }

at::Tensor mask_of(const std::string& name, int64_t n = 2, int64_t h = 8, int64_t w = 8, double fraction = 0.5) {
  MaskConfig c;
  c.mask = name;
  c.fraction = fraction;
  auto gen = make_generator(1);
  return make_mask(c, n, h, w, gen);
}

TEST(InpaintMask, HalvesAndSquareHaveTheirShape) {
  using torch::indexing::Slice;
  auto left = mask_of("left-half");
  ASSERT_EQ(left.sizes(), (std::vector<int64_t>{2, 1, 8, 8}));
  EXPECT_EQ(left.sum().item<double>(), 2 * 32);
  EXPECT_EQ(left.index({Slice(), Slice(), Slice(), Slice(0, 4)}).sum().item<double>(), 0);  // left unknown
  auto right = mask_of("right-half");
  EXPECT_TRUE(torch::equal(right, 1 - left));
  auto bottom = mask_of("bottom-half");
  EXPECT_EQ(bottom.index({Slice(), Slice(), Slice(0, 4)}).sum().item<double>(), 2 * 32);  // top known
  EXPECT_EQ(bottom.index({Slice(), Slice(), Slice(4, 8)}).sum().item<double>(), 0);
  auto centre = mask_of("centre-square", 1, 28, 28);  // side 14 at offset 7: 3/4 known
  EXPECT_EQ(centre.sum().item<double>(), 28 * 28 - 14 * 14);
  EXPECT_EQ(centre.index({0, 0, Slice(7, 21), Slice(7, 21)}).sum().item<double>(), 0);
  for (const auto& m : {left, right, bottom, centre})
    EXPECT_TRUE(((m == 0) | (m == 1)).all().item<bool>());
}

TEST(InpaintMask, RandomMaskHasTheExactFractionPerImageAndFollowsTheSeed) {
  auto m = mask_of("random", 3, 8, 8, 0.25);
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(m[i].sum().item<double>(), 64 - 16) << i;
  EXPECT_FALSE(torch::equal(m[0], m[1]));               // one draw per image
  EXPECT_TRUE(torch::equal(m, mask_of("random", 3, 8, 8, 0.25)));  // same seed, same masks
  EXPECT_EQ(mask_of("random", 1, 8, 8, 0.0).sum().item<double>(), 64);
  EXPECT_EQ(mask_of("random", 1, 8, 8, 1.0).sum().item<double>(), 0);
}

TEST(InpaintMask, PngRoundTrip) {
  const auto dir = fresh("inpaint-png");
  auto m = mask_of("random", 1, 28, 28, 0.4);
  write_mask_png(dir + "/mask.png", m);
  EXPECT_TRUE(torch::equal(read_mask_png(dir + "/mask.png", 28, 28), m));
  MaskConfig c;
  c.mask = "file";
  c.file = dir + "/mask.png";
  auto gen = make_generator(0);
  auto from_file = make_mask(c, 3, 28, 28, gen);
  EXPECT_EQ(from_file.sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(from_file[2], m[0]));
  // An RGB PNG is read through its grey value: white known, black unknown.
  at::Tensor rgb = (m[0].expand({3, 28, 28}) * 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  ASSERT_NE(stbi_write_png((dir + "/rgb.png").c_str(), 28, 28, 3, rgb.data_ptr<uint8_t>(), 28 * 3), 0);
  EXPECT_TRUE(torch::equal(read_mask_png(dir + "/rgb.png", 28, 28), m));
}

TEST(InpaintMask, BadNamesAndFilesAreClearErrors) {
  MaskConfig c;
  auto gen = make_generator(0);
  c.mask = "diagonal";
  try {
    make_mask(c, 1, 8, 8, gen);
    FAIL() << "unknown mask accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--mask"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("centre-square"), std::string::npos) << e.what();
  }
  c.mask = "random";
  c.fraction = 1.5;
  EXPECT_THROW(c.validate(), ConfigError);
  c = MaskConfig{};
  c.mask = "file";
  EXPECT_THROW(c.validate(), ConfigError);  // no --mask-file
  c.file = fresh("inpaint-missing") + "/none.png";
  EXPECT_THROW(make_mask(c, 1, 8, 8, gen), DataError);
  const auto dir = fresh("inpaint-badfile");
  fs::create_directories(dir);
  std::ofstream(dir + "/bad.png") << "not a png";
  c.file = dir + "/bad.png";
  try {
    make_mask(c, 1, 8, 8, gen);
    FAIL() << "garbage PNG accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.png"), std::string::npos) << e.what();
  }
  write_mask_png(dir + "/small.png", torch::ones({4, 4}));
  c.file = dir + "/small.png";
  EXPECT_THROW(make_mask(c, 1, 8, 8, gen), DataError);  // wrong size
  c = MaskConfig{};
  c.file = dir + "/small.png";  // --mask-file without --mask file
  EXPECT_THROW(c.validate(), ConfigError);
}

LoadedImageModel tiny(const std::string& method, int stage = 1) {
  return test_support::tiny_image_model(method, stage, 5 + stage);
}

// Every method keeps the known pixels exactly and fills the rest with finite values in [-1, 1].
TEST(Inpaint, EveryMethodKeepsTheKnownPixelsExactly) {
  struct Case {
    std::string method, sampler, denoise, grad;
  };
  auto gen0 = make_generator(7);
  const at::Tensor images = torch::rand({3, 1, 8, 8}, gen0) * 2 - 1;
  for (const std::string& mask_name : {"left-half", "centre-square", "random"}) {
    const at::Tensor mask = mask_of(mask_name, 3);
    const at::Tensor known = mask.gt(0.5).expand_as(images);
    for (const Case& k : {Case{"ncsn", "", "", ""}, Case{"ddpm", "ddpm", "", ""}, Case{"ddpm", "ddim", "", ""},
                          Case{"ar", "", "", ""}, Case{"smoothed-ar", "", "single-step", "detached"},
                          Case{"smoothed-ar", "", "single-step", "full"}, Case{"smoothed-ar", "", "conditional-ar", ""}}) {
      SamplingConfig config;
      config.sampler = k.sampler;
      config.sampling.steps_per_level = 2;
      config.sampling.ddim_steps = 4;
      config.sampling.final_denoise = true;
      if (!k.denoise.empty()) config.denoise = k.denoise;
      if (!k.grad.empty()) config.grad = k.grad;
      LoadedModels models{tiny(k.method), std::nullopt};
      if (k.denoise == "conditional-ar") models.stage2 = tiny("smoothed-ar", 2);
      auto gen = make_generator(8);
      const std::string what = mask_name + " " + k.method + " " + k.sampler + k.denoise + k.grad;
      at::Tensor out = inpaint(config, models, images, mask, gen);
      ASSERT_EQ(out.sizes(), images.sizes()) << what;
      EXPECT_TRUE(torch::equal(out.masked_select(known), images.masked_select(known))) << what;
      EXPECT_TRUE(torch::isfinite(out).all().item<bool>()) << what;
      EXPECT_LE(out.abs().max().item<double>(), 1.0) << what;
      auto err = inpaint_errors(out, images, mask);
      EXPECT_EQ(err.mse_known, 0.0) << what;
      EXPECT_GT(err.mse_unknown, 0.0) << what;
      EXPECT_DOUBLE_EQ(err.known_fraction, mask.mean().item<double>()) << what;
    }
  }
}

TEST(Inpaint, ErrorsAreMeanSquaresOverEachRegion) {
  const at::Tensor orig = torch::zeros({1, 1, 2, 2});
  const at::Tensor out = torch::tensor({0.0f, 0.0f, 1.0f, 0.5f}).view({1, 1, 2, 2});
  const at::Tensor mask = torch::tensor({1.0f, 1.0f, 0.0f, 0.0f}).view({1, 1, 2, 2});
  auto e = inpaint_errors(out, orig, mask);
  EXPECT_DOUBLE_EQ(e.mse_known, 0.0);
  EXPECT_DOUBLE_EQ(e.mse_unknown, (1.0 + 0.25) / 2);
  EXPECT_DOUBLE_EQ(e.known_fraction, 0.5);
  EXPECT_TRUE(std::isnan(inpaint_errors(out, orig, torch::ones({1, 1, 2, 2})).mse_unknown));
  EXPECT_TRUE(std::isnan(e.mse_unknown_se));  // one completion: no spread
  // Two completions with unknown-pixel MSEs 0.625 and 0.125: se = std / sqrt(2) = |0.625 - 0.125| / 2.
  const at::Tensor two = torch::cat({out, out * 0.0f + torch::tensor({0.0f, 0.0f, 0.5f, 0.0f}).view({1, 1, 2, 2})});
  auto e2 = inpaint_errors(two, torch::zeros({2, 1, 2, 2}), mask);
  EXPECT_NEAR(e2.mse_unknown_se, 0.25, 1e-12);
  // The same two rows as two completions of one image: one image, no spread over images.
  EXPECT_TRUE(std::isnan(inpaint_errors(two, torch::zeros({2, 1, 2, 2}), mask, 2).mse_unknown_se));
  EXPECT_DOUBLE_EQ(inpaint_errors(two, torch::zeros({2, 1, 2, 2}), mask, 2).mse_unknown, (0.625 + 0.125) / 2);
}

std::string fake_mnist(int n) { return test_support::fake_mnist(n, n, "inpaint-fake-data"); }

// The whole run on a folder written by `train`: grid layout, metrics and config files.
TEST(Inpaint, RunWritesGridAndMetrics) {
  ImageTrainConfig t = test_support::tiny_train_config("ddpm", fake_mnist(6), 1, 2);
  t.timesteps = 10;
  const auto model_dir = fresh("inpaint-model");
  run_image_train(t, model_dir, "train --test");

  InpaintConfig c;
  c.model_dir = model_dir;
  c.data_dir = t.data_dir;
  c.images = 3;
  c.samples = 2;
  c.quiet = true;
  c.mask.mask = "bottom-half";
  c.sampling.snapshots = 2;
  c.runtime.threads = 1;
  const auto out = fresh("inpaint-run");
  auto metrics = run_inpaint(c, out, "inpaint --test");
  EXPECT_EQ(metrics["mse_known"].get<double>(), 0.0);
  EXPECT_GT(metrics["mse_unknown"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(metrics["known_fraction"].get<double>(), 0.5);
  EXPECT_EQ(metrics["snapshots"].get<int64_t>(), 2);
  EXPECT_EQ(read_run_metrics(out), metrics);
  EXPECT_EQ(read_json(out + "/config.json")["method"], "ddpm");
  int w = 0, h = 0, ch = 0;
  unsigned char* px = stbi_load((out + "/inpaint.png").c_str(), &w, &h, &ch, 0);
  ASSERT_NE(px, nullptr);
  stbi_image_free(px);
  EXPECT_EQ(w, 3 * (28 + 2) + 2);      // one column per image
  EXPECT_EQ(h, 4 * (28 + 2) + 2);      // masked, 2 completions, original
  EXPECT_EQ(read_mask_png(out + "/mask.png", 28, 28).sum().item<double>(), 28 * 14);

  c.stage2_dir = model_dir;  // a ddpm folder is no stage-2 model
  EXPECT_THROW(run_inpaint(c, fresh("inpaint-bad"), "x"), ConfigError);
}

}  // namespace
}  // namespace scorelab
