#include "eval/markdown.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace scorelab {
namespace {

std::string escape_cell(const std::string& cell) {
  std::string out;
  out.reserve(cell.size());
  for (char c : cell) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

void append_row(std::string& out, const std::vector<std::string>& cells, const std::vector<size_t>& widths) {
  out += '|';
  for (size_t c = 0; c < cells.size(); ++c) {
    out += ' ';
    out += cells[c];
    out.append(widths[c] - cells[c].size(), ' ');
    out += " |";
  }
  out += '\n';
}

}  // namespace

std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  if (header.empty()) {
    throw std::invalid_argument("markdown_table: the header has no columns");
  }
  std::vector<std::string> head;
  for (const auto& h : header) head.push_back(escape_cell(h));
  std::vector<std::vector<std::string>> body;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != header.size()) {
      throw std::invalid_argument("markdown_table: row " + std::to_string(r) + " has " +
                                  std::to_string(rows[r].size()) + " cells; the header has " +
                                  std::to_string(header.size()));
    }
    std::vector<std::string> cells;
    for (const auto& cell : rows[r]) cells.push_back(escape_cell(cell));
    body.push_back(std::move(cells));
  }
  std::vector<size_t> widths(head.size(), 3);  // "---" is the shortest separator
  for (size_t c = 0; c < head.size(); ++c) {
    widths[c] = std::max(widths[c], head[c].size());
    for (const auto& row : body) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  append_row(out, head, widths);
  out += '|';
  for (size_t w : widths) {
    out += ' ';
    out.append(w, '-');
    out += " |";
  }
  out += '\n';
  for (const auto& row : body) append_row(out, row, widths);
  return out;
}

std::string fmt_number(double v, int significant) {
  if (significant < 1 || significant > 17) {
    throw std::invalid_argument("fmt_number: significant digits must be in [1, 17], got " +
                                std::to_string(significant));
  }
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0.0) return "0";
  char buf[64];
  const double a = std::fabs(v);
  if (a < 1e-3 || a >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.*e", significant - 1, v);
    return buf;
  }
  // Decimals for `significant` digits; the rounded value may gain a digit (9.9996 -> "10.000").
  const int exponent = static_cast<int>(std::floor(std::log10(a)));
  const int decimals = std::max(0, significant - 1 - exponent);
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

}  // namespace scorelab
