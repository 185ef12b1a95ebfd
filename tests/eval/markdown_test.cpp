#include "eval/markdown.h"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>

namespace scorelab {
namespace {

TEST(Markdown, TableIsPaddedAndEscaped) {
  const std::string t = markdown_table({"method", "mmd2"}, {{"ncsn", "0.01"}, {"a|b", "1"}});
  EXPECT_EQ(t,
            "| method | mmd2 |\n"
            "| ------ | ---- |\n"
            "| ncsn   | 0.01 |\n"
            "| a\\|b   | 1    |\n");
  EXPECT_THROW(markdown_table({"a", "b"}, {{"only one"}}), std::invalid_argument);
  EXPECT_THROW(markdown_table({}, {}), std::invalid_argument);
}

TEST(Markdown, FmtNumber) {
  EXPECT_EQ(fmt_number(std::numeric_limits<double>::quiet_NaN()), "-");
  EXPECT_EQ(fmt_number(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(fmt_number(0.0), "0");
  EXPECT_EQ(fmt_number(0.123456), "0.1235");
  EXPECT_EQ(fmt_number(12.3456), "12.35");
  EXPECT_EQ(fmt_number(-12.3456), "-12.35");
  EXPECT_EQ(fmt_number(12345.6), "12346");
  EXPECT_EQ(fmt_number(0.00123456), "0.001235");
  EXPECT_EQ(fmt_number(1.23456e-5), "1.235e-05");
  EXPECT_EQ(fmt_number(2.5e7), "2.500e+07");
  EXPECT_EQ(fmt_number(3.14159, 2), "3.1");
  EXPECT_THROW(fmt_number(1.0, 0), std::invalid_argument);
}

}  // namespace
}  // namespace scorelab
