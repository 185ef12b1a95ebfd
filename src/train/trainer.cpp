#include "train/trainer.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <torch/torch.h>
#include <ATen/CPUGeneratorImpl.h>

#include "core/cli.h"
#include "core/error.h"
#include "train/ema.h"

namespace po = boost::program_options;

namespace scorelab {

void TrainConfig::add_options(po::options_description& desc) {
  desc.add_options()
      ("iters", po::value(&iters)->default_value(iters), "training iterations per model")
      ("batch-size", po::value(&batch_size)->default_value(batch_size), "examples per batch")
      ("lr", po::value(&lr)->default_value(lr), "Adam learning rate")
      ("lr-schedule", po::value(&lr_schedule)->default_value(lr_schedule), "constant | exp (x lr-decay per iteration) | cosine")
      ("lr-decay", po::value(&lr_decay)->default_value(lr_decay), "per-iteration decay of the exp schedule")
      ("ema", po::value(&ema)->default_value(ema), "EMA decay of the parameters used for sampling (0: off)")
      ("grad-clip", po::value(&grad_clip)->default_value(grad_clip), "clip the global gradient norm (0: off)")
      ("budget-minutes", po::value(&budget_minutes)->default_value(budget_minutes), "stop training a model after this many minutes (0: no limit)")
      ("checkpoint-every", po::value(&checkpoint_every)->default_value(checkpoint_every), "write a checkpoint every N iterations (0: only at the end)")
      ("resume", po::bool_switch(&resume), "continue from the checkpoints in the output folder")
      ("quiet", po::bool_switch(&quiet), "no progress line");
}

void TrainConfig::validate() const {
  if (iters < 0) throw ConfigError(flag_error("--iters", std::to_string(iters), "an integer >= 0"));
  if (batch_size < 1) throw ConfigError(flag_error("--batch-size", std::to_string(batch_size), "an integer >= 1"));
  require_positive("--lr", lr);
  require_one_of("--lr-schedule", lr_schedule, {"constant", "exp", "cosine"});
  if (!(lr_decay > 0 && lr_decay <= 1))
    throw ConfigError(flag_error("--lr-decay", std::to_string(lr_decay), "a factor in (0, 1]"));
  require_range("--ema", ema, 0.0, 0.999999999);
  require_nonnegative("--grad-clip", grad_clip);
  require_nonnegative("--budget-minutes", budget_minutes);
  if (checkpoint_every < 0) throw ConfigError(flag_error("--checkpoint-every", std::to_string(checkpoint_every), "an integer >= 0"));
}

struct Trainer::State {
  std::unique_ptr<torch::optim::Adam> optimizer;
  std::vector<at::Tensor> params;
  std::unique_ptr<Ema> ema;  // when config.ema > 0
};

Trainer::Trainer(std::string name, std::shared_ptr<torch::nn::Module> module, TrainConfig config,
                 std::string checkpoint_path, std::string log_path, std::string fingerprint)
    : name_(std::move(name)),
      module_(std::move(module)),
      config_(std::move(config)),
      checkpoint_path_(std::move(checkpoint_path)),
      log_path_(std::move(log_path)),
      fingerprint_(std::move(fingerprint)),
      state_(std::make_unique<State>()) {
  config_.validate();
  state_->params = module_->parameters();
  state_->optimizer = std::make_unique<torch::optim::Adam>(state_->params, torch::optim::AdamOptions(config_.lr));
  if (config_.ema > 0) state_->ema = std::make_unique<Ema>(state_->params, config_.ema);
}

Trainer::~Trainer() = default;

double Trainer::lr_at(int64_t iter) const {
  if (config_.lr_schedule == "exp") return config_.lr * std::pow(config_.lr_decay, static_cast<double>(iter));
  if (config_.lr_schedule == "cosine" && config_.iters > 0)
    return config_.lr * 0.5 * (1 + std::cos(M_PI * static_cast<double>(iter) / static_cast<double>(config_.iters)));
  return config_.lr;
}

void Trainer::save_checkpoint(int64_t iter, at::Generator& gen) {
  if (checkpoint_path_.empty()) return;
  torch::serialize::OutputArchive archive;
  archive.write("format", torch::tensor(std::vector<int64_t>{1}));
  archive.write("iter", torch::tensor(std::vector<int64_t>{iter}));
  archive.write("rng", gen.get_state());
  archive.write("global_rng", at::detail::getDefaultCPUGenerator().get_state());
  for (const auto& [name, g] : extra_generators_) archive.write("rng_" + name, g.get_state());
  archive.write("fingerprint", torch::tensor(std::vector<uint8_t>(fingerprint_.begin(), fingerprint_.end()), torch::kUInt8));
  torch::serialize::OutputArchive model_archive, optim_archive, ema_archive;
  module_->save(model_archive);
  state_->optimizer->save(optim_archive);
  if (state_->ema)
    for (size_t i = 0; i < state_->ema->shadow().size(); ++i) ema_archive.write(std::to_string(i), state_->ema->shadow()[i]);
  archive.write("model", model_archive);
  archive.write("optimizer", optim_archive);
  archive.write("ema", ema_archive);
  const std::string tmp = checkpoint_path_ + ".tmp." + std::to_string(::getpid());
  try {
    archive.save_to(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    throw DataError("cannot write checkpoint '" + checkpoint_path_ + "': " + e.what());
  }
  if (std::rename(tmp.c_str(), checkpoint_path_.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw DataError("cannot write checkpoint '" + checkpoint_path_ + "': rename failed");
  }
}

int64_t Trainer::load_checkpoint(at::Generator& gen) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(checkpoint_path_);
    torch::serialize::InputArchive model_archive, optim_archive, ema_archive;
    at::Tensor iter, rng;
    at::Tensor fp;
    archive.read("iter", iter);
    archive.read("rng", rng);
    archive.read("fingerprint", fp);
    fp = fp.contiguous();
    const std::string stored(reinterpret_cast<const char*>(fp.data_ptr<uint8_t>()), static_cast<size_t>(fp.numel()));
    if (stored != fingerprint_)
      throw DataError("checkpoint '" + checkpoint_path_ + "' was written by " + name_ +
                      " with different settings; delete it, use another --out, or rerun with the original flags");
    archive.read("model", model_archive);
    archive.read("optimizer", optim_archive);
    module_->load(model_archive);
    state_->optimizer->load(optim_archive);
    if (state_->ema) {
      archive.read("ema", ema_archive);
      torch::NoGradGuard ng;
      for (size_t i = 0; i < state_->ema->shadow().size(); ++i) {
        at::Tensor t;
        ema_archive.read(std::to_string(i), t);
        state_->ema->shadow()[i].copy_(t);
      }
    }
    gen.set_state(rng);
    at::Tensor state;
    if (archive.try_read("global_rng", state)) {
      at::Generator global = at::detail::getDefaultCPUGenerator();
      global.set_state(state);
    }
    for (auto& [name, g] : extra_generators_)
      if (archive.try_read("rng_" + name, state)) g.set_state(state);
    return iter.item<int64_t>();
  } catch (const c10::Error& e) {
    throw DataError("checkpoint '" + checkpoint_path_ + "' cannot be loaded for " + name_ +
                    " (truncated, or written by another model or configuration): " + e.what_without_backtrace() +
                    "; delete it or run without --resume");
  }
}

TrainResult Trainer::fit(const std::function<at::Tensor(int64_t, at::Generator&)>& loss_fn, at::Generator& gen) {
  TrainResult result;
  int64_t start = 0;
  if (config_.resume && !checkpoint_path_.empty() && std::filesystem::exists(checkpoint_path_)) {
    start = load_checkpoint(gen);
    result.resumed = true;
  }
  std::ofstream log;
  if (!log_path_.empty()) {
    log.open(log_path_, start > 0 ? std::ios::app : std::ios::trunc);
    if (!log) throw DataError("cannot write the loss log '" + log_path_ + "'");
    if (start == 0) log << "iter,loss,lr,seconds\n";
  }
  module_->train();
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto last_print = t0;
  const bool tty = ::isatty(::fileno(stderr));
  const int64_t log_every = std::max<int64_t>(1, config_.iters / 200);
  std::ofstream eval_log;
  if (hooks_.evaluate && !hooks_.eval_log_path.empty()) {
    eval_log.open(hooks_.eval_log_path, start > 0 ? std::ios::app : std::ios::trunc);
    if (!eval_log) throw DataError("cannot write the test log '" + hooks_.eval_log_path + "'");
    if (start == 0) eval_log << "iter,test_loss,seconds\n";
  }
  double last_eval = std::nan("");
  double eval_seconds = 0.0;  // excluded from the training rate
  auto run_eval = [&](int64_t iter) {
    const auto e0 = Clock::now();
    module_->eval();
    {
      torch::NoGradGuard ng;
      last_eval = hooks_.evaluate();
    }
    module_->train();
    result.eval_curve.emplace_back(static_cast<double>(iter), last_eval);
    if (eval_log)
      eval_log << iter << "," << last_eval << "," << std::chrono::duration<double>(Clock::now() - t0).count() << std::endl;
    eval_seconds += std::chrono::duration<double>(Clock::now() - e0).count();
  };
  double running = 0.0;
  int64_t running_n = 0;
  int64_t it = start;
  for (; it < config_.iters; ++it) {
    const double lr = lr_at(it);
    for (auto& group : state_->optimizer->param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    state_->optimizer->zero_grad();
    at::Tensor loss = loss_fn(it, gen);
    loss.backward();
    if (config_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(state_->params, config_.grad_clip);
    state_->optimizer->step();
    if (state_->ema) state_->ema->update();
    const bool log_now = (it + 1) % log_every == 0 || it + 1 == config_.iters;
    if (log_now) {
      const double value = loss.item<double>();
      if (!std::isfinite(value))
        throw std::runtime_error(name_ + ": loss is not finite at iteration " + std::to_string(it + 1) +
                                 "; lower --lr or enable --grad-clip");
      running += value;
      ++running_n;
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      result.loss_curve.emplace_back(static_cast<double>(it + 1), value);
      if (log) log << (it + 1) << "," << value << "," << lr << "," << secs << "\n";
      const auto now = Clock::now();
      if (!config_.quiet && (std::chrono::duration<double>(now - last_print).count() > (tty ? 0.5 : 10.0) ||
                             it + 1 == config_.iters)) {
        last_print = now;
        const double rate = static_cast<double>(it + 1 - start) / std::max(secs - eval_seconds, 1e-9);
        const double eta = static_cast<double>(config_.iters - it - 1) / std::max(rate, 1e-9);
        std::string extra;
        char buf[96];
        if (!hooks_.display_unit.empty()) {
          std::snprintf(buf, sizeof buf, " (%.4f %s)", hooks_.display_scale * running / running_n, hooks_.display_unit.c_str());
          extra += buf;
        }
        if (hooks_.images_per_iter > 0) {
          std::snprintf(buf, sizeof buf, "  %.1f img/s", rate * static_cast<double>(hooks_.images_per_iter));
          extra += buf;
        }
        if (std::isfinite(last_eval)) {
          std::snprintf(buf, sizeof buf, "  test %.4f", last_eval);
          extra += buf;
        }
        std::fprintf(stderr, "%s[%s] iter %lld/%lld loss %.4f%s  %.1f it/s  ETA %.0fs%s", tty ? "\r" : "", name_.c_str(),
                     static_cast<long long>(it + 1), static_cast<long long>(config_.iters), running / running_n,
                     extra.c_str(), rate, eta, tty ? "   " : "\n");
        running = 0;
        running_n = 0;
      }
    }
    if (hooks_.evaluate && hooks_.eval_every > 0 && (it + 1) % hooks_.eval_every == 0 && it + 1 < config_.iters)
      run_eval(it + 1);
    if (config_.checkpoint_every > 0 && (it + 1) % config_.checkpoint_every == 0) save_checkpoint(it + 1, gen);
    if (config_.budget_minutes > 0 &&
        std::chrono::duration<double>(Clock::now() - t0).count() > 60.0 * config_.budget_minutes) {
      ++it;
      if (!config_.quiet) std::fprintf(stderr, "%s[%s] budget of %.2f min reached at iteration %lld\n", tty ? "\n" : "",
                                       name_.c_str(), config_.budget_minutes, static_cast<long long>(it));
      break;
    }
  }
  if (!config_.quiet && tty) std::fprintf(stderr, "\n");
  result.iters_done = it;
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (hooks_.images_per_iter > 0 && result.seconds > 0)
    result.images_per_s = static_cast<double>((it - start) * hooks_.images_per_iter) / std::max(result.seconds - eval_seconds, 1e-9);
  result.eval_seconds = eval_seconds;
  save_checkpoint(it, gen);
  if (!result.loss_curve.empty()) {
    const size_t k = std::max<size_t>(1, result.loss_curve.size() / 10);
    double s = 0;
    for (size_t i = result.loss_curve.size() - k; i < result.loss_curve.size(); ++i) s += result.loss_curve[i].second;
    result.final_loss = s / static_cast<double>(k);
  }
  module_->eval();
  return result;
}

void Trainer::use_ema_weights() {
  if (state_->ema) state_->ema->copy_to_params();
}

}  // namespace scorelab
