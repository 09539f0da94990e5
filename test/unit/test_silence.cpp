#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rule_error.hpp"
#include "silence.hpp"

namespace {

ag::Labels labels(std::initializer_list<std::pair<const char *, const char *>> items) {
  ag::Labels l;
  for (const auto &[n, v] : items) l.set(n, v);
  return l;
}

ag::Silence silence(std::vector<std::string> matchers, int64_t starts, int64_t ends,
                    std::string id = "s") {
  ag::Silence s;
  s.id = std::move(id);
  s.starts_us = starts;
  s.ends_us = ends;
  s.matchers = ag::parse_silence_matchers(matchers);
  return s;
}

// The key of the RuleError parse_silence_matchers raises, "" when the matchers are accepted.
std::string refused_key(std::vector<std::string> matchers) {
  try {
    ag::parse_silence_matchers(matchers);
  } catch (const ag::RuleError &e) {
    return e.key();
  }
  return "";
}

}  // namespace

TEST(Silence, AllMatchersMustMatch) {
  ag::Silence s = silence({"alertname=DiskFull", "env=~prod|staging"}, 0, 100);
  EXPECT_TRUE(s.matches(labels({{"alertname", "DiskFull"}, {"env", "prod"}})));
  EXPECT_FALSE(s.matches(labels({{"alertname", "DiskFull"}, {"env", "dev"}})));
  EXPECT_FALSE(s.matches(labels({{"env", "prod"}})));
}

TEST(Silence, ActiveFromStartUntilEnd) {
  ag::Silence s = silence({"alertname=\"A\""}, 10, 20);
  EXPECT_FALSE(s.active_at(9));
  EXPECT_TRUE(s.active_at(10));
  EXPECT_TRUE(s.active_at(19));
  EXPECT_FALSE(s.active_at(20));  // ends_at itself is no longer silenced
}

TEST(Silence, HoldingSilenceIsTheFirstActiveMatch) {
  std::vector<ag::Silence> all = {silence({"alertname=A"}, 0, 10, "ended"),
                                  silence({"alertname=B"}, 0, 100, "other"),
                                  silence({"alertname=A"}, 5, 100, "held")};
  ag::Labels a = labels({{"alertname", "A"}});
  ASSERT_NE(ag::holding_silence(all, a, 50), nullptr);
  EXPECT_EQ(ag::holding_silence(all, a, 50)->id, "held");
  EXPECT_EQ(ag::holding_silence(all, a, 7)->id, "ended");
  EXPECT_EQ(ag::holding_silence(all, a, 100), nullptr);
  EXPECT_EQ(ag::holding_silence(all, labels({{"alertname", "C"}}), 50), nullptr);
}

TEST(Silence, MissingLabelIsTheEmptyValue) {
  ag::Silence s = silence({"alertname=A", "team="}, 0, 10);
  EXPECT_TRUE(s.matches(labels({{"alertname", "A"}})));
  EXPECT_FALSE(s.matches(labels({{"alertname", "A"}, {"team", "db"}})));
}

// Alertmanager refuses a silence whose matchers all match the empty string: it would mute
// every alert, including those without the labels.
TEST(Silence, RefusedAsAlertmanagerRefusesThem) {
  EXPECT_EQ(refused_key({}), "matchers");
  EXPECT_EQ(refused_key({"team="}), "matchers");
  EXPECT_EQ(refused_key({"team=~.*", "env!=prod"}), "matchers");
  EXPECT_EQ(refused_key({"alertname=A", "bad name=x"}), "matchers[2]");
  EXPECT_EQ(refused_key({"alertname=~(unclosed"}), "matchers[1]");
  EXPECT_EQ(refused_key({"team=", "alertname=A"}), "");
  EXPECT_EQ(refused_key({"env!~.*"}), "");  // matches nothing, but not the empty string
}
