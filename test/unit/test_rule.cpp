#include <gtest/gtest.h>

#include <string>

#include "rule.hpp"
#include "rule_error.hpp"
#include "test_helpers.hpp"

using ag::GroupingType;
using ag::Severity;

namespace {
const char *kUuidA = "0f8fad5b-d9cb-469f-a165-70867728950e";
const char *kUuidB = "7C9E6679-7425-40DE-944B-E07FC1F90AE7";

std::string obj(const std::string &key, const std::string &value) {
  return "{\"" + key + "\": " + value + "}";
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Defaults and successful parses

TEST(CompileRule, EmptyDocumentsGiveDefaults) {
  for (const char *text : {"", "{}", "  { }  "}) {
    const ag::Rule r = ag::compile_rule(text, text, text);
    EXPECT_TRUE(r.match.monitor_ids.empty());
    EXPECT_TRUE(r.match.severities.empty());
    EXPECT_FALSE(r.match.min_severity.has_value());
    EXPECT_TRUE(r.match.labels.empty());
    EXPECT_EQ(r.match.title_pattern, nullptr);
    EXPECT_EQ(r.match.description_pattern, nullptr);
    EXPECT_EQ(r.grouping.type, GroupingType::TimeWindow);
    EXPECT_TRUE(r.grouping.group_by.empty());
    EXPECT_FALSE(r.grouping.time_window_minutes.has_value());
    EXPECT_DOUBLE_EQ(r.grouping.similarity_threshold, 0.75);
    EXPECT_FALSE(r.episode.title_template.has_value());
    EXPECT_TRUE(r.episode.resolve_when_alerts_resolved);
    EXPECT_EQ(r.episode.resolve_delay_minutes, 0);
    EXPECT_EQ(r.episode.reopen_window_minutes, 0);
    EXPECT_FALSE(r.episode.inactivity_timeout_minutes.has_value());
    EXPECT_FALSE(r.episode.create_incident);
    EXPECT_FALSE(r.episode.incident_min_severity.has_value());
    EXPECT_EQ(r.episode.incident_min_alerts, 1);
    EXPECT_FALSE(r.episode.escalation_policy_id.has_value());
    EXPECT_TRUE(r.episode.owner_user_ids.empty());
    EXPECT_TRUE(r.episode.owner_team_ids.empty());
    EXPECT_TRUE(r.episode.label_ids.empty());
  }
}

TEST(CompileRule, FullDocuments) {
  const std::string match = std::string(R"({
    "monitor_ids": [")") + kUuidA +
                            R"(", ")" + kUuidB + R"("],
    "severities": ["high", "critical"],
    "min_severity": "low",
    "labels": ["env=\"prod\"", "team=~\"db|infra\""],
    "title_pattern": "disk .* full",
    "description_pattern": "^node"
  })";
  const std::string grouping = R"({
    "type": "smart",
    "group_by": ["monitor", "severity", "title", "labels.app.kubernetes.io/name"],
    "time_window_minutes": 30,
    "similarity_threshold": 0.5
  })";
  const std::string episode = std::string(R"J({
    "title_template": "{{ severity }}: {{title}} on {{labels.host}} ({{alert_count}})",
    "resolve_when_alerts_resolved": false,
    "resolve_delay_minutes": 5,
    "reopen_window_minutes": 60,
    "inactivity_timeout_minutes": 120,
    "create_incident": true,
    "incident_min_severity": "high",
    "incident_min_alerts": 3,
    "escalation_policy_id": ")J") +
                              kUuidB + R"(",
    "owner_user_ids": [")" + kUuidA +
                              R"("],
    "owner_team_ids": [")" + kUuidB +
                              R"("],
    "label_ids": []
  })";
  const ag::Rule r = ag::compile_rule(match, grouping, episode);

  ASSERT_EQ(r.match.monitor_ids.size(), 2u);
  EXPECT_EQ(r.match.monitor_ids[0], kUuidA);
  EXPECT_EQ(r.match.monitor_ids[1], "7c9e6679-7425-40de-944b-e07fc1f90ae7");  // lower-cased
  EXPECT_EQ(r.match.severities, (std::vector<Severity>{Severity::High, Severity::Critical}));
  EXPECT_EQ(r.match.min_severity, Severity::Low);
  ASSERT_EQ(r.match.labels.size(), 2u);
  EXPECT_EQ(r.match.labels[0].name(), "env");
  EXPECT_EQ(r.match.labels[1].op(), ag::LabelMatcher::Op::Regex);
  EXPECT_NE(r.match.title_pattern, nullptr);
  EXPECT_NE(r.match.description_pattern, nullptr);

  EXPECT_EQ(r.grouping.type, GroupingType::Smart);
  EXPECT_EQ(r.grouping.group_by, (std::vector<std::string>{"monitor", "severity", "title",
                                                           "labels.app.kubernetes.io/name"}));
  EXPECT_EQ(r.grouping.time_window_minutes, 30);
  EXPECT_DOUBLE_EQ(r.grouping.similarity_threshold, 0.5);

  EXPECT_EQ(r.episode.title_template,
            "{{ severity }}: {{title}} on {{labels.host}} ({{alert_count}})");
  EXPECT_FALSE(r.episode.resolve_when_alerts_resolved);
  EXPECT_EQ(r.episode.resolve_delay_minutes, 5);
  EXPECT_EQ(r.episode.reopen_window_minutes, 60);
  EXPECT_EQ(r.episode.inactivity_timeout_minutes, 120);
  EXPECT_TRUE(r.episode.create_incident);
  EXPECT_EQ(r.episode.incident_min_severity, Severity::High);
  EXPECT_EQ(r.episode.incident_min_alerts, 3);
  EXPECT_EQ(r.episode.escalation_policy_id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
  EXPECT_EQ(r.episode.owner_user_ids, (std::vector<std::string>{kUuidA}));
  EXPECT_EQ(r.episode.owner_team_ids,
            (std::vector<std::string>{"7c9e6679-7425-40de-944b-e07fc1f90ae7"}));
  EXPECT_TRUE(r.episode.label_ids.empty());
}

TEST(CompileRule, GroupingTypes) {
  EXPECT_EQ(ag::compile_rule("", R"({"type":"time_window"})", "").grouping.type,
            GroupingType::TimeWindow);
  EXPECT_EQ(ag::compile_rule("", R"({"type":"field"})", "").grouping.type, GroupingType::Field);
  EXPECT_EQ(ag::compile_rule("", R"({"type":"smart"})", "").grouping.type, GroupingType::Smart);
}

TEST(CompileRule, IntegralFloatsAreIntegers) {
  const ag::Rule r =
      ag::compile_rule("", R"({"time_window_minutes": 15.0})", R"({"incident_min_alerts": 2e1})");
  EXPECT_EQ(r.grouping.time_window_minutes, 15);
  EXPECT_EQ(r.episode.incident_min_alerts, 20);
}

TEST(CompileRule, RangeBoundsAreInclusive) {
  EXPECT_EQ(ag::compile_rule("", obj("time_window_minutes", "1"), "").grouping.time_window_minutes,
            1);
  EXPECT_EQ(
      ag::compile_rule("", obj("time_window_minutes", "525600"), "").grouping.time_window_minutes,
      525600);
  EXPECT_EQ(
      ag::compile_rule("", "", obj("resolve_delay_minutes", "0")).episode.resolve_delay_minutes, 0);
  EXPECT_EQ(ag::compile_rule("", "", obj("resolve_delay_minutes", "525600"))
                .episode.resolve_delay_minutes,
            525600);
  EXPECT_EQ(
      ag::compile_rule("", "", obj("reopen_window_minutes", "0")).episode.reopen_window_minutes, 0);
  EXPECT_EQ(ag::compile_rule("", "", obj("reopen_window_minutes", "525600"))
                .episode.reopen_window_minutes,
            525600);
  EXPECT_EQ(ag::compile_rule("", "", obj("inactivity_timeout_minutes", "1"))
                .episode.inactivity_timeout_minutes,
            1);
  EXPECT_EQ(ag::compile_rule("", "", obj("inactivity_timeout_minutes", "525600"))
                .episode.inactivity_timeout_minutes,
            525600);
  EXPECT_EQ(ag::compile_rule("", "", obj("incident_min_alerts", "1")).episode.incident_min_alerts,
            1);
  EXPECT_EQ(
      ag::compile_rule("", "", obj("incident_min_alerts", "1000000")).episode.incident_min_alerts,
      1000000);
  EXPECT_DOUBLE_EQ(
      ag::compile_rule("", obj("similarity_threshold", "0"), "").grouping.similarity_threshold,
      0.0);
  EXPECT_DOUBLE_EQ(
      ag::compile_rule("", obj("similarity_threshold", "1"), "").grouping.similarity_threshold,
      1.0);
  EXPECT_DOUBLE_EQ(
      ag::compile_rule("", obj("similarity_threshold", "0.9"), "").grouping.similarity_threshold,
      0.9);
}

TEST(CompileRule, EmptyPatternsAndArraysAreAccepted) {
  const ag::Rule r = ag::compile_rule(
      R"({"monitor_ids": [], "severities": [], "labels": [], "title_pattern": ""})",
      R"({"group_by": []})", R"({"title_template": ""})");
  EXPECT_TRUE(r.match.monitor_ids.empty());
  EXPECT_NE(r.match.title_pattern, nullptr);
  EXPECT_TRUE(r.grouping.group_by.empty());
  EXPECT_EQ(r.episode.title_template, "");
}

TEST(CompileRule, RuleIsCopyable) {
  const ag::Rule original =
      ag::compile_rule(R"({"title_pattern": "disk", "labels": ["env=~\"prod\""]})", "", "");
  const ag::Rule copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  auto alert = ag_test::make_alert("Disk full", Severity::High, 0, {{"env", "prod"}});
  EXPECT_TRUE(copy.match.matches(alert));
  EXPECT_EQ(copy.match.title_pattern, original.match.title_pattern);  // shared, not recompiled
  alert.labels.set("env", "dev");
  EXPECT_FALSE(copy.match.matches(alert));
}

// ---------------------------------------------------------------------------------------------
// Document-level errors

TEST(CompileRuleErrors, DocumentsMustBeObjects) {
  for (const char *bad : {"[]", "1", "\"x\"", "null", "true", "{", "not json", "{\"a\":}", " "}) {
    SCOPED_TRACE(bad);
    EXPECT_RULE_ERROR(bad, "", "", "match_criteria", "must be a JSON object");
    EXPECT_RULE_ERROR("", bad, "", "grouping_config", "must be a JSON object");
    EXPECT_RULE_ERROR("", "", bad, "episode_config", "must be a JSON object");
  }
}

TEST(CompileRuleErrors, UnknownKeys) {
  EXPECT_RULE_ERROR(R"({"monitor_id": []})", "", "", "match_criteria.monitor_id", "unknown key");
  EXPECT_RULE_ERROR("", R"({"window": 5})", "", "grouping_config.window", "unknown key");
  EXPECT_RULE_ERROR("", "", R"({"foo": 1})", "episode_config.foo", "unknown key");
  // Keys belong to their own document only.
  EXPECT_RULE_ERROR(R"({"type": "smart"})", "", "", "match_criteria.type", "unknown key");
  EXPECT_RULE_ERROR("", R"({"title_template": "x"})", "", "grouping_config.title_template",
                    "unknown key");
  EXPECT_RULE_ERROR("", "", R"({"labels": []})", "episode_config.labels", "unknown key");
  // Key names are case-sensitive.
  EXPECT_RULE_ERROR("", R"({"Type": "smart"})", "", "grouping_config.Type", "unknown key");
}

TEST(CompileRuleErrors, FirstDocumentIsReportedFirst) {
  EXPECT_RULE_ERROR(R"({"x": 1})", R"({"y": 1})", R"({"z": 1})", "match_criteria.x", "unknown key");
  EXPECT_RULE_ERROR("{}", "[]", R"({"z": 1})", "grouping_config", "must be a JSON object");
}

TEST(CompileRuleErrors, MessageFormat) {
  const auto err = ag_test::compile_error("", R"({"time_window_minutes": 0})", "");
  ASSERT_TRUE(err);
  EXPECT_STREQ(err->what(), "grouping_config.time_window_minutes: must be between 1 and 525600");
}

// ---------------------------------------------------------------------------------------------
// match_criteria

TEST(CompileRuleErrors, MonitorIds) {
  EXPECT_RULE_ERROR(obj("monitor_ids", "\"x\""), "", "", "match_criteria.monitor_ids",
                    "must be an array of strings");
  EXPECT_RULE_ERROR(obj("monitor_ids", std::string("\"") + kUuidA + "\""), "", "",
                    "match_criteria.monitor_ids", "must be an array of strings");
  EXPECT_RULE_ERROR(obj("monitor_ids", "{}"), "", "", "match_criteria.monitor_ids",
                    "must be an array of strings");
  EXPECT_RULE_ERROR(obj("monitor_ids", std::string("[\"") + kUuidA + "\", 5]"), "", "",
                    "match_criteria.monitor_ids[1]", "must be a string");
  EXPECT_RULE_ERROR(obj("monitor_ids", std::string("[\"") + kUuidA + "\", \"nope\"]"), "", "",
                    "match_criteria.monitor_ids[1]", "must be a uuid");
  EXPECT_RULE_ERROR(obj("monitor_ids", "[null]"), "", "", "match_criteria.monitor_ids[0]",
                    "must be a string");
}

TEST(CompileRuleErrors, Severities) {
  EXPECT_RULE_ERROR(obj("severities", "\"high\""), "", "", "match_criteria.severities",
                    "must be an array of strings");
  EXPECT_RULE_ERROR(obj("severities", "[\"high\", \"urgent\"]"), "", "",
                    "match_criteria.severities[1]",
                    "must be one of info, low, medium, high, critical");
  EXPECT_RULE_ERROR(obj("severities", "[\"High\"]"), "", "", "match_criteria.severities[0]",
                    "must be one of");
  EXPECT_RULE_ERROR(obj("severities", "[3]"), "", "", "match_criteria.severities[0]",
                    "must be a string");
}

TEST(CompileRuleErrors, MinSeverity) {
  EXPECT_RULE_ERROR(obj("min_severity", "\"warning\""), "", "", "match_criteria.min_severity",
                    "must be one of info, low, medium, high, critical");
  EXPECT_RULE_ERROR(obj("min_severity", "3"), "", "", "match_criteria.min_severity",
                    "must be a string");
  EXPECT_RULE_ERROR(obj("min_severity", "[\"high\"]"), "", "", "match_criteria.min_severity",
                    "must be a string");
}

TEST(CompileRuleErrors, Labels) {
  EXPECT_RULE_ERROR(obj("labels", "\"env=\\\"prod\\\"\""), "", "", "match_criteria.labels",
                    "must be an array of strings");
  EXPECT_RULE_ERROR(obj("labels", "{\"env\": \"prod\"}"), "", "", "match_criteria.labels",
                    "must be an array of strings");
  EXPECT_RULE_ERROR(obj("labels", "[\"env=\\\"prod\\\"\", \"env prod\"]"), "", "",
                    "match_criteria.labels[1]", "invalid matcher");
  EXPECT_RULE_ERROR(obj("labels", "[\"env=~\\\"(\\\"\"]"), "", "", "match_criteria.labels[0]",
                    "invalid regular expression: ");
  EXPECT_RULE_ERROR(obj("labels", "[\"a=\\\"b\\\"\", true]"), "", "", "match_criteria.labels[1]",
                    "must be a string");
}

TEST(CompileRuleErrors, Patterns) {
  for (const char *key : {"title_pattern", "description_pattern"}) {
    SCOPED_TRACE(key);
    const std::string full = std::string("match_criteria.") + key;
    EXPECT_RULE_ERROR(obj(key, "\"disk (full\""), "", "", full,
                      "invalid regular expression: missing ): disk (full");
    EXPECT_RULE_ERROR(obj(key, "\"a{2,1}\""), "", "", full, "invalid regular expression: ");
    EXPECT_RULE_ERROR(obj(key, "\"(?<=a)b\""), "", "", full, "invalid regular expression: ");
    EXPECT_RULE_ERROR(obj(key, "5"), "", "", full, "must be a string");
    EXPECT_RULE_ERROR(obj(key, "[\"a\"]"), "", "", full, "must be a string");
    EXPECT_RULE_ERROR(obj(key, "\"" + std::string(4097, 'a') + "\""), "", "", full,
                      "must be at most 4096 characters");
    EXPECT_FALSE(ag_test::compile_error(obj(key, "\"" + std::string(4096, 'a') + "\"")));
  }
}

TEST(CompileRuleErrors, PatternLengthCountsCharactersNotBytes) {
  // 4096 two-byte characters: 8192 bytes but within the limit.
  std::string pattern;
  for (int i = 0; i < 4096; ++i) pattern += "\xc3\xa9";
  EXPECT_FALSE(ag_test::compile_error(obj("title_pattern", "\"" + pattern + "\"")));
  EXPECT_RULE_ERROR(obj("title_pattern", "\"" + pattern + "e\""), "", "",
                    "match_criteria.title_pattern", "at most 4096");
}

// ---------------------------------------------------------------------------------------------
// grouping_config

TEST(CompileRuleErrors, GroupingType) {
  EXPECT_RULE_ERROR("", obj("type", "\"window\""), "", "grouping_config.type",
                    "must be one of time_window, field, smart");
  EXPECT_RULE_ERROR("", obj("type", "\"Smart\""), "", "grouping_config.type", "must be one of");
  EXPECT_RULE_ERROR("", obj("type", "\"\""), "", "grouping_config.type", "must be one of");
  EXPECT_RULE_ERROR("", obj("type", "1"), "", "grouping_config.type", "must be a string");
  EXPECT_RULE_ERROR("", obj("type", "null"), "", "grouping_config.type", "must be a string");
}

TEST(CompileRuleErrors, GroupBy) {
  EXPECT_RULE_ERROR("", obj("group_by", "\"monitor\""), "", "grouping_config.group_by",
                    "must be an array of strings");
  for (const char *bad : {"host", "", "labels.", "labels", "labels.a b", "labels.a:b", "Monitor",
                          " monitor", "labels.{x}", "label.env"}) {
    SCOPED_TRACE(bad);
    EXPECT_RULE_ERROR("", obj("group_by", std::string("[\"monitor\", \"") + bad + "\"]"), "",
                      "grouping_config.group_by[1]",
                      "must be one of monitor, severity, title, labels.<name>");
  }
  EXPECT_RULE_ERROR("", obj("group_by", "[\"title\", 1]"), "", "grouping_config.group_by[1]",
                    "must be a string");
  for (const char *good : {"labels.env", "labels._x", "labels.app.kubernetes.io/name",
                           "labels.topology-zone", "labels.0"}) {
    SCOPED_TRACE(good);
    EXPECT_FALSE(ag_test::compile_error("", obj("group_by", std::string("[\"") + good + "\"]")));
  }
}

TEST(CompileRuleErrors, TimeWindowMinutes) {
  const char *key = "grouping_config.time_window_minutes";
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "0"), "", key, "must be between 1 and 525600");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "-5"), "", key, "must be between 1 and 525600");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "525601"), "", key,
                    "must be between 1 and 525600");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "1e12"), "", key, "must be between");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "18446744073709551615"), "", key,
                    "must be between");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "-9223372036854775808"), "", key,
                    "must be between");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "5.5"), "", key, "must be an integer");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "\"5\""), "", key, "must be an integer");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "true"), "", key, "must be an integer");
  EXPECT_RULE_ERROR("", obj("time_window_minutes", "null"), "", key, "must be an integer");
}

TEST(CompileRuleErrors, SimilarityThreshold) {
  const char *key = "grouping_config.similarity_threshold";
  EXPECT_RULE_ERROR("", obj("similarity_threshold", "1.01"), "", key, "must be between 0 and 1");
  EXPECT_RULE_ERROR("", obj("similarity_threshold", "-0.1"), "", key, "must be between 0 and 1");
  EXPECT_RULE_ERROR("", obj("similarity_threshold", "2"), "", key, "must be between 0 and 1");
  EXPECT_RULE_ERROR("", obj("similarity_threshold", "\"0.5\""), "", key, "must be a number");
  EXPECT_RULE_ERROR("", obj("similarity_threshold", "false"), "", key, "must be a number");
}

// ---------------------------------------------------------------------------------------------
// episode_config

TEST(CompileRuleErrors, EpisodeIntegers) {
  struct Case {
    const char *key;
    const char *below;
    const char *above;
    const char *range;
  };
  for (const Case &c : {Case{"resolve_delay_minutes", "-1", "525601", "between 0 and 525600"},
                        Case{"reopen_window_minutes", "-1", "525601", "between 0 and 525600"},
                        Case{"inactivity_timeout_minutes", "0", "525601", "between 1 and 525600"},
                        Case{"incident_min_alerts", "0", "1000001", "between 1 and 1000000"}}) {
    SCOPED_TRACE(c.key);
    const std::string key = std::string("episode_config.") + c.key;
    EXPECT_RULE_ERROR("", "", obj(c.key, c.below), key, c.range);
    EXPECT_RULE_ERROR("", "", obj(c.key, c.above), key, c.range);
    EXPECT_RULE_ERROR("", "", obj(c.key, "1.5"), key, "must be an integer");
    EXPECT_RULE_ERROR("", "", obj(c.key, "\"10\""), key, "must be an integer");
    EXPECT_RULE_ERROR("", "", obj(c.key, "[10]"), key, "must be an integer");
  }
}

TEST(CompileRuleErrors, EpisodeBooleans) {
  for (const char *k : {"resolve_when_alerts_resolved", "create_incident"}) {
    SCOPED_TRACE(k);
    const std::string key = std::string("episode_config.") + k;
    EXPECT_RULE_ERROR("", "", obj(k, "1"), key, "must be a boolean");
    EXPECT_RULE_ERROR("", "", obj(k, "\"true\""), key, "must be a boolean");
    EXPECT_RULE_ERROR("", "", obj(k, "null"), key, "must be a boolean");
  }
}

TEST(CompileRuleErrors, IncidentMinSeverity) {
  EXPECT_RULE_ERROR("", "", obj("incident_min_severity", "\"sev1\""),
                    "episode_config.incident_min_severity",
                    "must be one of info, low, medium, high, critical");
  EXPECT_RULE_ERROR("", "", obj("incident_min_severity", "4"),
                    "episode_config.incident_min_severity", "must be a string");
}

TEST(CompileRuleErrors, Uuids) {
  EXPECT_RULE_ERROR("", "", obj("escalation_policy_id", "\"abc\""),
                    "episode_config.escalation_policy_id", "must be a uuid");
  EXPECT_RULE_ERROR("", "", obj("escalation_policy_id", "[]"),
                    "episode_config.escalation_policy_id", "must be a string");
  for (const char *k : {"owner_user_ids", "owner_team_ids", "label_ids"}) {
    SCOPED_TRACE(k);
    const std::string key = std::string("episode_config.") + k;
    EXPECT_RULE_ERROR("", "", obj(k, std::string("\"") + kUuidA + "\""), key,
                      "must be an array of strings");
    EXPECT_RULE_ERROR("", "", obj(k, std::string("[\"") + kUuidA + "\", \"x\"]"), key + "[1]",
                      "must be a uuid");
    EXPECT_RULE_ERROR("", "", obj(k, "[1]"), key + "[0]", "must be a string");
  }
}

TEST(CompileRuleErrors, TitleTemplate) {
  const char *key = "episode_config.title_template";
  EXPECT_RULE_ERROR("", "", obj("title_template", "{\"a\": 1}"), key, "must be a string");
  EXPECT_RULE_ERROR("", "", obj("title_template", "\"{{foo}}\""), key,
                    "unknown placeholder {{foo}}");
  EXPECT_RULE_ERROR("", "", obj("title_template", "\"ok {{title}} then {{ nope }}\""), key,
                    "unknown placeholder {{nope}}");
  EXPECT_RULE_ERROR("", "", obj("title_template", "\"{{}}\""), key, "unknown placeholder {{}}");
  EXPECT_RULE_ERROR("", "", obj("title_template", "\"{{labels.}}\""), key,
                    "unknown placeholder {{labels.}}");
  EXPECT_RULE_ERROR("", "", obj("title_template", "\"{{labels.a b}}\""), key,
                    "unknown placeholder {{labels.a b}}");
  EXPECT_RULE_ERROR("", "", obj("title_template", "\"{{Title}}\""), key,
                    "unknown placeholder {{Title}}");
  EXPECT_RULE_ERROR("", "", obj("title_template", "\"" + std::string(1001, 'x') + "\""), key,
                    "must be at most 1000 characters");
  EXPECT_FALSE(
      ag_test::compile_error("", "", obj("title_template", "\"" + std::string(1000, 'x') + "\"")));
  EXPECT_FALSE(ag_test::compile_error(
      "", "",
      obj("title_template",
          "\"{{title}}{{description}}{{severity}}{{monitor_id}}{{group_key}}{{alert_count}}"
          "{{labels.env}}{{ labels.app.kubernetes.io/name }}{{\\tseverity\\t}}\"")));
  // Text that is not a complete placeholder is literal.
  EXPECT_FALSE(ag_test::compile_error("", "", obj("title_template", "\"{{title} and {single}\"")));
  EXPECT_FALSE(ag_test::compile_error("", "", obj("title_template", "\"100%}} done\"")));
}

// ---------------------------------------------------------------------------------------------
// is_uuid

TEST(IsUuid, AcceptsCanonicalFormAnyCase) {
  EXPECT_TRUE(ag::is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
  EXPECT_TRUE(ag::is_uuid("7C9E6679-7425-40DE-944B-E07FC1F90AE7"));
  EXPECT_TRUE(ag::is_uuid("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(ag::is_uuid("aBcDeF01-2345-6789-abcd-EF0123456789"));
}

TEST(IsUuid, RejectsEverythingElse) {
  EXPECT_FALSE(ag::is_uuid(""));
  EXPECT_FALSE(ag::is_uuid("0f8fad5bd9cb469fa16570867728950e"));
  EXPECT_FALSE(ag::is_uuid("{0f8fad5b-d9cb-469f-a165-70867728950e}"));
  EXPECT_FALSE(ag::is_uuid("0f8fad5b-d9cb-469f-a165-70867728950"));
  EXPECT_FALSE(ag::is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e0"));
  EXPECT_FALSE(ag::is_uuid("0f8fad5g-d9cb-469f-a165-70867728950e"));
  EXPECT_FALSE(ag::is_uuid("0f8fad5b-d9cb-469f-a16570867728950e-"));
  EXPECT_FALSE(ag::is_uuid("0f8fad5b_d9cb_469f_a165_70867728950e"));
  EXPECT_FALSE(ag::is_uuid(" f8fad5b-d9cb-469f-a165-70867728950e"));
}
