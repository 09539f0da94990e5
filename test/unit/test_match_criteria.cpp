#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "rule.hpp"
#include "test_helpers.hpp"

using ag::Severity;
using ag_test::make_alert;

namespace {
const char *kMonitor = "0f8fad5b-d9cb-469f-a165-70867728950e";
const char *kOtherMonitor = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

ag::MatchCriteria criteria(const std::string &json) { return ag::compile_rule(json, "", "").match; }
}  // namespace

TEST(MatchCriteria, EmptyMatchesEverything) {
  const auto c = criteria("{}");
  EXPECT_TRUE(c.matches(make_alert("")));
  EXPECT_TRUE(c.matches(make_alert("anything", Severity::Info, 0, {{"a", "b"}}, kMonitor, "d")));
}

TEST(MatchCriteria, MonitorIds) {
  const auto c = criteria(std::string(R"({"monitor_ids": [")") + kMonitor + R"("]})");
  EXPECT_TRUE(c.matches(make_alert("t", Severity::Low, 0, {}, kMonitor)));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Low, 0, {}, kOtherMonitor)));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Low, 0, {}, "")));
  // Ids compare as uuids, not as text.
  EXPECT_TRUE(
      c.matches(make_alert("t", Severity::Low, 0, {}, "0F8FAD5B-D9CB-469F-A165-70867728950E")));
  const auto upper = criteria(R"({"monitor_ids": ["0F8FAD5B-D9CB-469F-A165-70867728950E"]})");
  EXPECT_TRUE(upper.matches(make_alert("t", Severity::Low, 0, {}, kMonitor)));
}

TEST(MatchCriteria, Severities) {
  const auto c = criteria(R"({"severities": ["low", "critical"]})");
  EXPECT_TRUE(c.matches(make_alert("t", Severity::Low)));
  EXPECT_TRUE(c.matches(make_alert("t", Severity::Critical)));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Medium)));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Info)));
}

TEST(MatchCriteria, MinSeverity) {
  const auto c = criteria(R"({"min_severity": "high"})");
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Info)));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Medium)));
  EXPECT_TRUE(c.matches(make_alert("t", Severity::High)));
  EXPECT_TRUE(c.matches(make_alert("t", Severity::Critical)));
}

TEST(MatchCriteria, AllLabelMatchersMustHold) {
  const auto c =
      criteria(R"({"labels": ["env=\"prod\"", "team=~\"db|infra\"", "canary!=\"true\""]})");
  EXPECT_TRUE(c.matches(make_alert("t", Severity::Low, 0, {{"env", "prod"}, {"team", "db"}})));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Low, 0, {{"env", "prod"}, {"team", "dba"}})));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Low, 0, {{"env", "dev"}, {"team", "db"}})));
  EXPECT_FALSE(c.matches(
      make_alert("t", Severity::Low, 0, {{"env", "prod"}, {"team", "infra"}, {"canary", "true"}})));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Low, 0, {})));
}

TEST(MatchCriteria, TitlePatternIsUnanchoredAndCaseInsensitive) {
  const auto c = criteria(R"({"title_pattern": "disk .*full"})");
  EXPECT_TRUE(c.matches(make_alert("Disk /var is FULL on db-1")));
  EXPECT_TRUE(c.matches(make_alert("warning: disk almost full")));
  EXPECT_FALSE(c.matches(make_alert("Memory full")));
  EXPECT_FALSE(c.matches(make_alert("")));
  const auto anchored = criteria(R"({"title_pattern": "^disk"})");
  EXPECT_TRUE(anchored.matches(make_alert("DISK full")));
  EXPECT_FALSE(anchored.matches(make_alert("the disk is full")));
}

TEST(MatchCriteria, DescriptionPattern) {
  const auto c = criteria(R"({"description_pattern": "node-\\d+"})");
  EXPECT_TRUE(c.matches(make_alert("t", Severity::Low, 0, {}, "", "seen on NODE-12 at noon")));
  EXPECT_FALSE(c.matches(make_alert("t", Severity::Low, 0, {}, "", "seen on node-x")));
  // The title is not consulted for the description pattern.
  EXPECT_FALSE(c.matches(make_alert("node-1", Severity::Low, 0, {}, "", "")));
}

TEST(MatchCriteria, EveryPresentKeyMustHold) {
  const auto c = criteria(std::string(R"({"monitor_ids": [")") + kMonitor +
                          R"("], "min_severity": "medium", "labels": ["env=\"prod\""],
                             "title_pattern": "cpu", "description_pattern": "load"})");
  const auto good =
      make_alert("CPU high", Severity::High, 0, {{"env", "prod"}}, kMonitor, "load 12");
  EXPECT_TRUE(c.matches(good));
  auto a = good;
  a.monitor_id = kOtherMonitor;
  EXPECT_FALSE(c.matches(a));
  a = good;
  a.severity = Severity::Low;
  EXPECT_FALSE(c.matches(a));
  a = good;
  a.labels.set("env", "dev");
  EXPECT_FALSE(c.matches(a));
  a = good;
  a.title = "memory high";
  EXPECT_FALSE(c.matches(a));
  a = good;
  a.description = "idle";
  EXPECT_FALSE(c.matches(a));
}

TEST(MatchCriteria, PathologicalTitlePatternRunsInLinearTime) {
  const auto c = criteria(R"({"title_pattern": "(a+)+$", "description_pattern": "^(a|a)*b"})");
  const std::string long_title = std::string(200000, 'a') + "!";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.matches(make_alert(long_title, Severity::Low, 0, {}, "", long_title)));
  EXPECT_TRUE(criteria(R"({"title_pattern": "(a+)+!$"})").matches(make_alert(long_title)));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}
