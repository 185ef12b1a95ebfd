#include <gtest/gtest.h>
#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "methods/toy_lab.h"

namespace scorelab {
namespace {

ToyLabConfig tiny(const std::string& methods) {
  ToyLabConfig c;
  c.methods = methods;
  c.samples = 300;
  c.test_size = 200;
  c.no_plots = true;
  c.runtime.threads = 1;
  c.runtime.device = "cpu";
  c.method.hidden = 16;
  c.method.depth = 2;
  c.method.mixtures = 4;
  c.method.timesteps = 50;
  c.method.sampling.steps_per_level = 5;
  c.method.sampling.ddim_steps = 5;
  c.method.train.iters = 20;
  c.method.train.batch_size = 64;
  c.method.train.quiet = true;
  return c;
}

std::string fresh_dir(const std::string& name) {
  auto d = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(d);
  return d.string();
}

nlohmann::json strip_timing(nlohmann::json j) {
  for (auto& [k, m] : j["methods"].items()) {
    m.erase("train_s");
    m.erase("sample_s");
    if (m.contains("training"))
      for (auto& [n, t] : m["training"].items()) t.erase("seconds");
    if (m.contains("likelihoods"))
      for (auto& [n, l] : m["likelihoods"].items()) l.erase("seconds");
  }
  return j;
}

TEST(ToyLab, EveryMethodReportsEveryMetric) {
  const auto out = fresh_dir("toy-all");
  auto metrics = run_toy_compare(tiny("all"), out, "compare --test");
  for (const std::string m : {"ar", "smoothed-ar", "ncsn", "ddpm"}) {
    ASSERT_TRUE(metrics["methods"].contains(m)) << m;
    for (const std::string k : {"mmd2", "mode_tv", "off_mode", "true_logp", "test_nll", "train_s", "sample_s"})
      EXPECT_TRUE(metrics["methods"][m].contains(k)) << m << " lacks " << k;
  }
  EXPECT_TRUE(metrics["methods"]["ar"]["test_nll"].is_number());
  EXPECT_TRUE(metrics["methods"]["smoothed-ar"]["test_nll"].is_number());
  // Every method has a likelihood of a stated kind (issue 12): ddpm both its bound and the ODE.
  EXPECT_TRUE(metrics["methods"]["ncsn"]["test_nll"].is_number());
  EXPECT_TRUE(metrics["methods"]["ddpm"]["test_nll"].is_number());
  for (const std::string m : {"ar", "smoothed-ar", "ncsn", "ddpm"}) {
    ASSERT_TRUE(metrics["methods"][m].contains("likelihoods")) << m;
    EXPECT_TRUE(metrics["methods"][m].contains("test_nll_kind")) << m;
    for (auto& [kind, l] : metrics["methods"][m]["likelihoods"].items()) {
      EXPECT_TRUE(l["nll"].is_number()) << m << " " << kind;
      EXPECT_TRUE(l["se"].is_number()) << m << " " << kind;
      EXPECT_GE(l["nfe"].get<double>(), 1.0) << m << " " << kind;
      EXPECT_TRUE(l.contains("kind")) << m << " " << kind;
    }
  }
  EXPECT_TRUE(metrics["methods"]["ddpm"]["likelihoods"].contains("bound"));
  EXPECT_TRUE(metrics["methods"]["ddpm"]["likelihoods"].contains("ode"));
  EXPECT_TRUE(metrics["methods"]["ncsn"]["likelihoods"].contains("ode"));
  EXPECT_TRUE(metrics["methods"].contains("smoothed-ar/single-step"));
  for (const std::string f : {"report.md", "metrics.json", "config.json"})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(out) / f)) << f;
  EXPECT_EQ(read_run_metrics(out), metrics);
  EXPECT_NE(read_file(out + "/report.md").find("compare --test"), std::string::npos);
}

TEST(ToyLab, SameSeedSameNumbers) {
  auto c = tiny("smoothed-ar,ddpm");
  auto a = run_toy_compare(c, fresh_dir("toy-seed-a"), "x");
  auto b = run_toy_compare(c, fresh_dir("toy-seed-b"), "x");
  EXPECT_EQ(strip_timing(a).dump(), strip_timing(b).dump());
  c.runtime.seed = 1;
  auto other = run_toy_compare(c, fresh_dir("toy-seed-c"), "x");
  EXPECT_NE(strip_timing(a).dump(), strip_timing(other).dump());
}

TEST(ToyLab, ExactScoreNcsnNeedsNoTraining) {
  auto c = tiny("ncsn");
  c.dataset = "mog-1d";
  c.method.score = "exact";
  auto m = run_toy_compare(c, fresh_dir("toy-exact"), "x");
  EXPECT_EQ(m["methods"]["ncsn"]["train_s"].get<double>(), 0.0);
  // The ODE with the exact score and prior gives the exact model's likelihood: the true entropy of the test
  // draws, up to the sigma_min = 0.01 smoothing of the data (mode std 0.05) and the solver tolerance.
  EXPECT_NEAR(m["methods"]["ncsn"]["test_nll"].get<double>(), m["reference"]["test_nll"].get<double>(), 0.02);
}

TEST(ToyLabConfig, ValidationNamesTheFlag) {
  auto expect_flag = [](ToyLabConfig c, const std::string& flag) {
    try {
      c.validate();
      ADD_FAILURE() << "no error for " << flag;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  auto c = tiny("ar");
  c.method.sigma = -0.5;
  expect_flag(c, "--sigma");
  c = tiny("ar");
  c.method.train.lr = std::nan("");
  expect_flag(c, "--lr");
  c = tiny("ar");
  c.method.train.batch_size = 0;
  expect_flag(c, "--batch-size");
  c = tiny("ar");
  c.method.sampling.ddim_steps = 0;
  expect_flag(c, "--steps");
  c = tiny("ar");
  c.method.denoise = "magic";
  expect_flag(c, "--denoise");
  c = tiny("nope");
  expect_flag(c, "method");
  c = tiny("ar");
  c.dataset = "cifar11";
  expect_flag(c, "dataset");
  c = tiny("ar");
  c.runtime.device = "tpu";
  expect_flag(c, "--device");
}

TEST(Cli, ConfigFileValuesAndErrors) {
  namespace po = boost::program_options;
  const auto dir = fresh_dir("cli");
  std::filesystem::create_directories(dir);
  auto parse = [&](const std::string& file_text, std::vector<const char*> extra) {
    std::ofstream(dir + "/run.cfg") << file_text;
    ToyLabConfig c;
    po::options_description desc;
    c.add_options(desc);
    po::variables_map vm;
    std::string cfg = "--config=" + dir + "/run.cfg";
    std::vector<const char*> argv{"compare", cfg.c_str()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    parse_cli(static_cast<int>(argv.size()), argv.data(), desc, vm, "usage");
    return c;
  };
  auto c = parse("sigma = 0.25\nmethod = ncsn\n", {"--sigma=0.5"});
  EXPECT_EQ(c.methods, "ncsn");
  EXPECT_DOUBLE_EQ(c.method.sigma, 0.5);  // the command line wins
  try {
    parse("sigmaa = 0.25\n", {});
    ADD_FAILURE() << "unknown key accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("sigmaa"), std::string::npos) << e.what();
  }
  try {
    parse("sigma = abc\n", {});
    ADD_FAILURE() << "bad type accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("sigma"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scorelab
