// Error types. Apps catch these in main, print one line and exit non-zero (STYLE 9).
#pragma once
#include <stdexcept>
#include <string>

namespace scorelab {

// A flag or config-file value is invalid. The message names the flag, the value and what is allowed.
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A file is missing, unreadable, truncated or malformed. The message names the file.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds "flag --NAME: got VALUE; expected WHAT".
std::string flag_error(const std::string& flag, const std::string& value, const std::string& expected);

}  // namespace scorelab
