#include "core/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace scorelab {

namespace {
// Makes a rename durable: fsync of the folder that holds the entry (best effort; some file systems refuse).
void sync_parent_dir(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  const int fd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

void atomic_write_text(const std::string& path, const std::string& content) {
  static std::atomic<unsigned> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    throw DataError("cannot write '" + path + "': the folder is missing or not writable; choose a writable --out");
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size() && std::fflush(f) == 0 &&
                  ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    throw DataError("cannot write '" + path + "': write failed (disk full?); nothing was replaced, free space and rerun");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw DataError("cannot write '" + path + "': rename of the temporary file failed");
  }
  sync_parent_dir(path);
}

void write_json(const std::string& path, const nlohmann::json& value) { atomic_write_text(path, value.dump(2) + "\n"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot read '" + path + "': no such file or not readable; check the path");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

nlohmann::json read_json(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw DataError("'" + path + "' is not valid JSON: " + e.what());
  }
}

void ensure_writable_dir(const std::string& dir, const std::string& flag) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw ConfigError("flag " + flag + ": cannot create folder '" + dir + "' (" + ec.message() +
                      "); choose a writable folder");
  const std::string probe = (fs::path(dir) / (".write-test." + std::to_string(::getpid()))).string();
  FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw ConfigError("flag " + flag + ": folder '" + dir + "' is not writable; choose a writable folder");
  std::fclose(f);
  std::remove(probe.c_str());
}

std::string default_report_dir(const std::string& prefix) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  fs::path root = fs::path(SCORELAB_SOURCE_DIR) / "reports";
  if (!fs::is_directory(root)) root = "reports";
  return (root / (prefix + "-" + stamp)).string();
}

}  // namespace scorelab
