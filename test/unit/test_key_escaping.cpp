// Fingerprint material and group keys are injective: separators inside values are escaped,
// while values without separator characters encode exactly as before escaping existed.
#include <gtest/gtest.h>

#include "grouping.hpp"
#include "test_helpers.hpp"

using ag::Severity;
using ag_test::make_alert;

namespace {
ag::Labels labels(std::vector<std::pair<std::string, std::string>> items) {
  ag::Labels l;
  for (auto &[n, v] : items) l.set(n, v);
  return l;
}
ag::GroupingConfig grouping(const std::string &json) {
  return ag::compile_rule("", json, "").grouping;
}
}  // namespace

TEST(FingerprintEscaping, LabelSeparatorsInValuesDoNotCollide) {
  const auto one = ag::fingerprint_material("m", "t", labels({{"env", "prod,host=a"}}));
  const auto two = ag::fingerprint_material("m", "t", labels({{"env", "prod"}, {"host", "a"}}));
  EXPECT_NE(one, two);
  EXPECT_EQ(one, R"(monitor:m|title:t|labels:env=prod\,host\=a)");
  EXPECT_EQ(two, "monitor:m|title:t|labels:env=prod,host=a");
}

TEST(FingerprintEscaping, LabelSeparatorsInNamesDoNotCollide) {
  EXPECT_NE(ag::fingerprint_material("", "t", labels({{"a=b", "c"}})),
            ag::fingerprint_material("", "t", labels({{"a", "b=c"}})));
  EXPECT_EQ(ag::fingerprint_material("", "t", labels({{"a=b", "c"}})),
            R"(monitor:|title:t|labels:a\=b=c)");
  EXPECT_NE(ag::fingerprint_material("", "t", labels({{"a", "1,b=2"}})),
            ag::fingerprint_material("", "t", labels({{"a", "1"}, {"b", "2"}})));
}

TEST(FingerprintEscaping, FieldSeparatorsDoNotCollide) {
  // Title text that looks like the labels field.
  EXPECT_NE(ag::fingerprint_material("", "x|labels:a=1", ag::Labels{}),
            ag::fingerprint_material("", "x", labels({{"a", "1|labels:"}})));
  EXPECT_EQ(ag::fingerprint_material("", "x|labels:a=1", ag::Labels{}),
            R"(monitor:|title:x\|labels:a=1|labels:)");
  // Monitor text that looks like the title field.
  EXPECT_NE(ag::fingerprint_material("m|title:a", "b", ag::Labels{}),
            ag::fingerprint_material("m", "a|title:b", ag::Labels{}));
}

TEST(FingerprintEscaping, BackslashesAreEscaped) {
  // Without escaping the backslash, "a\" + "," and "a" + "\," would both read a\,.
  EXPECT_NE(ag::fingerprint_material("", "t", labels({{"x", "a\\"}, {"y", "b"}})),
            ag::fingerprint_material("", "t", labels({{"x", "a\\,y=b"}})));
  EXPECT_EQ(ag::fingerprint_material("", R"(C:\Temp)", labels({{"p", R"(a\b)"}})),
            R"(monitor:|title:c:\\temp|labels:p=a\\b)");
}

TEST(FingerprintEscaping, OrdinaryDataIsUnchanged) {
  // Pinned: stored fingerprints of such alerts must not change. ':' '/' '.' '-' '@' and
  // spaces are not separators.
  const auto l = labels({{"app.kubernetes.io/name", "api-gateway"},
                         {"env", "prod"},
                         {"instance", "10.0.0.7:9100"},
                         {"owner", "ops@example.com"}});
  EXPECT_EQ(ag::fingerprint_material("0f8fad5b-d9cb-469f-a165-70867728950e",
                                     " Error: Disk 91% full on db-7 (/var) ", l),
            "monitor:0f8fad5b-d9cb-469f-a165-70867728950e|title:error: disk 91% full on db-7 "
            "(/var)|labels:app.kubernetes.io/name=api-gateway,env=prod,instance=10.0.0.7:9100,"
            "owner=ops@example.com");
}

TEST(GroupKeyEscaping, PipeInValuesDoesNotCollide) {
  const auto g1 = grouping(R"({"group_by": ["labels.a"]})");
  const auto g2 = grouping(R"({"group_by": ["labels.a", "labels.b"]})");
  const auto forged = make_alert("t", Severity::Low, 0, {{"a", "x|labels.b:y"}});
  const auto honest = make_alert("t", Severity::Low, 0, {{"a", "x"}, {"b", "y"}});
  EXPECT_NE(ag::group_key(g1, forged), ag::group_key(g2, honest));
  EXPECT_EQ(ag::group_key(g1, forged), R"(labels.a:x\|labels.b:y)");
  EXPECT_EQ(ag::group_key(g2, honest), "labels.a:x|labels.b:y");
  // Same group_by: values that differ only in where the separator falls.
  EXPECT_NE(ag::group_key(g2, make_alert("t", Severity::Low, 0, {{"a", "x|"}, {"b", "y"}})),
            ag::group_key(g2, make_alert("t", Severity::Low, 0, {{"a", "x"}, {"b", "|y"}})));
}

TEST(GroupKeyEscaping, TitleAndBackslash) {
  const auto g = grouping(R"({"group_by": ["title", "labels.b"]})");
  EXPECT_EQ(ag::group_key(g, make_alert(R"(A|B\C)", Severity::Low, 0, {{"b", "v"}})),
            R"(title:a\|b\\c|labels.b:v)");
  EXPECT_NE(ag::group_key(g, make_alert("a\\", Severity::Low, 0, {{"b", "|x"}})),
            ag::group_key(g, make_alert("a\\|", Severity::Low, 0, {{"b", "x"}})));
}

TEST(GroupKeyEscaping, OrdinaryDataIsUnchanged) {
  // Pinned: stored group keys of such alerts must not change; ':' is not escaped in values.
  const auto a = make_alert("Error: Disk 91% on db-7", Severity::High, 0,
                            {{"instance", "10.0.0.7:9100"}, {"app.kubernetes.io/name", "api"}},
                            "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(ag::group_key(grouping(R"({"group_by": ["monitor", "severity", "title",
                                   "labels.instance", "labels.app.kubernetes.io/name"]})"),
                          a),
            "monitor:0f8fad5b-d9cb-469f-a165-70867728950e|severity:high|title:error: disk X% on "
            "db-X|labels.instance:10.0.0.7:9100|labels.app.kubernetes.io/name:api");
}
