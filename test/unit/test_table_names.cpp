#include <gtest/gtest.h>

#include "table_names.hpp"

namespace {
const std::unordered_map<std::string, std::string> kShards = {{"alerts", "alerts_102008"},
                                                              {"episodes", "episodes_102040"}};
}

TEST(TableNames, RenamesMappedTables) {
  EXPECT_EQ(ag::rename_tables("UPDATE s.alerts AS a FROM s.episodes e", "s", kShards),
            "UPDATE s.alerts_102008 AS a FROM s.episodes_102040 e");
}

TEST(TableNames, LeavesOtherNamesAlone) {
  // Types, functions and tables that are not mapped keep their names.
  EXPECT_EQ(ag::rename_tables("SELECT $1::s.severity, s.flag(x) FROM s.labels", "s", kShards),
            "SELECT $1::s.severity, s.flag(x) FROM s.labels");
}

TEST(TableNames, MatchesWholeIdentifiers) {
  EXPECT_EQ(ag::rename_tables("FROM s.alerts_old, xs.alerts, s.alerts2", "s", kShards),
            "FROM s.alerts_old, xs.alerts, s.alerts2");
  EXPECT_EQ(ag::rename_tables("FROM s.alerts)", "s", kShards), "FROM s.alerts_102008)");
  EXPECT_EQ(ag::rename_tables("s.alerts", "s", kShards), "s.alerts_102008");
}

TEST(TableNames, SkipsQuotedText) {
  EXPECT_EQ(ag::rename_tables("SELECT 's.alerts', \"s.alerts\" FROM s.alerts", "s", kShards),
            "SELECT 's.alerts', \"s.alerts\" FROM s.alerts_102008");
  EXPECT_EQ(ag::rename_tables("SELECT 'it''s s.alerts' FROM s.episodes", "s", kShards),
            "SELECT 'it''s s.alerts' FROM s.episodes_102040");
}
