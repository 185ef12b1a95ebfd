// Fault handling of the trainer: non-finite losses and gradients, SIGTERM / SIGINT, checkpoints from another
// LibTorch, model or of garbage, and the loss log after a resume.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/io.h"
#include "core/runtime.h"
#include "support/trainer_fixture.h"
#include "train/trainer.h"

namespace scorelab {
namespace {

std::shared_ptr<torch::nn::Linear> model_of(int64_t in = 3) { return test_support::seeded_linear(in); }
std::function<at::Tensor(int64_t, at::Generator&)> regression(torch::nn::Linear& model) {
  return test_support::regression_loss(model, 8, 0.0);
}
TrainConfig quiet(int64_t iters) { return test_support::quiet_config(iters); }
at::Tensor flat(torch::nn::Module& m) { return test_support::flat_params(m); }
std::string temp(const std::string& name) { return test_support::fresh_path("faults_" + name); }

template <class E>
std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected exception not thrown";
  return "";
}

// d/dw sqrt(0 * w) = inf * 0 = NaN while the loss itself is 0: only the gradient check catches it.
at::Tensor nan_gradient_loss(torch::nn::Linear& model) { return torch::sqrt(model->weight.sum() * 0.0); }

TEST(TrainerFaults, NonFiniteGradientStopsAndKeepsTheLastGoodCheckpoint) {
  auto model = model_of();
  auto c = quiet(20);
  c.checkpoint_every = 2;
  const auto ckpt = temp("nan_grad.ckpt");
  Trainer t("m", model->ptr(), c, ckpt, "", "fp");
  auto gen = make_generator(1);
  auto loss = regression(*model);
  at::Tensor before_fault;
  const std::string msg = message_of<NumericalError>([&] {
    t.fit([&](int64_t it, at::Generator& g) {
      if (it == 4) before_fault = flat(**model).clone();
      return it >= 4 ? nan_gradient_loss(*model) : loss(it, g);
    }, gen);
  });
  EXPECT_NE(msg.find("non-finite gradient at iteration 5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(iteration 4) is kept"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--skip-nonfinite"), std::string::npos) << msg;
  EXPECT_TRUE(torch::equal(flat(**model), before_fault)) << "the faulty step reached the weights";
  EXPECT_TRUE(torch::isfinite(flat(**model)).all().item<bool>());
  // The kept checkpoint is the one of iteration 4 and loads.
  auto again = model_of();
  auto rc = quiet(4);
  rc.resume = true;
  Trainer r("m", again->ptr(), rc, ckpt, "", "fp");
  auto g2 = make_generator(2);
  auto result = r.fit(regression(*again), g2);
  EXPECT_TRUE(result.resumed);
  EXPECT_EQ(result.iters_done, 4);
}

TEST(TrainerFaults, SkipNonFiniteSkipsUpToNBatchesThenStops) {
  auto model = model_of();
  auto c = quiet(12);
  c.skip_nonfinite = 2;
  auto loss = regression(*model);
  auto bad = [&](std::set<int64_t> at_iters) {
    return [&, at_iters](int64_t it, at::Generator& g) {
      at::Tensor l = loss(it, g);  // draws the batch either way, as a real data loader would
      return at_iters.count(it) ? l * std::numeric_limits<float>::quiet_NaN() : l;
    };
  };
  {
    Trainer t("m", model->ptr(), c);
    auto gen = make_generator(1);
    testing::internal::CaptureStderr();
    auto result = t.fit(bad({3, 7}), gen);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(result.skipped_batches, 2);
    EXPECT_EQ(result.iters_done, 12);
    EXPECT_TRUE(torch::isfinite(flat(**model)).all().item<bool>());
    EXPECT_NE(err.find("iteration 4: non-finite loss, batch skipped (1 of --skip-nonfinite 2)"), std::string::npos) << err;
    EXPECT_NE(err.find("iteration 8: non-finite loss, batch skipped (2 of --skip-nonfinite 2)"), std::string::npos) << err;
  }
  auto other = model_of();
  Trainer t("m", other->ptr(), c);
  auto gen = make_generator(1);
  testing::internal::CaptureStderr();
  const std::string msg = message_of<NumericalError>([&] { t.fit(bad({1, 2, 5}), gen); });
  testing::internal::GetCapturedStderr();
  EXPECT_NE(msg.find("non-finite loss at iteration 6"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no checkpoint was written"), std::string::npos) << msg;
  TrainConfig v = quiet(1);
  v.skip_nonfinite = -1;
  EXPECT_THROW(v.validate(), ConfigError);
}

// SIGTERM / SIGINT arrive while a batch is computed: the loop finishes the step, writes a checkpoint,
// throws TrainingInterrupted; a resume ends bit-identical to an uninterrupted run, log rows included.
TEST(TrainerFaults, SignalWritesACheckpointAndResumeIsBitIdentical) {
  for (int sig : {SIGTERM, SIGINT}) {
    auto c = quiet(30);
    c.lr_schedule = "cosine";
    auto straight = model_of();
    const auto straight_log = temp("straight.csv");
    {
      Trainer t("s", straight->ptr(), c, "", straight_log, "fp");
      auto gen = make_generator(5);
      t.fit(regression(*straight), gen);
      t.use_ema_weights();
    }
    const auto ckpt = temp("sig.ckpt"), log = temp("sig.csv");
    auto first = model_of();
    c.checkpoint_every = 4;
    // The disposition before fit (SIG_DFL, or SIG_IGN when the tests run as a background job).
    struct sigaction before {};
    sigaction(sig, nullptr, &before);
    {
      Trainer t("part", first->ptr(), c, ckpt, log, "fp");
      auto gen = make_generator(5);
      auto loss = regression(*first);
      const std::string msg = message_of<TrainingInterrupted>([&] {
        t.fit([&](int64_t it, at::Generator& g) {
          if (it == 10) std::raise(sig);
          return loss(it, g);
        }, gen);
      });
      EXPECT_NE(msg.find(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + " at iteration 11 of 30"), std::string::npos)
          << msg;
      EXPECT_NE(msg.find("--resume"), std::string::npos) << msg;
    }
    // The handlers are uninstalled after fit: the previous disposition is back.
    struct sigaction now {};
    sigaction(sig, nullptr, &now);
    EXPECT_EQ(now.sa_handler, before.sa_handler);
    auto resumed = model_of();
    c.resume = true;
    Trainer t("part", resumed->ptr(), c, ckpt, log, "fp");
    auto gen = make_generator(77);
    auto result = t.fit(regression(*resumed), gen);
    t.use_ema_weights();
    EXPECT_TRUE(result.resumed);
    EXPECT_TRUE(torch::equal(flat(**straight), flat(**resumed)));
    auto rows = [](const std::string& path) {
      std::istringstream in(read_file(path));
      std::string line, out;
      while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";  // drop the seconds column
      return out;
    };
    EXPECT_EQ(rows(straight_log), rows(log));
  }
}

// A resume after a kill between checkpoints: rows logged past the checkpoint (and a row cut short) are dropped,
// and so is a temporary file of a checkpoint save that the kill interrupted.
TEST(TrainerFaults, ResumeDropsLogRowsPastTheCheckpointAndStaleTemporaries) {
  auto model = model_of();
  auto c = quiet(6);
  const auto ckpt = temp("rows.ckpt"), log = temp("rows.csv");
  {
    Trainer t("m", model->ptr(), c, ckpt, log, "fp");
    auto gen = make_generator(1);
    t.fit(regression(*model), gen);
  }
  {
    std::ofstream app(log, std::ios::app);
    app << "7,0.5,0.05,1.0\n8,0.4,0.05,1.1\n9,0.";
    std::ofstream(ckpt + ".tmp.123.0") << "half a checkpoint";  // left by a kill during a save
  }
  c.iters = 8;
  c.resume = true;
  Trainer t("m", model->ptr(), c, ckpt, log, "fp");
  auto gen = make_generator(1);
  t.fit(regression(*model), gen);
  std::istringstream in(read_file(log));
  std::vector<std::string> iters;
  for (std::string line; std::getline(in, line);) iters.push_back(line.substr(0, line.find(',')));
  EXPECT_EQ(iters, (std::vector<std::string>{"iter", "1", "2", "3", "4", "5", "6", "7", "8"}));
  EXPECT_FALSE(std::filesystem::exists(ckpt + ".tmp.123.0"));
}

TEST(TrainerFaults, CheckpointFromAnotherLibTorchIsRefused) {
  torch::serialize::OutputArchive archive;
  archive.write("format", torch::tensor(std::vector<int64_t>{2}));
  const std::string old = "1.4.0";
  archive.write("torch_version", torch::tensor(std::vector<uint8_t>(old.begin(), old.end()), torch::kUInt8));
  std::ostringstream bytes;
  archive.save_to(bytes);
  auto model = model_of();
  Trainer t("m", model->ptr(), quiet(1), "", "", "fp");
  auto gen = make_generator(1);
  const std::string data = bytes.str();
  const std::string msg = message_of<DataError>([&] { t.load_checkpoint_data(data.data(), data.size(), "old.ckpt", gen); });
  EXPECT_NE(msg.find("checkpoint 'old.ckpt' was written with LibTorch 1.4.0, this build uses " TORCH_VERSION),
            std::string::npos) << msg;
  EXPECT_NE(checkpoint_format_tag().find(TORCH_VERSION), std::string::npos);
}

TEST(TrainerFaults, CheckpointOfAnotherModelOrGarbageIsADataError) {
  const auto ckpt = temp("small.ckpt");
  {
    auto model = model_of(3);
    Trainer t("m", model->ptr(), quiet(2), ckpt, "", "fp");
    auto gen = make_generator(1);
    t.fit(regression(*model), gen);
  }
  const std::string bytes = read_file(ckpt);
  auto gen = make_generator(1);
  // Same fingerprint, other shapes (a forged or mislabelled file): the shape check catches it.
  auto wide = model_of(4);
  Trainer w("m", wide->ptr(), quiet(2), "", "", "fp");
  std::string msg = message_of<DataError>([&] { w.load_checkpoint_data(bytes.data(), bytes.size(), "small.ckpt", gen); });
  EXPECT_NE(msg.find("checkpoint 'small.ckpt'"), std::string::npos) << msg;
  EXPECT_EQ(wide->get()->weight.size(1), 4) << msg;
  for (const std::string& junk : {std::string(), std::string("not a zip file"), bytes.substr(0, bytes.size() / 3)}) {
    auto model = model_of(3);
    Trainer t("m", model->ptr(), quiet(2), "", "", "fp");
    msg = message_of<DataError>([&] { t.load_checkpoint_data(junk.data(), junk.size(), "junk.ckpt", gen); });
    EXPECT_NE(msg.find("checkpoint 'junk.ckpt'"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// Regressions (fuzz/fuzz_checkpoint, fuzz/corpus/checkpoint/regression-*): one renamed field in
// the archive's TorchScript code record crashed LibTorch's loader with SIGSEGV. The CRC check refuses it
// first, and so any flipped byte of a real checkpoint.
TEST(TrainerFaults, CorruptCheckpointBytesAreRefusedBeforeLibTorchParsesThem) {
  auto gen = make_generator(1);
  std::string msg;
  // regression-4gib-record: a record claiming 0xFFFFFFFF bytes made LibTorch allocate 4 GiB.
  for (const char* name : {"regression-libtorch-segv", "regression-4gib-record"}) {
    const std::string crash = read_file(std::string(SCORELAB_SOURCE_DIR) + "/fuzz/corpus/checkpoint/" + name);
    torch::manual_seed(0);
    auto fuzz_model = std::make_shared<torch::nn::Linear>(torch::nn::LinearOptions(3, 2));
    Trainer f("fuzz", fuzz_model->ptr(), quiet(2), "", "", "fuzz-fingerprint");
    msg = message_of<DataError>([&] { f.load_checkpoint_data(crash.data(), crash.size(), "crash.ckpt", gen); });
    EXPECT_NE(msg.find("checkpoint 'crash.ckpt' is not a scorelab checkpoint or is truncated or corrupt"), std::string::npos)
        << name << ": " << msg;
  }

  const auto ckpt = temp("flip.ckpt");
  auto model = model_of();
  {
    Trainer t("m", model->ptr(), quiet(2), ckpt, "", "fp");
    t.fit(regression(*model), gen);
  }
  const std::string good = read_file(ckpt);
  Trainer ok("m", model->ptr(), quiet(2), "", "", "fp");
  EXPECT_EQ(ok.load_checkpoint_data(good.data(), good.size(), "good.ckpt", gen), 2);
  // Bytes inside records (the padding between records is outside every CRC and harmless).
  for (size_t at : {good.find("__buffers__"), good.find("pytorch_version"), good.find("class Module")}) {
    ASSERT_NE(at, std::string::npos);
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    Trainer t("m", model->ptr(), quiet(2), "", "", "fp");
    msg = message_of<DataError>([&] { t.load_checkpoint_data(bad.data(), bad.size(), "flip.ckpt", gen); });
    EXPECT_NE(msg.find("checkpoint 'flip.ckpt'"), std::string::npos) << at << ": " << msg;
  }
}

}  // namespace
}  // namespace scorelab
