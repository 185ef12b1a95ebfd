// File output that never leaves a half-written file behind: write to a temporary file in the same
// folder, flush, then rename over the target.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace scorelab {

void atomic_write_text(const std::string& path, const std::string& content);
void write_json(const std::string& path, const nlohmann::json& value);  // atomic, 2-space indent
nlohmann::json read_json(const std::string& path);                     // DataError naming the file

// Creates `dir` (and parents) and checks that a file can be written there; ConfigError naming `flag`.
void ensure_writable_dir(const std::string& dir, const std::string& flag = "--out");

// A fresh folder reports/<prefix>-YYYYmmdd-HHMMSS under the source tree's reports/ (or ./reports).
std::string default_report_dir(const std::string& prefix);

// Reads a whole file; DataError naming the file if it is missing or unreadable.
std::string read_file(const std::string& path);

}  // namespace scorelab
