// Data parallelism over processes on PyTorch's own c10d (Gloo on CPU, NCCL on CUDA when built against a
// CUDA LibTorch), launched like any PyTorch job:
//   /usr/bin/python3 -m torch.distributed.run --no_python --nproc_per_node N build/apps/train ...
// (scripts/launch --nproc N APP ARGS... does the same). The launcher exports RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR and MASTER_PORT; without WORLD_SIZE (or with WORLD_SIZE=1) everything here is a no-op and a
// run is exactly the single-process run.
//
// Semantics (README "Scaling out"): --batch-size is the global batch; every rank draws the same global batch
// and the same per-example noise from the same stream and computes the loss on its own rows
// (objectives/objective.h: local_rows), gradients are averaged in buckets before the step, so N processes
// train on the data one process would see. Rank 0 writes every file; the other ranks write into a private
// temporary folder that is removed at exit. A collective that fails (a rank died) or times out (a rank hangs)
// throws DistError naming the ranks that fell behind.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <boost/program_options/options_description.hpp>
#include <c10/core/Device.h>
#include <functional>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"  // DistError

namespace scorelab {

struct DistConfig {
  std::string backend = "auto";  // --dist-backend auto | gloo | nccl (auto: NCCL on CUDA when built with it, else Gloo)
  double timeout_s = 300.0;      // --dist-timeout: seconds a collective or the rendezvous waits for the other ranks

  void add_options(boost::program_options::options_description& desc);
  void validate() const;
};

namespace dist {

// Reads the launcher's variables and joins the process group (once per process; later calls are no-ops).
// `device` is "cpu" or "cuda..." (the run's resolved device). ConfigError for missing or inconsistent
// variables, a bad backend or NCCL without CUDA; DistError when the other ranks do not show up in time.
void init(const DistConfig& config, const std::string& device);
// Closes the process group and the store after a run that succeeded (run_main calls it). After a failure
// nothing is torn down: a peer stopped halfway through a store request would make the teardown wait forever.
void shutdown();

bool active();  // world size > 1
int rank();
int world_size();
int local_rank();
int local_world_size();  // processes on this machine (LOCAL_WORLD_SIZE, else the world size)
std::string backend();   // "gloo" | "nccl" | "" (single process)
std::string describe();  // e.g. "rank 1 of 2 (gloo)"

// [begin, end) of the rows of `n` that `rank` takes: contiguous, in rank order, sizes differing by <= 1.
std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world);
// The seed of this rank's own stream: `seed` itself on rank 0 (a single process is rank 0 of 1), a derived
// independent seed on the others.
uint64_t rank_seed(uint64_t seed);

// Averages the tensors over the ranks in place, flattened into buckets of about `bucket_bytes` (one
// all-reduce per bucket). Adds the seconds spent to `*seconds` when given. No-op in a single process.
void allreduce_mean(const std::vector<at::Tensor>& tensors, double* seconds = nullptr, int64_t bucket_bytes = 25 << 20);
// Copies rank 0's values into the tensors on every rank.
void broadcast(const std::vector<at::Tensor>& tensors);
// Rank 0's bytes on every rank (e.g. a checkpoint read by rank 0).
std::string broadcast_bytes(const std::string& bytes);
// Every rank's rows, concatenated in rank order, on every rank (row counts may differ between ranks;
// the trailing shape and dtype must match). The result lives on the input's device.
at::Tensor gather_rows(const at::Tensor& local);
// Sharded sampling: n rows drawn by all ranks together. Rank r calls draw(begin, end, gen) for its
// shard_range with its own stream (a generator on `device` seeded with rank_seed(seed)), and every rank gets
// all n rows in rank order. In one process this is draw(0, n, generator(seed)): the single-process draw.
// A CPU run is determined by the seed and the world size. chunk > 0: the shard is drawn in calls of at most
// `chunk` rows, one after the other from the same generator (bounded memory; with n <= chunk the same draw).
at::Tensor sharded_draw(int64_t n, uint64_t seed, c10::Device device,
                        const std::function<at::Tensor(int64_t begin, int64_t end, at::Generator& gen)>& draw,
                        int64_t chunk = 0);
// Every rank's value, in rank order.
std::vector<double> gather_doubles(double value);
void barrier();

// Records that this rank reached training step `step` (named in DistError messages).
void heartbeat(int64_t step);
// Tells the other ranks why this one stops (run_main calls it before exiting on an error).
void report_failure(const std::string& message);

// `out` on rank 0; on the other ranks a private temporary folder (removed at exit), so that only rank 0
// writes the run's files.
std::string output_dir(const std::string& out);

}  // namespace dist
}  // namespace scorelab
