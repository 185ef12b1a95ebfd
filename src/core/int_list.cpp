#include "core/int_list.h"

#include <sstream>

#include "core/error.h"

namespace scorelab {

std::vector<int64_t> increasing_counts(const std::string& flag, const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  const std::string want = "a comma-separated list of increasing iteration counts >= 1, e.g. 250,500,1000";
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      throw ConfigError(flag_error(flag, text, want));
    }
    if (used != item.size() || v < 1 || (!out.empty() && v <= out.back())) throw ConfigError(flag_error(flag, text, want));
    out.push_back(v);
  }
  if (out.empty()) throw ConfigError(flag_error(flag, text, want));
  return out;
}

}  // namespace scorelab
