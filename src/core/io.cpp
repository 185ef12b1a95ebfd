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

bool is_wall_clock_key(const std::string& key) {
  static const char* const keys[] = {"train_s",      "sample_s",           "seconds",
                                     "eval_seconds", "images_per_s",       "sample_s_per_image",
                                     "stage1_sample_s_per_image",          "stage2_train_s", "seconds_per_sample",
                                     "allreduce_s"};
  for (const char* k : keys)
    if (key == k) return true;
  return false;
}

std::pair<nlohmann::json, nlohmann::json> split_wall_clock(const nlohmann::json& all) {
  if (all.is_array()) {  // element by element; the timings array keeps the positions ({} where none)
    nlohmann::json metrics = nlohmann::json::array(), timings = nlohmann::json::array();
    bool any = false;
    for (const auto& e : all) {
      auto [m, t] = split_wall_clock(e);
      any = any || !t.empty();
      metrics.push_back(std::move(m));
      timings.push_back(std::move(t));
    }
    return {metrics, any ? timings : nlohmann::json::object()};
  }
  if (!all.is_object()) return {all, nlohmann::json::object()};
  nlohmann::json metrics = nlohmann::json::object(), timings = nlohmann::json::object();
  for (auto it = all.begin(); it != all.end(); ++it) {
    if (is_wall_clock_key(it.key())) {
      timings[it.key()] = it.value();
      continue;
    }
    auto [m, t] = split_wall_clock(it.value());
    metrics[it.key()] = std::move(m);  // kept even when empty: an empty object is a result too
    if (!t.empty()) timings[it.key()] = std::move(t);
  }
  return {metrics, timings};
}

namespace {
// Inverse of split_wall_clock: adds `extra`'s keys into `target`, recursing into objects and into
// arrays of the same length.
void merge_into(nlohmann::json& target, const nlohmann::json& extra) {
  if (target.is_array() && extra.is_array() && target.size() == extra.size()) {
    for (std::size_t i = 0; i < extra.size(); ++i) merge_into(target[i], extra[i]);
    return;
  }
  if (!target.is_object() || !extra.is_object()) return;
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    if (target.contains(it.key()) && (it.value().is_object() || it.value().is_array()))
      merge_into(target[it.key()], it.value());
    else
      target[it.key()] = it.value();
  }
}
}  // namespace

void write_run_metrics(const std::string& dir, const nlohmann::json& all) {
  const auto [metrics, timings] = split_wall_clock(all);
  write_json((fs::path(dir) / "timings.json").string(), timings);
  write_json((fs::path(dir) / "metrics.json").string(), metrics);
}

nlohmann::json read_run_metrics(const std::string& dir) {
  nlohmann::json all = read_json((fs::path(dir) / "metrics.json").string());
  const fs::path tpath = fs::path(dir) / "timings.json";
  if (fs::exists(tpath) && all.is_object()) {
    const nlohmann::json timings = read_json(tpath.string());
    if (timings.is_object()) merge_into(all, timings);
  }
  return all;
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
