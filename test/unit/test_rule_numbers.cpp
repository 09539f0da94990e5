// Numbers in rule documents beyond what a double represents faithfully: jsonb keeps exact
// decimals, so the SQL layer can hand compile_rule 1e400 spelled as a 401-digit integer.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "json_numbers.hpp"
#include "test_helpers.hpp"

namespace {
std::string obj(const std::string &key, const std::string &value) {
  return "{\"" + key + "\": " + value + "}";
}
const std::string kHuge = "1" + std::string(400, '0');         // jsonb's text for 1e400
const std::string kTiny = "0." + std::string(399, '0') + "1";  // jsonb's text for 1e-400
}  // namespace

TEST(RuleNumbers, HugeNumbersNameTheirKey) {
  const char *key = "grouping_config.time_window_minutes";
  for (const std::string &v : {kHuge, "-" + kHuge, std::string("1e400"), std::string("-1E+400"),
                               kHuge + ".5", std::string("1e99999999999999999999999")}) {
    SCOPED_TRACE(v);
    EXPECT_RULE_ERROR("", obj("time_window_minutes", v), "", key, "must be between 1 and 525600");
    EXPECT_RULE_ERROR("", obj("similarity_threshold", v), "",
                      "grouping_config.similarity_threshold", "must be between 0 and 1");
    EXPECT_RULE_ERROR("", "", obj("incident_min_alerts", v), "episode_config.incident_min_alerts",
                      "must be between 1 and 1000000");
  }
}

TEST(RuleNumbers, HugeNumbersElsewhereGetTheirKeysError) {
  EXPECT_RULE_ERROR("", obj("foo", kHuge), "", "grouping_config.foo", "unknown key");
  EXPECT_RULE_ERROR(obj("monitor_ids", "[" + kHuge + "]"), "", "", "match_criteria.monitor_ids[0]",
                    "must be a string");
  EXPECT_RULE_ERROR("", "", obj("create_incident", kHuge), "episode_config.create_incident",
                    "must be a boolean");
  // Nested: the first bad key of the document is still the one reported.
  EXPECT_RULE_ERROR("", R"({"group_by": [)" + kHuge + R"(], "type": "smart"})", "",
                    "grouping_config.group_by[0]", "must be a string");
}

TEST(RuleNumbers, IntegersBeyondInt64AndUint64) {
  const char *key = "grouping_config.time_window_minutes";
  for (const char *v : {"18446744073709551616", "-9223372036854775809",
                        "123456789012345678901234567890", "-123456789012345678901234567890"}) {
    SCOPED_TRACE(v);
    EXPECT_RULE_ERROR("", obj("time_window_minutes", v), "", key, "must be between 1 and 525600");
  }
}

TEST(RuleNumbers, NegativeZero) {
  for (const char *v : {"-0", "-0.0", "-0e5", "-0.000E-3"}) {
    SCOPED_TRACE(v);
    const auto r =
        ag::compile_rule("", obj("similarity_threshold", v), obj("resolve_delay_minutes", v));
    EXPECT_EQ(r.episode.resolve_delay_minutes, 0);
    EXPECT_EQ(r.grouping.similarity_threshold, 0.0);
    EXPECT_FALSE(std::signbit(r.grouping.similarity_threshold));
    EXPECT_RULE_ERROR("", obj("time_window_minutes", v), "", "grouping_config.time_window_minutes",
                      "must be between 1 and 525600");
  }
}

TEST(RuleNumbers, FloatsWhereIntegersAreRequired) {
  const char *key = "episode_config.resolve_delay_minutes";
  // Integral floats are integers (jsonb numerics are often written 5.0).
  for (const char *v : {"5.0", "5e0", "0.5e1", "500e-2", "5.000000000000000000000000"}) {
    SCOPED_TRACE(v);
    EXPECT_EQ(
        ag::compile_rule("", "", obj("resolve_delay_minutes", v)).episode.resolve_delay_minutes, 5);
  }
  // Non-integral ones are not, even when a double would round them to an integer.
  for (const std::string &v :
       {std::string("5.5"), std::string("0.1"), std::string("5.00000000000000000001"),
        std::string("4.99999999999999999999"), std::string("1e-400"), kTiny, "5" + kTiny.substr(1),
        std::string("-1e-400")}) {
    SCOPED_TRACE(v);
    EXPECT_RULE_ERROR("", "", obj("resolve_delay_minutes", v), key, "must be an integer");
  }
}

TEST(RuleNumbers, ThresholdsAreJudgedOnTheExactValue) {
  const char *key = "grouping_config.similarity_threshold";
  // Just above 1 or just below 0, though a double rounds them to 1 and -0.
  EXPECT_RULE_ERROR("", obj("similarity_threshold", "1.00000000000000000001"), "", key,
                    "must be between 0 and 1");
  EXPECT_RULE_ERROR("", obj("similarity_threshold", "-" + kTiny), "", key,
                    "must be between 0 and 1");
  // Inside, though a double rounds them to 1 and 0.
  EXPECT_LE(ag::compile_rule("", obj("similarity_threshold", "0.99999999999999999999"), "")
                .grouping.similarity_threshold,
            1.0);
  EXPECT_GE(
      ag::compile_rule("", obj("similarity_threshold", kTiny), "").grouping.similarity_threshold,
      0.0);
}

TEST(TameJsonNumbers, LeavesOrdinaryTextAlone) {
  for (const char *text : {R"({"a": 1, "b": -2.5e3, "c": [0, -0, 1E2], "d": "1e400", "e": true})",
                           R"({"k\"1e400": 18446744073709551616})", "[1e400.5, 01e400, 1e400e1]",
                           "[1.", "\"unterminated 1e400"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(ag::internal::tame_json_numbers(text), text);
  }
}

TEST(TameJsonNumbers, RewritesMisrepresentedNumbers) {
  EXPECT_EQ(ag::internal::tame_json_numbers("[" + kHuge + ", -1e400]"), "[1e308, -1e308]");
  EXPECT_EQ(ag::internal::tame_json_numbers("[5.00000000000000000001]"), "[5.000000000000001]");
  EXPECT_EQ(ag::internal::tame_json_numbers("[4.99999999999999999999]"), "[4.999999999999999]");
  EXPECT_EQ(ag::internal::tame_json_numbers("[1e-400, -1e-400]"), "[5e-324, -5e-324]");
}
