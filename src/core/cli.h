// Command-line and config-file parsing shared by every app, and the one place apps turn exceptions
// into a single clear line and a non-zero exit status.
#pragma once
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <functional>
#include <string>

namespace scorelab {

// Parses argv and, when --config FILE is given, the INI-style FILE (key = value, keys are flag names;
// unknown keys are errors). Command-line values win over the file. Prints help and returns false on
// --help. Boost errors are rethrown as ConfigError naming the flag.
bool parse_cli(int argc, const char* const argv[], const boost::program_options::options_description& desc,
               boost::program_options::variables_map& vm, const std::string& usage,
               std::string* config_file = nullptr);

// Runs an app body: returns its status, or prints "APP: error: MESSAGE" and returns
// 2 (bad flag or config), 3 (bad data file), 1 (anything else); TrainingInterrupted prints
// "APP: stopped: MESSAGE" and returns 128 + the signal (130 for SIGINT, 143 for SIGTERM).
int run_main(const char* app, const std::function<int()>& body);

// Checks a number against a range and throws ConfigError naming the flag otherwise.
void require_positive(const std::string& flag, double value);
void require_nonnegative(const std::string& flag, double value);
// A number as a flag error quotes it: the shortest form the stream writes (2, 1.5, 0.001).
std::string flag_value(double value);
void require_range(const std::string& flag, double value, double lo, double hi);
void require_one_of(const std::string& flag, const std::string& value, const std::vector<std::string>& allowed);

}  // namespace scorelab
