#include "train/trainer.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <torch/torch.h>
#include <ATen/CPUGeneratorImpl.h>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/runtime.h"
#include "core/zip_check.h"
#include "dist/dist.h"
#include "core/shard.h"
#include "train/ema.h"

namespace po = boost::program_options;

namespace scorelab {

namespace {
constexpr int64_t kCheckpointFormat = 2;  // 2: + torch_version, skipped; 1 had neither
}  // namespace

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
      ("quiet", po::bool_switch(&quiet), "no progress line")
      ("skip-nonfinite", po::value(&skip_nonfinite)->default_value(skip_nonfinite),
       "skip up to N batches whose loss or gradient is not finite (0: stop at the first, keeping the last checkpoint)");
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
  if (skip_nonfinite < 0) throw ConfigError(flag_error("--skip-nonfinite", std::to_string(skip_nonfinite), "an integer >= 0"));
}

std::string checkpoint_format_tag() {
  return "scorelab-checkpoint " + std::to_string(kCheckpointFormat) + ", LibTorch " + TORCH_VERSION;
}

namespace {

// SIGINT / SIGTERM only set this flag (async-signal-safe); the loop checks it once per iteration.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

// Installs the handlers for the duration of fit and restores the previous ones afterwards.
class StopSignalScope {
 public:
  StopSignalScope() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignalScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

at::Tensor bytes_tensor(const std::string& s) {
  return torch::tensor(std::vector<uint8_t>(s.begin(), s.end()), torch::kUInt8);
}

std::string tensor_bytes(at::Tensor t) {
  TORCH_CHECK(t.scalar_type() == torch::kUInt8 && t.dim() == 1, "expected a 1-d uint8 tensor");
  t = t.contiguous();
  return std::string(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()), static_cast<size_t>(t.numel()));
}

// Library messages can span lines and embed the input's bytes; error messages are one short line.
std::string one_line(const std::string& s, size_t max = 160) {
  std::string out;
  for (char c : s.substr(0, s.find("\nException raised from"))) {
    if (out.size() >= max) return out + "...";
    out += (c == '\n' || c == '\r' || static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) ? ' ' : c;
  }
  return out;
}

int64_t scalar_int(const at::Tensor& t) {
  TORCH_CHECK(t.numel() == 1 && t.scalar_type() == torch::kLong, "expected one int64");
  return t.item<int64_t>();
}

// True when every gradient element is finite (one reduction per tensor, in double so that large finite
// gradients do not overflow).
bool gradients_finite(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> sums;
  for (const auto& p : params)
    if (p.grad().defined()) sums.push_back(p.grad().sum(torch::kDouble));
  return sums.empty() || std::isfinite(torch::stack(sums).sum().item<double>());
}

// A run killed while writing a checkpoint leaves PATH.tmp.PID.N behind (the checkpoint itself is intact);
// a resumed run removes them.
void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const std::string prefix = p.filename().string() + ".tmp.";
  std::error_code ec;
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(prefix, 0) == 0) fs::remove(it->path(), ec);
}

// After a resume from iteration `start`, drops the CSV rows of iterations past it (written by the run that
// was interrupted after its last checkpoint), so that the log matches an uninterrupted run.
void truncate_csv_after(const std::string& path, int64_t start) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return;
  std::istringstream in(read_file(path));
  std::string line, kept;
  std::ptrdiff_t fields = -1;  // commas of the header; a row cut short by a kill has fewer
  while (std::getline(in, line)) {
    const auto commas = std::count(line.begin(), line.end(), ',');
    if (fields >= 0) {
      char* end = nullptr;
      const long long iter = std::strtoll(line.c_str(), &end, 10);
      if (end == line.c_str() || *end != ',' || commas != fields || iter > start) continue;
    } else {
      fields = commas;
    }
    kept += line + "\n";
  }
  atomic_write_text(path, kept);
}

at::Tensor curve_tensor(const std::vector<std::pair<double, double>>& curve) {
  std::vector<double> flat;
  for (auto [a, b] : curve) flat.push_back(a), flat.push_back(b);
  return torch::tensor(flat, torch::kFloat64).view({static_cast<int64_t>(curve.size()), 2});
}

std::vector<std::pair<double, double>> tensor_curve(const at::Tensor& t) {
  TORCH_CHECK(t.scalar_type() == torch::kFloat64 && t.dim() == 2 && t.size(1) == 2, "expected a [K, 2] float64 curve");
  std::vector<std::pair<double, double>> curve;
  const at::Tensor c = t.contiguous();
  for (int64_t i = 0; i < c.size(0); ++i) curve.emplace_back(c[i][0].item<double>(), c[i][1].item<double>());
  return curve;
}

}  // namespace

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
  if (dist::active() && config_.batch_size % dist::world_size() != 0)
    throw ConfigError(flag_error("--batch-size", std::to_string(config_.batch_size),
                                 "a global batch that splits evenly over the " + std::to_string(dist::world_size()) +
                                     " data-parallel ranks (a multiple of " + std::to_string(dist::world_size()) + ")"));
  writer_ = dist::rank() == 0;
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

void Trainer::save_checkpoint(int64_t iter, at::Generator& gen, const TrainResult& progress) {
  if (checkpoint_path_.empty()) return;
  // Data parallel: every generator holds the same state on every rank (they draw for the global batch), so
  // rank 0's file is every rank's checkpoint.
  if (!writer_) {
    last_checkpoint_iter_ = iter;
    return;
  }
  torch::serialize::OutputArchive archive;
  archive.write("format", torch::tensor(std::vector<int64_t>{kCheckpointFormat}));
  archive.write("torch_version", bytes_tensor(TORCH_VERSION));
  archive.write("iter", torch::tensor(std::vector<int64_t>{iter}));
  archive.write("skipped", torch::tensor(std::vector<int64_t>{skipped_}));
  archive.write("rng", gen.get_state());
  archive.write("global_rng", at::detail::getDefaultCPUGenerator().get_state());
  for (const auto& [name, g] : extra_generators_) archive.write("rng_" + name, g.get_state());
  archive.write("fingerprint", bytes_tensor(fingerprint_));
  archive.write("loss_curve", curve_tensor(progress.loss_curve));
  archive.write("eval_curve", curve_tensor(progress.eval_curve));
  archive.write("world_size", torch::tensor(std::vector<int64_t>{dist::world_size()}));
  torch::serialize::OutputArchive model_archive, optim_archive, ema_archive;
  module_->save(model_archive);
  state_->optimizer->save(optim_archive);
  if (state_->ema)
    for (size_t i = 0; i < state_->ema->shadow().size(); ++i) ema_archive.write(std::to_string(i), state_->ema->shadow()[i]);
  archive.write("model", model_archive);
  archive.write("optimizer", optim_archive);
  archive.write("ema", ema_archive);
  std::ostringstream bytes;
  try {
    archive.save_to(bytes);
  } catch (const std::exception& e) {
    throw DataError("cannot write checkpoint '" + checkpoint_path_ + "': " + e.what());
  }
  // Temporary file + fsync + rename: a crash or a full disk leaves the previous checkpoint intact.
  atomic_write_text(checkpoint_path_, bytes.str());
  last_checkpoint_iter_ = iter;
}

int64_t Trainer::load_checkpoint(at::Generator& gen) {
  const std::string bytes = read_file(checkpoint_path_);
  return load_checkpoint_data(bytes.data(), bytes.size(), checkpoint_path_, gen);
}

int64_t Trainer::load_checkpoint_data(const char* data, size_t size, const std::string& origin, at::Generator& gen) {
  const std::string where = "checkpoint '" + origin + "'";
  const std::string fix = "; delete it, use another --out, or run without --resume";
  if (size == 0) throw DataError(where + " is empty (a run killed while creating it?)" + fix);
  // LibTorch's loader can crash on a corrupt byte: check sizes and CRCs of every record first.
  const std::string problem = zip_integrity_problem(data, size);
  if (!problem.empty()) throw DataError(where + " is not a scorelab checkpoint or is truncated or corrupt (" + problem + ")" + fix);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(data, size);
  } catch (const std::exception& e) {
    throw DataError(where + " is not a scorelab checkpoint or is truncated (" +
                    one_line(e.what()) + ")" + fix);
  }
  try {
    // A fresh tensor per key: InputArchive::read into a defined tensor would set_ it in place.
    auto get = [&](const std::string& key) {
      at::Tensor t;
      archive.read(key, t);
      return t;
    };
    int64_t format = 1;
    at::Tensor format_t;
    if (archive.try_read("format", format_t)) format = scalar_int(format_t);
    if (format < 1 || format > kCheckpointFormat)
      throw DataError(where + " has format " + std::to_string(format) + ", this build reads 1.." +
                      std::to_string(kCheckpointFormat) + fix);
    if (format >= 2) {
      const std::string version = tensor_bytes(get("torch_version"));
      if (version != TORCH_VERSION)
        throw DataError(where + " was written with LibTorch " + one_line(version, 40) + ", this build uses " +
                        TORCH_VERSION + "; rerun without --resume (or with the LibTorch that wrote it)");
    }
    if (tensor_bytes(get("fingerprint")) != fingerprint_)
      throw DataError(where + " was written by " + name_ +
                      " with different settings (another model, preset or configuration); delete it, use another "
                      "--out, or rerun with the original flags");
    const int64_t iter = scalar_int(get("iter"));
    if (iter < 0) throw DataError(where + " holds a negative iteration" + fix);
    const int64_t skipped = format >= 2 ? scalar_int(get("skipped")) : 0;
    at::Tensor rng;
    archive.read("rng", rng);
    torch::serialize::InputArchive model_archive, optim_archive, ema_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optim_archive);
    // Module::load swaps in the stored tensors without checking shapes; keep the old ones (aliases that
    // survive the swap) to check against and to put back when the file belongs to another model.
    std::vector<at::Tensor> old;
    for (const auto& t : module_->parameters(true)) old.push_back(t.detach());
    for (const auto& t : module_->buffers(true)) old.push_back(t.detach());
    std::vector<at::Tensor> now = module_->parameters(true);
    for (const auto& t : module_->buffers(true)) now.push_back(t);
    auto put_back = [&] {
      torch::NoGradGuard ng;
      for (size_t i = 0; i < now.size(); ++i) now[i].set_(old[i]);
    };
    try {
      module_->load(model_archive);
    } catch (...) {
      put_back();
      throw;
    }
    for (size_t i = 0; i < now.size(); ++i) {
      if (now[i].sizes() != old[i].sizes() || now[i].scalar_type() != old[i].scalar_type()) {
        const std::string got = c10::str(now[i].sizes()), want = c10::str(old[i].sizes());
        put_back();
        throw DataError(where + " holds a tensor of shape " + got + " where the model has " + want +
                        ": it was written by another model" + fix);
      }
    }
    state_->optimizer->load(optim_archive);
    if (state_->ema) {
      archive.read("ema", ema_archive);
      torch::NoGradGuard ng;
      for (auto& shadow : state_->ema->shadow()) {
        at::Tensor v;
        ema_archive.read(std::to_string(&shadow - state_->ema->shadow().data()), v);
        TORCH_CHECK(v.sizes() == shadow.sizes(), "EMA entry has shape ", v.sizes(), ", the model ", shadow.sizes());
        shadow.copy_(v);
      }
    }
    gen.set_state(rng);
    at::Tensor global_state;
    if (archive.try_read("global_rng", global_state)) {
      at::Generator global = at::detail::getDefaultCPUGenerator();
      global.set_state(global_state);
    }
    for (auto& [name, g] : extra_generators_) {
      at::Tensor state;
      if (archive.try_read("rng_" + name, state)) g.set_state(state);
    }
    int64_t saved_world = 1;
    at::Tensor world_t;
    if (archive.try_read("world_size", world_t)) saved_world = scalar_int(world_t);
    if (saved_world != dist::world_size() && writer_)
      std::fprintf(stderr, "[%s] resuming a checkpoint written by %lld data-parallel process(es) with %d: same data and "
                   "noise, but the gradient sums round differently, so the run is not bit-identical to an uninterrupted one\n",
                   name_.c_str(), static_cast<long long>(saved_world), dist::world_size());
    at::Tensor curve;
    restored_loss_curve_.clear();
    restored_eval_curve_.clear();
    if (archive.try_read("loss_curve", curve)) restored_loss_curve_ = tensor_curve(curve);
    if (archive.try_read("eval_curve", curve)) restored_eval_curve_ = tensor_curve(curve);
    skipped_ = skipped;
    last_checkpoint_iter_ = iter;
    return iter;
  } catch (const DataError&) {
    throw;
  } catch (const c10::Error& e) {
    throw DataError(where + " cannot be loaded for " + name_ + " (truncated, or written by another model or configuration): " +
                    one_line(e.what_without_backtrace()) + fix);
  } catch (const std::exception& e) {
    throw DataError(where + " cannot be loaded for " + name_ + " (corrupt): " + one_line(e.what()) + fix);
  }
}

TrainResult Trainer::fit(const std::function<at::Tensor(int64_t, at::Generator&)>& loss_fn, at::Generator& gen) {
  TrainResult result;
  result.world_size = dist::world_size();
  int64_t start = 0;
  if (config_.resume && !checkpoint_path_.empty() && writer_) remove_stale_temporaries(checkpoint_path_);
  // Rank 0 finds and reads the checkpoint; every rank loads its bytes.
  int64_t have = config_.resume && !checkpoint_path_.empty() && writer_ && std::filesystem::exists(checkpoint_path_);
  if (dist::active()) {
    at::Tensor flag = torch::tensor(std::vector<int64_t>{have});
    dist::broadcast({flag});
    have = flag.item<int64_t>();
  }
  if (have) {
    if (dist::active()) {
      const std::string bytes = dist::broadcast_bytes(writer_ ? read_file(checkpoint_path_) : std::string());
      start = load_checkpoint_data(bytes.data(), bytes.size(), checkpoint_path_, gen);
    } else {
      start = load_checkpoint(gen);
    }
    result.resumed = true;
    result.loss_curve = restored_loss_curve_;
    result.eval_curve = restored_eval_curve_;
    if (writer_) {
      truncate_csv_after(log_path_, start);
      if (hooks_.evaluate) truncate_csv_after(hooks_.eval_log_path, start);
    }
  }
  if (dist::active()) {
    // Every rank starts from rank 0's weights.
    std::vector<at::Tensor> all = module_->parameters(true);
    for (const auto& b : module_->buffers(true)) all.push_back(b);
    std::vector<at::Tensor> detached;
    for (const auto& t : all) detached.push_back(t.detach());
    dist::broadcast(detached);
    // The EMA starts as a copy of the (now common) weights; a resumed one came with the checkpoint.
    if (state_->ema && !have) state_->ema = std::make_unique<Ema>(state_->params, config_.ema);
  }
  const StopSignalScope stop_signals;
  std::ofstream log;
  if (!log_path_.empty() && writer_) {
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
  if (hooks_.evaluate && !hooks_.eval_log_path.empty() && writer_) {
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
    at::Tensor loss;
    {
      const BatchShardScope shard({dist::rank(), dist::world_size()});
      loss = loss_fn(it, gen);
    }
    if (hooks_.loss_scale == 1.0)
      loss.backward();
    else
      (loss * hooks_.loss_scale).backward();
    double value = 0.0;
    bool agreed_stop = false, agreed_budget = false;  // data parallel: decided together
    if (dist::active()) {
      // One set of buckets: the gradients, then [loss, stop signal, budget spent] (averaged: > 0 means some rank).
      dist::heartbeat(it + 1);
      const bool over_budget = config_.budget_minutes > 0 &&
                               std::chrono::duration<double>(Clock::now() - t0).count() > 60.0 * config_.budget_minutes;
      std::vector<at::Tensor> sync;
      for (const auto& p : state_->params)
        if (p.grad().defined()) sync.push_back(p.grad());
      // In the loss's dtype (that of the gradients: one bucket with them).
      at::Tensor flags = torch::stack({loss.detach().reshape({}), torch::tensor(g_stop_signal != 0 ? 1.0 : 0.0, loss.options()),
                                       torch::tensor(over_budget ? 1.0 : 0.0, loss.options())});
      sync.push_back(flags);
      dist::allreduce_mean(sync, &result.allreduce_seconds);
      const at::Tensor f = flags.cpu();
      value = f[0].item<double>();
      agreed_stop = f[1].item<double>() > 0;
      agreed_budget = f[2].item<double>() > 0;
    } else {
      value = loss.item<double>();
    }
    // Checked before the step, so non-finite values never reach the weights, the EMA or a checkpoint.
    const char* fault = !std::isfinite(value) ? "loss" : (gradients_finite(state_->params) ? nullptr : "gradient");
    if (fault != nullptr) {
      if (tty && !config_.quiet) std::fprintf(stderr, "\n");
      if (skipped_ >= config_.skip_nonfinite) {
        const std::string kept = last_checkpoint_iter_ >= 0 ? "the last good checkpoint '" + checkpoint_path_ +
                                                                  "' (iteration " + std::to_string(last_checkpoint_iter_) + ") is kept"
                                                            : "no checkpoint was written";
        throw NumericalError(name_ + ": non-finite " + fault + " at iteration " + std::to_string(it + 1) +
                             "; training stopped and " + kept +
                             "; lower --lr, set --grad-clip, or pass --skip-nonfinite N to skip such batches");
      }
      ++skipped_;
      ++result.skipped_batches;
      std::fprintf(stderr, "[%s] iteration %lld: non-finite %s, batch skipped (%lld of --skip-nonfinite %lld)\n",
                   name_.c_str(), static_cast<long long>(it + 1), fault, static_cast<long long>(skipped_),
                   static_cast<long long>(config_.skip_nonfinite));
      state_->optimizer->zero_grad();
    } else {
      if (config_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(state_->params, config_.grad_clip);
      state_->optimizer->step();
      if (state_->ema) state_->ema->update();
    }
    const bool log_now = fault == nullptr && ((it + 1) % log_every == 0 || it + 1 == config_.iters);
    if (log_now) {
      running += value;
      ++running_n;
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      result.loss_curve.emplace_back(static_cast<double>(it + 1), value);
      if (log) log << (it + 1) << "," << value << "," << lr << "," << secs << "\n";
      const auto now = Clock::now();
      if (!config_.quiet && writer_ && (std::chrono::duration<double>(now - last_print).count() > (tty ? 0.5 : 10.0) ||
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
    // Every rank evaluates (deterministic, own generator), so that none waits in the next all-reduce past
    // --dist-timeout while rank 0 evaluates; only rank 0 logs it.
    if (hooks_.evaluate && hooks_.eval_every > 0 && (it + 1) % hooks_.eval_every == 0 && it + 1 < config_.iters)
      run_eval(it + 1);
    if (config_.checkpoint_every > 0 && (it + 1) % config_.checkpoint_every == 0) {
      if (log) log.flush();  // the rows up to a checkpoint survive a kill; later ones are dropped on resume
      save_checkpoint(it + 1, gen, result);
    }
    if (dist::active() ? agreed_stop : g_stop_signal != 0) {
      const int sig = g_stop_signal != 0 ? g_stop_signal : SIGTERM;  // a rank without the signal stops with its peers
      if (last_checkpoint_iter_ != it + 1) save_checkpoint(it + 1, gen, result);
      if (log) log.flush();
      if (tty && !config_.quiet) std::fprintf(stderr, "\n");
      const std::string where = checkpoint_path_.empty() ? "no checkpoint (no output folder)"
                                                         : "checkpoint written to '" + checkpoint_path_ + "'";
      throw TrainingInterrupted(name_ + ": " + (sig == SIGINT ? "SIGINT" : "SIGTERM") + " at iteration " +
                                    std::to_string(it + 1) + " of " + std::to_string(config_.iters) + "; " + where +
                                    (checkpoint_path_.empty() ? "" : "; rerun the same command with --resume to continue"),
                                sig);
    }
    if (dist::active() ? agreed_budget
                       : config_.budget_minutes > 0 &&
                             std::chrono::duration<double>(Clock::now() - t0).count() > 60.0 * config_.budget_minutes) {
      ++it;
      if (!config_.quiet && writer_) std::fprintf(stderr, "%s[%s] budget of %.2f min reached at iteration %lld\n", tty ? "\n" : "",
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
  save_checkpoint(it, gen, result);
  if (dist::active()) {
    // The ranks must hold the same weights (they apply the same averaged gradients): checked, cheaply.
    double check = 0.0;
    {
      torch::NoGradGuard ng;
      double k = 1.0;
      for (const auto& p : state_->params) check += k++ * p.sum(torch::kDouble).item<double>();
      if (state_->ema)
        for (const auto& s : state_->ema->shadow()) check += k++ * s.sum(torch::kDouble).item<double>();
    }
    const std::vector<double> all = dist::gather_doubles(check);
    for (size_t r = 1; r < all.size(); ++r)
      if (std::memcmp(&all[r], &all[0], sizeof(double)) != 0)  // bit for bit (NaN weights compare equal too)
        throw DistError(name_ + ": the parameters of rank " + std::to_string(r) + " differ from rank 0's after training "
                        "(checksums " + std::to_string(all[r]) + " vs " + std::to_string(all[0]) + "): a bug; please report it");
  }
  if (log) log.flush();
  if (!log_path_.empty() && writer_ && !log) throw DataError("cannot write the loss log '" + log_path_ + "' (disk full?)");
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
