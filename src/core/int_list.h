// Comma-separated lists of increasing counts on the command line (--budget-iters, --at-iters).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace scorelab {

// "a,b,c" with integers 1 <= a < b < c: the values; ConfigError naming `flag` for anything else (an empty list,
// a non-integer item, a value < 1, a value not above the one before).
std::vector<int64_t> increasing_counts(const std::string& flag, const std::string& text);

}  // namespace scorelab
