// Every test process runs with the apps' runtime settings: one intra-op thread and the heap kept between
// steps (set_threads also sets glibc's mmap/trim thresholds). Without them the tests measure a different
// program: the slow Fashion-MNIST classifier test took ~800 s here, with them 192 s (the same training in
// `classifier --threads 1`: 253 s); the whole unit-test binary 18.6 -> 17.0 s.
#include <gtest/gtest.h>

#include "core/runtime.h"

namespace scorelab::test_support {
namespace {

class RuntimeEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { set_threads(1); }
};

[[maybe_unused]] ::testing::Environment* const kRuntime = ::testing::AddGlobalTestEnvironment(new RuntimeEnvironment);

}  // namespace
}  // namespace scorelab::test_support
