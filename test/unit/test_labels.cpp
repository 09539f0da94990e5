#include <gtest/gtest.h>

#include "alert.hpp"

TEST(Labels, SetKeepsItemsSortedAndUnique) {
  ag::Labels l;
  l.set("zone", "b");
  l.set("app", "api");
  l.set("env", "prod");
  l.set("app", "web");  // replaces
  ASSERT_EQ(l.items().size(), 3u);
  EXPECT_EQ(l.items()[0], (std::pair<std::string, std::string>{"app", "web"}));
  EXPECT_EQ(l.items()[1], (std::pair<std::string, std::string>{"env", "prod"}));
  EXPECT_EQ(l.items()[2], (std::pair<std::string, std::string>{"zone", "b"}));
}

TEST(Labels, OrderIsBytewise) {
  ag::Labels l;
  l.set("a", "1");
  l.set("\xc3\xa9t\xc3\xa9", "2");  // UTF-8 lead byte sorts after every ASCII byte
  l.set("B", "3");
  l.set("_", "4");
  ASSERT_EQ(l.items().size(), 4u);
  EXPECT_EQ(l.items()[0].first, "B");
  EXPECT_EQ(l.items()[1].first, "_");
  EXPECT_EQ(l.items()[2].first, "a");
  EXPECT_EQ(l.items()[3].first, "\xc3\xa9t\xc3\xa9");
}

TEST(Labels, MissingLabelReadsAsEmpty) {
  ag::Labels l;
  EXPECT_EQ(l.get("env"), "");
  EXPECT_FALSE(l.has("env"));
  l.set("env", "");
  EXPECT_TRUE(l.has("env"));
  EXPECT_EQ(l.get("env"), "");
  l.set("host", "db-1");
  EXPECT_EQ(l.get("host"), "db-1");
  EXPECT_FALSE(l.has("hos"));
  EXPECT_FALSE(l.has("hostx"));
  EXPECT_EQ(l.get("hostx"), "");
}
