// The training loop shared by every method: Adam, learning-rate schedule, EMA, gradient clipping,
// a progress line with rate and ETA, a CSV loss log, atomic checkpoints and --resume.
// Faults: a non-finite loss or gradient stops the run (the last good checkpoint is kept) or, with
// --skip-nonfinite N, skips up to N batches; SIGINT / SIGTERM write a checkpoint and throw
// TrainingInterrupted, so that rerunning with --resume continues bit-identically.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <boost/program_options/options_description.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

namespace scorelab {

struct TrainConfig {
  int64_t iters = 2000;             // --iters
  int64_t batch_size = 512;         // --batch-size
  double lr = 1e-3;                 // --lr
  std::string lr_schedule = "constant";  // --lr-schedule constant | exp | cosine
  double lr_decay = 0.999995;       // --lr-decay: per-iteration factor of "exp" (Meng et al.'s value)
  double ema = 0.0;                 // --ema: decay of the parameter EMA (0: off)
  double grad_clip = 0.0;           // --grad-clip: max global grad norm (0: off)
  double budget_minutes = 0.0;      // --budget-minutes: stop early after this wall time (0: none)
  int64_t checkpoint_every = 0;     // --checkpoint-every (0: only at the end)
  bool resume = false;              // --resume: continue from the checkpoint in the output folder
  bool quiet = false;               // --quiet: no progress line
  int64_t skip_nonfinite = 0;       // --skip-nonfinite: batches with a non-finite loss/gradient to skip (0: stop)

  void add_options(boost::program_options::options_description& desc);
  void validate() const;
};

// Optional extras of the loop: periodic test-set evaluation, display units and image throughput.
struct TrainerHooks {
  std::function<double()> evaluate;  // test loss in display units (called in eval mode, no grad)
  int64_t eval_every = 0;            // iterations between evaluations (0: never during training)
  double display_scale = 1.0;        // shown loss = scale * training loss (nats/dim -> bits/dim: 1 / ln 2)
  std::string display_unit;          // e.g. "bits/dim"
  int64_t images_per_iter = 0;       // batch size, for images/s in the progress line
  // The gradient is that of loss_scale * loss (e.g. a per-dimension mean times batch * dims: the reference's
  // sum). Logged and reported losses stay unscaled.
  double loss_scale = 1.0;
  std::string eval_log_path;         // CSV iter,test_loss,seconds
};

struct TrainResult {
  int64_t iters_done = 0;
  double seconds = 0.0;
  double final_loss = 0.0;  // mean of the last 10% of logged losses
  std::vector<std::pair<double, double>> loss_curve;  // (iteration, loss)
  std::vector<std::pair<double, double>> eval_curve;  // (iteration, test loss in display units)
  double images_per_s = 0.0;  // training images per second, evaluation time excluded
  double eval_seconds = 0.0;
  bool resumed = false;
  int64_t skipped_batches = 0;  // non-finite batches skipped (--skip-nonfinite), counted over resumes
  int world_size = 1;           // data-parallel processes (dist/dist.h)
  double allreduce_seconds = 0.0;  // wall time in gradient all-reduces (0 in one process)
};

// Data-parallel runs (dist/dist.h, world size > 1): --batch-size is the global batch and must split evenly over
// the ranks; each rank computes the loss on its rows (BatchShardScope), gradients and the loss are averaged in
// buckets before the step, initial parameters come from rank 0, and only rank 0 writes checkpoints and logs
// (every rank loads rank 0's checkpoint on --resume: all generators hold the same state on every rank, since
// they draw for the global batch). Stops (signals, --budget-minutes, non-finite batches) are agreed by all ranks.
//
// Identifies the checkpoint layout and the LibTorch that writes it, e.g. "scorelab-checkpoint 2, LibTorch 1.13.0".
std::string checkpoint_format_tag();

class Trainer {
 public:
  // checkpoint_path "" : no files. The module's parameters are optimised in place.
  // `fingerprint` (e.g. the method's resolved config as JSON) is stored in checkpoints; --resume refuses a
  // checkpoint whose fingerprint differs, so changed settings never silently reuse old weights.
  Trainer(std::string name, std::shared_ptr<torch::nn::Module> module, TrainConfig config,
          std::string checkpoint_path = "", std::string log_path = "", std::string fingerprint = "");
  ~Trainer();

  // Runs the loop; `loss_fn(iter, gen)` returns the scalar loss of one batch.
  TrainResult fit(const std::function<at::Tensor(int64_t, at::Generator&)>& loss_fn, at::Generator& gen);

  void set_hooks(TrainerHooks hooks) { hooks_ = std::move(hooks); }

  // A generator the model draws from itself (e.g. PixelCNN++'s dropout masks): its state is checkpointed
  // and restored with the rest, so a resumed run continues bit-identically. LibTorch's global CPU
  // generator (used by torch::nn::Dropout) is always checkpointed.
  void add_generator(const std::string& name, at::Generator gen) { extra_generators_.emplace_back(name, std::move(gen)); }

  // Copies the EMA weights into the module (no-op without EMA). Call once after fit, before sampling.
  void use_ema_weights();

  // Restores model, optimiser, EMA, generators and counters from a checkpoint held in memory (what fit
  // does on --resume with the file's bytes) and returns its iteration. `origin` names the source in
  // messages. DataError when the bytes are not a checkpoint, are truncated, come from another LibTorch,
  // model or settings. Public for the checkpoint fuzzer (fuzz/fuzz_checkpoint.cpp) and tests.
  int64_t load_checkpoint_data(const char* data, size_t size, const std::string& origin, at::Generator& gen);

 private:
  struct State;
  void save_checkpoint(int64_t iter, at::Generator& gen, const TrainResult& progress);
  int64_t load_checkpoint(at::Generator& gen);
  double lr_at(int64_t iter) const;

  std::string name_;
  std::shared_ptr<torch::nn::Module> module_;
  TrainConfig config_;
  std::string checkpoint_path_, log_path_, fingerprint_;
  std::unique_ptr<State> state_;
  TrainerHooks hooks_;
  std::vector<std::pair<std::string, at::Generator>> extra_generators_;
  int64_t skipped_ = 0;               // non-finite batches skipped so far (checkpointed)
  int64_t last_checkpoint_iter_ = -1;  // iteration of the newest checkpoint on disk (-1: none)
  // The logged curves of the run a checkpoint continues, so that a resumed run reports the same final_loss.
  std::vector<std::pair<double, double>> restored_loss_curve_, restored_eval_curve_;
  bool writer_ = true;  // rank 0 (or a single process) writes the files
};

}  // namespace scorelab
