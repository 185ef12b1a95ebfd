// The rows of a data-parallel global batch this process computes (dist/dist.h). Random draws that belong to
// examples (objectives' levels, timesteps and noise; dropout masks) are made for the whole global batch, so that
// N processes use the numbers one process would draw, and each process keeps its rows with local_rows. The
// trainer sets the shard around each loss; outside a BatchShardScope local_rows is the identity.
#pragma once
#include <ATen/Tensor.h>
#include <cstdint>

namespace scorelab {

struct BatchShard {
  int64_t rank = 0, world = 1;
};

class BatchShardScope {  // sets the calling thread's shard for its lifetime
 public:
  explicit BatchShardScope(BatchShard shard);
  ~BatchShardScope();
  BatchShardScope(const BatchShardScope&) = delete;
  BatchShardScope& operator=(const BatchShardScope&) = delete;

 private:
  BatchShard previous_;
};

const BatchShard& current_batch_shard();

// Rows [rank * n / world, (rank + 1) * n / world) of t (n must split evenly); t itself without a shard.
at::Tensor local_rows(const at::Tensor& t);

}  // namespace scorelab
