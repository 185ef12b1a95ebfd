// Issue 15, latent interpolation: slerp and the decoded endpoints.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/runtime.h"
#include "methods/image_train.h"
#include "methods/interpolate.h"
#include "support/fake_mnist.h"
#include "support/tiny_image.h"
#include "support/trainer_fixture.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

TEST(Interpolate, SlerpKeepsTheEndpointsAndTheNormOfOrthogonalNoises) {
  auto gen = make_generator(1);
  const at::Tensor a = torch::randn({3, 1, 4, 4}, gen), b = torch::randn({3, 1, 4, 4}, gen);
  EXPECT_TRUE(torch::equal(slerp(a, b, 0.0), a));
  EXPECT_TRUE(torch::equal(slerp(a, b, 1.0), b));
  // Orthogonal rows of equal norm: every point of the arc has that norm (the linear midpoint has 1 / sqrt 2 of it).
  const at::Tensor u = torch::tensor({{3.0, 0.0}}), v = torch::tensor({{0.0, 3.0}});
  for (double alpha : {0.25, 0.5, 0.9}) EXPECT_NEAR(slerp(u, v, alpha).norm().item<double>(), 3.0, 1e-5) << alpha;
  EXPECT_NEAR(slerp(u, v, 0.5)[0][0].item<double>(), 3.0 / std::sqrt(2.0), 1e-5);
  // Parallel rows: the linear path (no division by sin 0).
  const at::Tensor p = slerp(u, 2 * u, 0.5);
  EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  EXPECT_NEAR(p[0][0].item<double>(), 4.5, 1e-5);
  const at::Tensor frames = interpolation_latents(a, b, 5, "slerp");
  EXPECT_EQ(frames.size(0), 15);
  EXPECT_TRUE(torch::equal(frames[0], a[0]));
  EXPECT_TRUE(torch::equal(frames[4], b[0]));
  EXPECT_TRUE(torch::equal(frames[5], a[1]));
}

// The frames' first and last columns are the endpoints' own samples (decoded alone, with another generator), for
// DDIM on a ddpm model and the probability-flow ODE on an ncsn model; a stochastic sampler is refused.
TEST(Interpolate, EndpointsDecodeToTheEndpointsSamples) {
  const std::string data = test_support::fake_mnist(16, 8, "interpolate");
  for (const auto& [method, sampler] : {std::pair<std::string, std::string>{"ddpm", ""}, {"ncsn", ""}, {"ddpm", "ode"}}) {
    const std::string model = test_support::fresh_path("interp-model-" + method + sampler);
    run_image_train(test_support::tiny_train_config(method, data, 2, 4), model, "train --test");
    InterpolateConfig c;
    c.model_dir = model;
    c.pairs = 2;
    c.points = 4;
    c.runtime.threads = 1;
    c.sampling.sampler = sampler;
    c.sampling.sampling.ddim_steps = 3;  // also the ODE's steps
    c.sampling.sampling.ode_solver = "heun";  // fixed steps: the same whatever the batch
    const std::string out = test_support::fresh_path("interp-" + method + sampler);
    const nlohmann::json m = run_interpolate(c, out, "interpolate --test");
    EXPECT_LT(m["endpoint_max_abs_diff"].get<double>(), 1e-4) << method << " " << sampler;
    EXPECT_TRUE(fs::exists(fs::path(out) / "interpolation.png"));
    EXPECT_EQ(m["path_length_rms"].size(), 2u);
    // The frames between the endpoints are other images: the decoded path has length (two points alone would not).
    for (size_t i = 0; i < 2; ++i) EXPECT_GT(m["path_length_rms"][i].get<double>(), 0.0);
    if (method == "ddpm" && sampler.empty()) {
      c.sampling.sampling.eta = 1.0;  // DDIM with eta 1 draws fresh noise at every step
      try {
        run_interpolate(c, test_support::fresh_path("interp-bad"), "interpolate --test");
        ADD_FAILURE() << "a stochastic sampler was accepted";
      } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("--sampler: got 'ddim'; expected a deterministic sampler"), std::string::npos) << e.what();
      }
    }
  }
}

// A class-conditional model interpolates its marginal (the null label of --label-dropout); without one it is refused.
TEST(Interpolate, ConditionalModelsNeedANullLabel) {
  const std::string data = test_support::fake_mnist(16, 8, "interpolate");
  for (double dropout : {0.2, 0.0}) {
    ImageTrainConfig t = test_support::tiny_train_config("ddpm", data, 1, 4);
    t.condition = "class";
    t.label_dropout = dropout;
    const std::string model = test_support::fresh_path("interp-cond-" + std::to_string(dropout));
    run_image_train(t, model, "train --test");
    InterpolateConfig c;
    c.model_dir = model;
    c.pairs = 1;
    c.points = 3;
    c.runtime.threads = 1;
    c.sampling.sampling.ddim_steps = 3;
    const std::string out = test_support::fresh_path("interp-cond-out");
    if (dropout > 0) {
      EXPECT_LT(run_interpolate(c, out, "interpolate --test")["endpoint_max_abs_diff"].get<double>(), 1e-4);
    } else {
      EXPECT_THROW(run_interpolate(c, out, "interpolate --test"), ConfigError);
    }
  }
}

}  // namespace
}  // namespace scorelab
