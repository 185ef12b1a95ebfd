// Issue 15: class-conditional ddpm / ncsn with label dropout, the null label, and classifier-free guidance.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/runtime.h"
#include "methods/image_compare.h"
#include "methods/image_models.h"
#include "methods/inpaint.h"
#include "methods/image_sampling.h"
#include "methods/image_train.h"
#include "samplers/registry.h"
#include "samplers/wrappers.h"
#include "support/fake_mnist.h"
#include "support/tiny_image.h"
#include "support/trainer_fixture.h"

namespace scorelab {
namespace {

void scramble(torch::nn::Module& m, uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = make_generator(seed);
  for (auto& p : m.parameters()) p.copy_(torch::randn(p.sizes(), gen) * 0.1);
}

ImageTrainConfig conditional(const std::string& method, double dropout) {
  ImageTrainConfig c = test_support::tiny_train_config(method, test_support::fake_mnist(16, 8, "guidance"), 2, 4);
  c.condition = "class";
  c.label_dropout = dropout;
  return c;
}

TEST(Guidance, LabelDropoutReplacesLabelsAtItsRate) {
  auto gen = make_generator(1);
  const at::Tensor y = torch::randint(10, {20000}, gen, torch::kLong);
  EXPECT_TRUE(torch::equal(drop_labels(y, 0.0, 10, gen), y));
  const at::Tensor d = drop_labels(y, 0.2, 10, gen);
  const double rate = d.eq(10).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(rate, 0.2, 4 * std::sqrt(0.2 * 0.8 / 20000));  // 4 standard errors
  EXPECT_TRUE(torch::equal(d.masked_select(d.ne(10)), y.masked_select(d.ne(10))));  // the rest keep their label
}

// (1 + w) f(x | y) - w f(x | null), checked against the network evaluated with explicit labels; w = 0 is the
// conditional model itself, for the ddpm eps and the ncsn score.
TEST(Guidance, GuidedOutputIsTheClassifierFreeCombination) {
  auto gen = make_generator(2);
  const at::Tensor x = torch::rand({3, 1, 28, 28}, gen) * 2 - 1;
  const at::Tensor y = torch::tensor({1, 4, 7}, torch::kLong), null = torch::full({3}, 10, torch::kLong);
  for (const std::string method : {"ddpm", "ncsn"}) {
    seed_module_init(3);
    ImageModel m = build_image_model(conditional(method, 0.1), 1, 28);
    scramble(*m.module, 4);
    m.module->eval();
    ASSERT_EQ(m.null_label, 10);
    auto f = [&](const at::Tensor& labels, double w) {
      *m.labels = labels;
      if (method == "ddpm") return ddpm_eps_fn(m, 1, w)(x, 500);
      return ncsn_score_fn(m, w)(x, 0.3);
    };
    const at::Tensor cond = f(y, 0.0), uncond = f(null, 0.0);
    EXPECT_GT((cond - uncond).abs().max().item<double>(), 1e-4) << method << ": the label changes nothing";
    const at::Tensor w2 = f(y, 2.0);
    EXPECT_TRUE(torch::allclose(w2, 3 * cond - 2 * uncond, 1e-4, 1e-5)) << method;
    EXPECT_TRUE(torch::equal(*m.labels, y)) << method << ": guidance must restore the bound labels";
    // Unbound labels: the null label (the marginal model).
    *m.labels = at::Tensor();
    const at::Tensor marginal = method == "ddpm" ? ddpm_eps_fn(m, 1)(x, 500) : ncsn_score_fn(m)(x, 0.3);
    EXPECT_TRUE(torch::allclose(marginal, uncond, 1e-5, 1e-6)) << method;
  }
  // Without label dropout there is no null label: unbound labels are an error.
  ImageModel plain = build_image_model(conditional("ddpm", 0.0), 1, 28);
  EXPECT_EQ(plain.null_label, -1);
  EXPECT_THROW(ddpm_eps_fn(plain, 1)(x, 500), ConfigError);
}

// Guidance at scale 0 is the unguided conditional sampler (same seed, same images); a positive scale changes them.
TEST(Guidance, ScaleZeroEqualsTheUnguidedSampler) {
  const std::string out = test_support::fresh_path("guidance-ddpm");
  run_image_train(conditional("ddpm", 0.2), out, "train --test");
  LoadedModels models;
  models.main = load_image_model(out, c10::Device(c10::kCPU));
  ASSERT_EQ(models.main.model.null_label, 10);
  scramble(*models.main.model.module, 5);  // two iterations leave the label embedding nearly unused
  SamplingConfig sc;
  sc.sampler = "ddim";
  sc.sampling.ddim_steps = 3;
  auto draw = [&](double w) {
    SamplingConfig s = sc;
    s.guidance_scale = w;
    auto gen = make_generator(6);
    return draw_samples(s, models, 4, gen);
  };
  const ImageSamples a = draw(0.0), b = draw(0.0), c = draw(3.0);
  EXPECT_TRUE(torch::equal(a.samples, b.samples));
  EXPECT_TRUE(torch::equal(a.labels, c.labels));  // the labels come first from the same stream
  EXPECT_GT((a.samples - c.samples).abs().max().item<double>(), 1e-4);
  // The unguided sampler written out: DDIM on the conditional eps with the same labels bound.
  *models.main.model.labels = a.labels;
  auto gen = make_generator(6);
  (void)torch::randint(10, {4}, gen, torch::kLong);  // the labels' draws
  SamplerArgs args = vp_eps_model(ddpm_eps_fn(models.main.model, 1), models.main.model.betas, "test").args(sc.sampling);
  auto sampler = sampler_registry().get("ddim")(args);
  const at::Tensor direct = run_sampler(*sampler, 4, {1, 28, 28}, gen);
  *models.main.model.labels = at::Tensor();
  EXPECT_TRUE(torch::allclose(direct, a.samples, 1e-5, 1e-6));
}

TEST(Guidance, BadChoicesNameTheFlag) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  ImageTrainConfig c = conditional("ddpm", 1.0);
  EXPECT_NE(message([&] { c.validate(); }).find("--label-dropout: got '1'; expected a probability in [0, 1)"), std::string::npos);
  c = conditional("ddpm", 0.1);
  c.condition = "none";
  EXPECT_NE(message([&] { c.validate(); }).find("--label-dropout: got '0.1'; expected 0 unless --condition class"), std::string::npos);
  c = conditional("ar", 0.0);
  EXPECT_NE(message([&] { c.validate(); }).find("--condition: got 'class'; expected none unless --method ncsn or ddpm"),
            std::string::npos);
  ImageCompareConfig ic;
  ic.methods = "ddpm";
  ic.sampling.guidance_scale = 2;
  EXPECT_NE(message([&] { ic.validate(); }).find("--guidance-scale: got '2'; expected 0 unless --condition class --label-dropout"),
            std::string::npos) << message([&] { ic.validate(); });
  InpaintConfig inpaint;
  inpaint.model_dir = "m";
  inpaint.sampling.guidance_scale = 2;
  EXPECT_NE(message([&] { inpaint.validate(); }).find("--guidance-scale: got '2'; expected 0 for inpainting"), std::string::npos);
  // Classifier guidance (issue 15): no ncsn or ddpm row to guide, a folder without a scale, a folder for two methods,
  // inpainting.
  ic = ImageCompareConfig();
  ic.methods = "ar,smoothed-ar";
  ic.sampling.classifier_scale = 1;
  EXPECT_NE(message([&] { ic.validate(); }).find("--classifier-scale: got '1'; expected 0 unless --method includes ncsn or ddpm"),
            std::string::npos) << message([&] { ic.validate(); });
  ic.methods = "ncsn,ddpm";
  ic.guide_classifier = "g";
  EXPECT_NE(message([&] { ic.validate(); }).find("--guide-classifier: got 'g'; expected one guided method"), std::string::npos)
      << message([&] { ic.validate(); });
  ic.sampling.classifier_scale = 0;
  EXPECT_NE(message([&] { ic.validate(); }).find("--guide-classifier: got 'g'; expected no folder unless --classifier-scale"),
            std::string::npos) << message([&] { ic.validate(); });
  inpaint.sampling.guidance_scale = 0;
  inpaint.sampling.classifier_scale = 2;
  EXPECT_NE(message([&] { inpaint.validate(); }).find("--classifier-scale: got '2'; expected 0 for inpainting"), std::string::npos);
  // A model without a null label refuses guidance when it samples.
  const std::string out = test_support::fresh_path("guidance-plain");
  run_image_train(test_support::tiny_train_config("ddpm", test_support::fake_mnist(16, 8, "guidance"), 1, 4), out, "train --test");
  LoadedModels models;
  models.main = load_image_model(out, c10::Device(c10::kCPU));
  SamplingConfig sc;
  sc.guidance_scale = 1.5;
  EXPECT_NE(message([&] { sc.validate_for(models); }).find("--guidance-scale: got '1.5'; expected 0 for this model"),
            std::string::npos) << message([&] { sc.validate_for(models); });
}

}  // namespace
}  // namespace scorelab
