#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/runtime.h"
#include "support/trainer_fixture.h"
#include "train/trainer.h"

namespace scorelab {
namespace {

using test_support::flat_params;

std::shared_ptr<torch::nn::Linear> make_model() { return test_support::seeded_linear(3); }
// Regression on a fixed linear target with fresh random inputs every step.
std::function<at::Tensor(int64_t, at::Generator&)> loss_of(torch::nn::Linear& model) {
  return test_support::regression_loss(model, 16, 0.3);
}
TrainConfig config(int64_t iters) { return test_support::quiet_config(iters); }
at::Tensor flat(torch::nn::Module& m) { return flat_params(m); }
std::string temp_path(const std::string& name) { return test_support::fresh_path(name); }

TEST(Trainer, LearnsAndWritesLogAndCheckpoint) {
  auto model = make_model();
  const auto ckpt = temp_path("fit.ckpt"), log = temp_path("fit.csv");
  Trainer trainer("fit", model->ptr(), config(300), ckpt, log);
  auto gen = make_generator(1);
  auto result = trainer.fit(loss_of(*model), gen);
  EXPECT_EQ(result.iters_done, 300);
  EXPECT_LT(result.final_loss, 1e-3);
  EXPECT_TRUE(std::filesystem::exists(ckpt));
  std::ifstream in(log);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "iter,loss,lr,seconds");
  trainer.use_ema_weights();
  EXPECT_NEAR((*model)->bias.item<double>(), 0.3, 0.05);
}

// Interrupted at iteration 25 (a checkpoint every 5) and resumed: parameters, EMA, optimiser state, lr
// schedule and generator all continue, so the result is bit-identical to an uninterrupted run.
TEST(Trainer, ResumeContinuesBitIdentically) {
  for (const std::string schedule : {"constant", "cosine", "exp"}) {
    auto c = config(40);
    c.lr_schedule = schedule;
    c.lr_decay = 0.99;
    auto straight = make_model();
    {
      Trainer t("straight", straight->ptr(), c);
      auto gen = make_generator(5);
      t.fit(loss_of(*straight), gen);
      t.use_ema_weights();
    }
    const auto ckpt = temp_path("resume.ckpt");
    auto first = make_model();
    {
      auto gen = make_generator(5);
      int64_t calls = 0;
      auto loss = loss_of(*first);
      try {
        c.checkpoint_every = 5;
        Trainer t2("part", first->ptr(), c, ckpt, "", "fp");
        t2.fit([&](int64_t it, at::Generator& g) {
          if (++calls > 27) throw std::runtime_error("interrupted");
          return loss(it, g);
        }, gen);
      } catch (const std::runtime_error&) {
      }
      c.checkpoint_every = 0;
    }
    auto resumed = make_model();
    auto rc = c;
    rc.resume = true;
    Trainer t("resumed", resumed->ptr(), rc, ckpt, "", "fp");
    auto other_gen = make_generator(999);  // the generator state comes from the checkpoint
    auto result = t.fit(loss_of(*resumed), other_gen);
    t.use_ema_weights();
    EXPECT_TRUE(result.resumed);
    EXPECT_TRUE(torch::equal(flat(**straight), flat(**resumed))) << schedule;
  }
}

TEST(Trainer, ResumeRefusesACheckpointFromOtherSettings) {
  const auto ckpt = temp_path("other.ckpt");
  auto model = make_model();
  {
    Trainer t("a", model->ptr(), config(3), ckpt, "", "sigma=0.3");
    auto gen = make_generator(1);
    t.fit(loss_of(*model), gen);
  }
  auto c = config(5);
  c.resume = true;
  Trainer t("a", model->ptr(), c, ckpt, "", "sigma=0.5");
  auto gen = make_generator(1);
  try {
    t.fit(loss_of(*model), gen);
    FAIL() << "a checkpoint with other settings was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("different settings"), std::string::npos) << e.what();
  }
}

TEST(Trainer, TruncatedCheckpointIsAClearError) {
  const auto ckpt = temp_path("trunc.ckpt");
  auto model = make_model();
  {
    Trainer t("a", model->ptr(), config(3), ckpt);
    auto gen = make_generator(1);
    t.fit(loss_of(*model), gen);
  }
  std::filesystem::resize_file(ckpt, std::filesystem::file_size(ckpt) / 2);
  auto c = config(5);
  c.resume = true;
  Trainer t("a", model->ptr(), c, ckpt);
  auto gen = make_generator(1);
  try {
    t.fit(loss_of(*model), gen);
    FAIL() << "a truncated checkpoint was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("trunc.ckpt"), std::string::npos) << e.what();
  }
}

TEST(Trainer, NonFiniteLossStopsWithTheIteration) {
  auto model = make_model();
  auto c = config(10);
  Trainer t("nan", model->ptr(), c);
  auto gen = make_generator(1);
  try {
    t.fit([&](int64_t it, at::Generator&) { return (*model)->weight.sum() * (it >= 4 ? NAN : 1.0); }, gen);
    FAIL() << "NaN loss accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("iteration 5"), std::string::npos) << e.what();
  }
}

TEST(TrainConfig, ValidationNamesTheFlag) {
  auto c = config(10);
  c.lr_schedule = "warp";
  EXPECT_THROW(c.validate(), ConfigError);
  c = config(10);
  c.ema = 1.5;
  EXPECT_THROW(c.validate(), ConfigError);
}

}  // namespace
}  // namespace scorelab

#include "core/params_io.h"
#include "train/ema.h"

namespace scorelab {
namespace {

// shadow_k = d^k p_0 + (1 - d) sum_j d^(k - j) p_j for a known parameter sequence p_j.
TEST(Ema, FollowsTheRecurrenceAndCopiesBack) {
  auto p = torch::zeros({2}, torch::kFloat64);
  const double d = 0.9;
  Ema ema({p}, d);
  double expected = 0.0;
  for (int k = 1; k <= 5; ++k) {
    p.fill_(static_cast<double>(k));
    ema.update();
    expected = d * expected + (1 - d) * k;
  }
  EXPECT_NEAR(ema.shadow()[0][0].item<double>(), expected, 1e-12);
  ema.copy_to_params();
  EXPECT_NEAR(p[1].item<double>(), expected, 1e-12);
  EXPECT_THROW(Ema({p}, 1.0), c10::Error);
}

TEST(ParamsIo, ExportRoundTripsBitExactlyAndDigestTracksWeights) {
  auto a = make_model();
  const auto path = temp_path("state.pt");
  export_state_dict(**a, path);
  torch::manual_seed(42);
  auto b = std::make_shared<torch::nn::Linear>(torch::nn::LinearOptions(3, 1));
  EXPECT_NE(params_sha256(**a), params_sha256(**b));
  import_state_dict(**b, path);
  EXPECT_TRUE(torch::equal(flat(**a), flat(**b)));
  EXPECT_EQ(params_sha256(**a), params_sha256(**b));
  EXPECT_EQ(params_sha256(**a).size(), 64u);
  auto wrong = std::make_shared<torch::nn::Linear>(torch::nn::LinearOptions(4, 1));
  EXPECT_THROW(import_state_dict(**wrong, path), DataError);
}

// Python's torch.load (Debian's python3-torch on /usr/bin/python3) reads the export with identical values.
TEST(ParamsIo, PythonTorchLoadReadsTheExport) {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-torch is not installed (scripts/setup installs it)";
  auto a = make_model();
  const auto path = temp_path("py.pt");
  export_state_dict(**a, path);
  const auto out = temp_path("py.txt");
  const std::string cmd = "/usr/bin/python3 -c \"import torch; d = torch.load('" + path +
                          "'); print(sorted(d)); print(repr(d['weight'].double().flatten().tolist())); "
                          "print(repr(d['bias'].double().tolist()))\" > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string keys, weight, bias;
  std::getline(in, keys);
  std::getline(in, weight);
  std::getline(in, bias);
  EXPECT_EQ(keys, "['bias', 'weight']");
  auto wt = (*a)->weight.detach().to(torch::kFloat64).flatten();
  // Python prints the shortest repr; compare numerically instead of textually.
  std::vector<double> parsed;
  std::stringstream ss(weight.substr(1, weight.size() - 2));
  for (std::string tok; std::getline(ss, tok, ',');) parsed.push_back(std::stod(tok));
  ASSERT_EQ(static_cast<int64_t>(parsed.size()), wt.numel());
  for (int64_t i = 0; i < wt.numel(); ++i) EXPECT_EQ(parsed[static_cast<size_t>(i)], wt[i].item<double>());
}

}  // namespace
}  // namespace scorelab
