// The image method and data set registries: names, errors, and the per-entry settings the pipelines read.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "data/datasets.h"
#include "methods/image_method.h"
#include "methods/toy_method.h"

namespace scorelab {
namespace {

TEST(ImageMethodRegistry, SameNamesAsTheToyMethodsAndAClearErrorOtherwise) {
  EXPECT_EQ(image_method_names(), (std::vector<std::string>{"ar", "smoothed-ar", "ncsn", "ddpm"}));
  auto toy = toy_method_registry().names();
  auto image = image_method_names();
  std::sort(toy.begin(), toy.end());
  std::sort(image.begin(), image.end());
  EXPECT_EQ(toy, image);
  try {
    image_method("foo");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("flag --method: got 'foo'; expected one of ar, smoothed-ar, ncsn, ddpm"),
              std::string::npos)
        << e.what();
  }
}

TEST(ImageMethodRegistry, SamplersFollowWhatEachMethodOffers) {
  for (const auto& m : image_methods()) {
    if (m->default_sampler().empty()) {
      EXPECT_TRUE(m->likelihood()) << m->name() << ": only the pixel-by-pixel models have no sampler";
      continue;
    }
    EXPECT_TRUE(sampler_fits(m->default_sampler(), m->offered())) << m->name();
    for (const char* s : {"pc", "ode", "edm"}) EXPECT_TRUE(sampler_fits(s, m->offered())) << m->name() << " " << s;
    EXPECT_FALSE(sampler_fits("mala", m->offered())) << m->name() << ": a score-only model has no log-density";
  }
  EXPECT_FALSE(sampler_fits("ddim", image_method("ncsn").offered()));
  EXPECT_TRUE(sampler_fits("ddim", image_method("ddpm").offered()));
  EXPECT_EQ(image_method("smoothed-ar").max_stage(), 2);
  EXPECT_TRUE(image_method("ddpm").supports_hybrid());
  EXPECT_FALSE(image_method("ncsn").supports_hybrid());
}

TEST(ImageDatasetRegistry, EntriesHoldEveryPerDatasetDefault) {
  EXPECT_EQ(image_dataset("mnist").channels, 1);
  EXPECT_EQ(image_dataset("fashion-mnist").size, 28);
  EXPECT_EQ(image_dataset("cifar10").channels, 3);
  EXPECT_EQ(image_dataset("cifar10").size, 32);
  EXPECT_DOUBLE_EQ(image_dataset("mnist").smoothing_sigma, 0.5);
  EXPECT_DOUBLE_EQ(image_dataset("cifar10").smoothing_sigma, 0.3);
  EXPECT_EQ(image_dataset("cifar10").ncsn_paper_levels, 232);
  EXPECT_DOUBLE_EQ(image_dataset("cifar10").bisection.bound, bisection_cifar10().bound);
  EXPECT_DOUBLE_EQ(image_dataset("mnist").bisection.bound, bisection_mnist().bound);
  EXPECT_EQ(image_dataset("cifar10").classifier_arch, "resnet");
  EXPECT_TRUE(is_image_dataset("fashion-mnist"));
  EXPECT_FALSE(is_image_dataset("mog"));
  try {
    image_dataset("svhn");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("flag --dataset: got 'svhn'; expected one of mnist, fashion-mnist, cifar10"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace scorelab
