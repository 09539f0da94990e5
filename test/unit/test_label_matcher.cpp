#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "label_matcher.hpp"
#include "rule_error.hpp"

using ag::LabelMatcher;
using Op = ag::LabelMatcher::Op;

namespace {

ag::Labels labels(std::initializer_list<std::pair<const char *, const char *>> items) {
  ag::Labels l;
  for (const auto &[n, v] : items) l.set(n, v);
  return l;
}

bool matches(const char *matcher, const ag::Labels &l) {
  return LabelMatcher::parse(matcher, "m").matches(l);
}

// The key and message of the RuleError raised by parse, or "" when it parses.
std::string parse_error(std::string_view text,
                        const std::string &key = "match_criteria.labels[3]") {
  try {
    LabelMatcher::parse(text, key);
  } catch (const ag::RuleError &e) {
    EXPECT_EQ(e.key(), key);
    return e.what();
  }
  return "";
}

}  // namespace

TEST(LabelMatcherParse, EveryOperator) {
  auto eq = LabelMatcher::parse(R"(env="prod")", "k");
  EXPECT_EQ(eq.name(), "env");
  EXPECT_EQ(eq.op(), Op::Equal);
  EXPECT_EQ(eq.value(), "prod");
  EXPECT_EQ(LabelMatcher::parse(R"(env!="prod")", "k").op(), Op::NotEqual);
  EXPECT_EQ(LabelMatcher::parse(R"(env=~"prod")", "k").op(), Op::Regex);
  EXPECT_EQ(LabelMatcher::parse(R"(env!~"prod")", "k").op(), Op::NotRegex);
}

TEST(LabelMatcherParse, WhitespaceAroundParts) {
  auto m = LabelMatcher::parse(" \t_my_label2 \t =~ \t \"a b\"  \n", "k");
  EXPECT_EQ(m.name(), "_my_label2");
  EXPECT_EQ(m.op(), Op::Regex);
  EXPECT_EQ(m.value(), "a b");  // spaces inside the quotes are kept
}

TEST(LabelMatcherParse, EmptyValue) {
  auto m = LabelMatcher::parse(R"(env="")", "k");
  EXPECT_EQ(m.value(), "");
}

TEST(LabelMatcherParse, Escapes) {
  EXPECT_EQ(LabelMatcher::parse(R"(a="say \"hi\"")", "k").value(), "say \"hi\"");
  EXPECT_EQ(LabelMatcher::parse(R"(a="back\\slash")", "k").value(), "back\\slash");
  EXPECT_EQ(LabelMatcher::parse(R"(a="two\nlines")", "k").value(), "two\nlines");
  // Other escapes are kept as written so regex escapes work.
  EXPECT_EQ(LabelMatcher::parse(R"(a=~"\d+\.\d+")", "k").value(), R"(\d+\.\d+)");
}

TEST(LabelMatcherParse, RejectsMalformedText) {
  EXPECT_NE(parse_error(""), "");
  EXPECT_NE(parse_error("   "), "");
  EXPECT_NE(parse_error(R"(="x")"), "");
  EXPECT_NE(parse_error(R"(1env="x")"), "");
  EXPECT_NE(parse_error(R"(en-v="x")"), "");
  EXPECT_NE(parse_error(R"(app.kubernetes.io/name="x")"), "");
  EXPECT_NE(parse_error("env"), "");
  EXPECT_NE(parse_error(R"(env "x")"), "");
  EXPECT_NE(parse_error(R"(env=="x")"), "");
  EXPECT_NE(parse_error(R"(env = ~"x")"), "");
  EXPECT_NE(parse_error(R"(env~"x")"), "");
  EXPECT_NE(parse_error(R"(env<"x")"), "");
  EXPECT_NE(parse_error("env=prod"), "");
  EXPECT_NE(parse_error("env='prod'"), "");
  EXPECT_NE(parse_error("env="), "");
  EXPECT_NE(parse_error(R"(env="prod)"), "");
  EXPECT_NE(parse_error(R"(env="prod\")"), "");
  EXPECT_NE(parse_error(R"(env="prod\)"), "");
  EXPECT_NE(parse_error(R"(env="prod" x)"), "");
  EXPECT_NE(parse_error(R"(env="prod",app="x")"), "");
  EXPECT_NE(parse_error(R"(env="a""b")"), "");
}

TEST(LabelMatcherParse, MessagesAreSpecific) {
  EXPECT_NE(parse_error(R"(env="prod)").find("unterminated"), std::string::npos);
  EXPECT_NE(parse_error("env=prod").find("double-quoted"), std::string::npos);
  EXPECT_NE(parse_error(R"(env<"x")").find("=, !=, =~, !~"), std::string::npos);
  EXPECT_NE(parse_error(R"(env="x" y)").find("unexpected text"), std::string::npos);
  EXPECT_NE(parse_error(R"(9="x")").find("label name"), std::string::npos);
}

TEST(LabelMatcherParse, InvalidRegexReportsRe2Error) {
  const std::string msg = parse_error(R"(env=~"(prod")");
  EXPECT_NE(msg.find("invalid regular expression: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing )"), std::string::npos) << msg;
  EXPECT_NE(parse_error(R"(env!~"[a-")").find("invalid regular expression"), std::string::npos);
  // Backreferences are not RE2 syntax.
  EXPECT_NE(parse_error(R"(env=~"(a)\1")").find("invalid regular expression"), std::string::npos);
}

TEST(LabelMatcherParse, EqualityValueIsNotARegex) {
  // "(" is only a problem for the regex operators.
  EXPECT_EQ(parse_error(R"(env="(prod")"), "");
  EXPECT_EQ(parse_error(R"(env!="(prod")"), "");
}

TEST(LabelMatcherParse, RegexLengthLimit) {
  const std::string ok = "env=~\"" + std::string(4096, 'a') + "\"";
  const std::string too_long = "env=~\"" + std::string(4097, 'a') + "\"";
  EXPECT_EQ(parse_error(ok), "");
  EXPECT_NE(parse_error(too_long).find("4096"), std::string::npos);
}

TEST(LabelMatcherMatch, Equal) {
  EXPECT_TRUE(matches(R"(env="prod")", labels({{"env", "prod"}})));
  EXPECT_FALSE(matches(R"(env="prod")", labels({{"env", "production"}})));
  EXPECT_FALSE(matches(R"(env="prod")", labels({{"env", "PROD"}})));
  EXPECT_FALSE(matches(R"(env="prod")", labels({})));
}

TEST(LabelMatcherMatch, NotEqual) {
  EXPECT_FALSE(matches(R"(env!="prod")", labels({{"env", "prod"}})));
  EXPECT_TRUE(matches(R"(env!="prod")", labels({{"env", "dev"}})));
  EXPECT_TRUE(matches(R"(env!="prod")", labels({})));
}

TEST(LabelMatcherMatch, MissingLabelIsEmptyString) {
  const auto none = labels({{"other", "x"}});
  EXPECT_TRUE(matches(R"(env="")", none));
  EXPECT_FALSE(matches(R"(env!="")", none));
  EXPECT_TRUE(matches(R"(env=~"")", none));
  EXPECT_TRUE(matches(R"(env=~".*")", none));
  EXPECT_FALSE(matches(R"(env=~".+")", none));
  EXPECT_TRUE(matches(R"(env!~".+")", none));
  EXPECT_FALSE(matches(R"(env!~".*")", none));
  // A label set to "" behaves exactly like a missing one.
  EXPECT_TRUE(matches(R"(env="")", labels({{"env", ""}})));
  EXPECT_TRUE(matches(R"(env!="")", labels({{"env", "x"}})));
}

TEST(LabelMatcherMatch, RegexIsFullyAnchored) {
  EXPECT_TRUE(matches(R"(env=~"prod")", labels({{"env", "prod"}})));
  EXPECT_FALSE(matches(R"(env=~"prod")", labels({{"env", "production"}})));
  EXPECT_FALSE(matches(R"(env=~"prod")", labels({{"env", "preprod"}})));
  EXPECT_TRUE(matches(R"(env=~"prod.*")", labels({{"env", "production"}})));
  EXPECT_TRUE(matches(R"(env=~".*prod")", labels({{"env", "preprod"}})));
  // Anchoring covers the whole alternation, not just its ends.
  EXPECT_TRUE(matches(R"(env=~"dev|prod")", labels({{"env", "dev"}})));
  EXPECT_FALSE(matches(R"(env=~"dev|prod")", labels({{"env", "devx"}})));
  EXPECT_FALSE(matches(R"(env=~"dev|prod")", labels({{"env", "xprod"}})));
}

TEST(LabelMatcherMatch, NotRegexIsFullyAnchored) {
  EXPECT_TRUE(matches(R"(env!~"prod")", labels({{"env", "production"}})));
  EXPECT_FALSE(matches(R"(env!~"prod")", labels({{"env", "prod"}})));
  EXPECT_FALSE(matches(R"(env!~"prod|dev")", labels({{"env", "dev"}})));
}

TEST(LabelMatcherMatch, RegexIsCaseSensitive) {
  EXPECT_FALSE(matches(R"(env=~"prod")", labels({{"env", "PROD"}})));
  EXPECT_TRUE(matches(R"(env=~"(?i)prod")", labels({{"env", "PROD"}})));
}

TEST(LabelMatcherMatch, EscapedRegexClasses) {
  EXPECT_TRUE(matches(R"(version=~"\d+\.\d+")", labels({{"version", "12.4"}})));
  EXPECT_FALSE(matches(R"(version=~"\d+\.\d+")", labels({{"version", "12x4"}})));
  // "\\\\" unescapes to the regex \\, a literal backslash; "\\b" would be a word boundary.
  EXPECT_TRUE(matches(R"(q=~"a\\\\b")", labels({{"q", "a\\b"}})));
  EXPECT_FALSE(matches(R"(q=~"a\\b")", labels({{"q", "a\\b"}})));
}

TEST(LabelMatcherMatch, PathologicalPatternRunsInLinearTime) {
  const auto start = std::chrono::steady_clock::now();
  const auto l = labels({{"v", (std::string(100000, 'a') + "!").c_str()}});
  EXPECT_FALSE(matches(R"(v=~"(a+)+$")", l));
  EXPECT_FALSE(matches(R"(v=~"(a|aa)*")", l));
  EXPECT_TRUE(matches(R"(v!~"(a*)*b")", l));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(LabelMatcherMatch, CopiesShareTheCompiledRegex) {
  const auto m = LabelMatcher::parse(R"(env=~"p.*")", "k");
  const LabelMatcher copy = m;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_TRUE(copy.matches(labels({{"env", "prod"}})));
  EXPECT_FALSE(copy.matches(labels({{"env", "dev"}})));
}
