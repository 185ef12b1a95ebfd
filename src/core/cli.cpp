#include "core/cli.h"

#include <boost/program_options.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <c10/util/Exception.h>

#include "core/error.h"
#include "dist/dist.h"

namespace po = boost::program_options;

namespace scorelab {

namespace {
std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
// Boost.Program_options 1.74 builds its messages by replacing placeholders such as %option% or
// %invalid_line% with the offending text until none is left: text that itself holds a placeholder makes
// that loop endless (found by fuzz/fuzz_config). Any %name% (lower-case letters and '_') is refused before
// Boost sees it.
void reject_boost_placeholders(const std::string& text, const std::string& where) {
  for (size_t open = text.find('%'); open != std::string::npos; open = text.find('%', open + 1)) {
    size_t end = open + 1;
    while (end < text.size() && ((text[end] >= 'a' && text[end] <= 'z') || text[end] == '_')) ++end;
    if (end > open + 1 && end < text.size() && text[end] == '%')
      throw ConfigError(where + " contains '" + text.substr(open, end - open + 1) +
                        "', which cannot be part of a flag name or value; remove it");
  }
}
}  // namespace

bool parse_cli(int argc, const char* const argv[], const po::options_description& desc, po::variables_map& vm,
               const std::string& usage, std::string* config_file) {
  po::options_description all("Options");
  std::string config;
  all.add_options()("help,h", "print this help and exit")(
      "config", po::value(&config), "INI-style file of flag = value lines (flags given on the command line win)");
  all.add(desc);
  for (int i = 1; i < argc; ++i) reject_boost_placeholders(argv[i], "command-line argument " + std::to_string(i));
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << all << "\n";
      return false;
    }
    if (vm.count("config")) {
      config = vm["config"].as<std::string>();
      std::ifstream in(config);
      std::error_code ec;
      if (!in || std::filesystem::is_directory(config, ec)) throw ConfigError("flag --config: cannot open '" + config + "'; give a readable INI file of flag = value lines");
      std::ostringstream text;
      text << in.rdbuf();
      reject_boost_placeholders(text.str(), "config file '" + config + "'");
      std::istringstream parsed(text.str());
      try {
        po::store(po::parse_config_file(parsed, desc, /*allow_unregistered=*/false), vm);
      } catch (const po::error& e) {
        throw ConfigError("config file '" + config + "': " + e.what() +
                          "; fix that line (keys are the flag names of --help without the dashes)");
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
  // In a data-parallel run every message names its rank, and the other ranks learn why this one stops.
  auto fail = [&](const char* kind, const std::string& what, int code) {
    const std::string who = dist::active() ? " (" + dist::describe() + ")" : "";
    std::cerr << app << who << ": " << kind << ": " << what << "\n";
    dist::report_failure(what);
    return code;
  };
  try {
    const int code = body();
    if (code == 0) dist::shutdown();
    return code;
  } catch (const ConfigError& e) {
    return fail("error", e.what(), 2);
  } catch (const DataError& e) {
    return fail("error", e.what(), 3);
  } catch (const DistError& e) {
    return fail("error", e.what(), 4);
  } catch (const TrainingInterrupted& e) {
    return fail("stopped", e.what(), 128 + e.signal());
  } catch (const c10::Error& e) {
    return fail("error", e.what_without_backtrace(), 1);
  } catch (const std::exception& e) {
    return fail("error", e.what(), 1);
  }
}

std::string flag_value(double value) { return fmt(value); }

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
