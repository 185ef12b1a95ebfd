// Small helpers for the Markdown reports written next to every result.
#pragma once
#include <string>
#include <vector>

namespace scorelab {

// A GitHub-flavoured Markdown table: header row, separator row, one line per row. Columns are padded
// to a common width so the raw text lines up; '|' inside a cell is escaped as "\|" and newlines
// become spaces. Every row must have header.size() cells (std::invalid_argument otherwise).
std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// `v` with `significant` significant digits: "-" for NaN, "inf" / "-inf", "0" for zero, scientific
// ("1.235e-05") when |v| < 1e-3 or |v| >= 1e6, fixed otherwise ("0.1235", "12.35", "12346").
// `significant` must be in [1, 17] (std::invalid_argument otherwise).
std::string fmt_number(double v, int significant = 4);

}  // namespace scorelab
