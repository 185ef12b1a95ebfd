#include <gtest/gtest.h>

#include "core/registry.h"

namespace scorelab {

TEST(Registry, UnknownNameListsKnownNames) {
  Registry<int> reg("widget");
  reg.add("alpha", 1);
  reg.add("beta", 2);
  EXPECT_EQ(reg.get("beta"), 2);
  try {
    reg.get("gamma");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("unknown widget 'gamma'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("alpha, beta"), std::string::npos) << msg;
  }
}

TEST(Registry, RefusesDuplicates) {
  Registry<int> reg("widget");
  reg.add("alpha", 1);
  EXPECT_THROW(reg.add("alpha", 2), std::logic_error);
}

TEST(Registry, ExpandsCommaListsAndAll) {
  Registry<int> reg("widget");
  reg.add("a", 1);
  reg.add("b", 2);
  EXPECT_EQ(expand_names(reg, "all"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(expand_names(reg, "b,a"), (std::vector<std::string>{"b", "a"}));
  EXPECT_THROW(expand_names(reg, "a,zz"), ConfigError);
  EXPECT_THROW(expand_names(reg, ","), ConfigError);
}

}  // namespace scorelab
