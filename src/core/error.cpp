#include "core/error.h"

namespace scorelab {

std::string flag_error(const std::string& flag, const std::string& value, const std::string& expected) {
  return "flag " + flag + ": got '" + value + "'; expected " + expected;
}

}  // namespace scorelab
