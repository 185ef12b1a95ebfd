// File output that never leaves a half-written file behind: write to a temporary file in the same
// folder, flush, then rename over the target.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>

namespace scorelab {

void atomic_write_text(const std::string& path, const std::string& content);
void write_json(const std::string& path, const nlohmann::json& value);  // atomic, 2-space indent
nlohmann::json read_json(const std::string& path);                     // DataError naming the file

// Run results are split in two files so that a run is reproducible byte for byte: DIR/metrics.json
// holds everything a seed fixes, DIR/timings.json only the wall-clock keys below (same nesting), which
// no seed can fix. Wall-clock keys: train_s, sample_s, seconds, eval_seconds, images_per_s,
// sample_s_per_image, stage1_sample_s_per_image, stage2_train_s.
bool is_wall_clock_key(const std::string& key);
// {metrics without wall-clock keys, the wall-clock keys alone}; objects that end up empty are dropped.
std::pair<nlohmann::json, nlohmann::json> split_wall_clock(const nlohmann::json& all);
// Writes DIR/timings.json, then DIR/metrics.json (each atomically; metrics.json last, so its presence
// means the run finished).
void write_run_metrics(const std::string& dir, const nlohmann::json& all);
// DIR/metrics.json merged with DIR/timings.json when that exists: the object write_run_metrics was given.
nlohmann::json read_run_metrics(const std::string& dir);

// Creates `dir` (and parents) and checks that a file can be written there; ConfigError naming `flag`.
void ensure_writable_dir(const std::string& dir, const std::string& flag = "--out");

// A fresh folder reports/<prefix>-YYYYmmdd-HHMMSS under the source tree's reports/ (or ./reports).
std::string default_report_dir(const std::string& prefix);

// Reads a whole file; DataError naming the file if it is missing or unreadable.
std::string read_file(const std::string& path);

}  // namespace scorelab
