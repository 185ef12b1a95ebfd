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

// Training stopped by SIGINT / SIGTERM after writing a checkpoint; run_main exits with 128 + signal
// (130 / 143), like a shell does for a process killed by that signal.
class TrainingInterrupted : public std::runtime_error {
 public:
  TrainingInterrupted(const std::string& what, int signal) : std::runtime_error(what), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

// A non-finite loss or gradient stopped training; the message names the iteration and the kept checkpoint.
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Data-parallel runs (dist/dist.h): a collective failed or timed out (a rank died or hangs), or the ranks could
// not meet; the message names the ranks. run_main exits with code 4.
class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds "flag --NAME: got VALUE; expected WHAT".
std::string flag_error(const std::string& flag, const std::string& value, const std::string& expected);

}  // namespace scorelab
