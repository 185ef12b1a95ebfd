#include "core/cli.h"

#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.h"

namespace po = boost::program_options;

namespace scorelab {

namespace {
std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

bool parse_cli(int argc, const char* const argv[], const po::options_description& desc, po::variables_map& vm,
               const std::string& usage, std::string* config_file) {
  po::options_description all("Options");
  std::string config;
  all.add_options()("help,h", "print this help and exit")(
      "config", po::value(&config), "INI-style file of flag = value lines (flags given on the command line win)");
  all.add(desc);
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << all << "\n";
      return false;
    }
    if (vm.count("config")) {
      config = vm["config"].as<std::string>();
      std::ifstream in(config);
      if (!in) throw ConfigError("flag --config: cannot open '" + config + "'; give a readable INI file of flag = value lines");
      try {
        po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/false), vm);
      } catch (const po::error& e) {
        throw ConfigError("config file '" + config + "': " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string(e.what()) + " (see --help)");
  }
  if (config_file) *config_file = config;
  return true;
}

int run_main(const char* app, const std::function<int()>& body) {
  try {
    return body();
  } catch (const ConfigError& e) {
    std::cerr << app << ": error: " << e.what() << "\n";
    return 2;
  } catch (const DataError& e) {
    std::cerr << app << ": error: " << e.what() << "\n";
    return 3;
  } catch (const c10::Error& e) {
    std::cerr << app << ": error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << app << ": error: " << e.what() << "\n";
    return 1;
  }
}

void require_positive(const std::string& flag, double value) {
  if (!(value > 0) || !std::isfinite(value)) throw ConfigError(flag_error(flag, fmt(value), "a finite number > 0"));
}

void require_nonnegative(const std::string& flag, double value) {
  if (!(value >= 0) || !std::isfinite(value)) throw ConfigError(flag_error(flag, fmt(value), "a finite number >= 0"));
}

void require_range(const std::string& flag, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi))
    throw ConfigError(flag_error(flag, fmt(value), "a number in [" + fmt(lo) + ", " + fmt(hi) + "]"));
}

void require_one_of(const std::string& flag, const std::string& value, const std::vector<std::string>& allowed) {
  for (const auto& a : allowed)
    if (a == value) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw ConfigError(flag_error(flag, value, "one of " + list));
}

}  // namespace scorelab
