#include "core/shard.h"

#include <c10/util/Exception.h>

namespace scorelab {

namespace {
thread_local BatchShard g_shard;
}  // namespace

BatchShardScope::BatchShardScope(BatchShard shard) : previous_(g_shard) {
  TORCH_CHECK(shard.world >= 1 && shard.rank >= 0 && shard.rank < shard.world, "BatchShardScope: bad shard");
  g_shard = shard;
}
BatchShardScope::~BatchShardScope() { g_shard = previous_; }

const BatchShard& current_batch_shard() { return g_shard; }

at::Tensor local_rows(const at::Tensor& t) {
  if (g_shard.world == 1 || !t.defined()) return t;
  const int64_t n = t.size(0);
  TORCH_CHECK(n % g_shard.world == 0, "local_rows: a global batch of ", n, " rows does not split over ", g_shard.world,
              " ranks");
  const int64_t k = n / g_shard.world;
  return t.narrow(0, g_shard.rank * k, k);
}

}  // namespace scorelab
