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
  EXPECT_NE(parse_error(R"(env="prod)"), "");
  EXPECT_NE(parse_error(R"(env="prod\")"), "");
  EXPECT_NE(parse_error(R"(env="prod\)"), "");
  EXPECT_NE(parse_error(R"(env="prod" x)"), "");
  EXPECT_NE(parse_error(R"(env="prod",app="x")"), "");
  EXPECT_NE(parse_error(R"(env="a""b")"), "");
}

TEST(LabelMatcherParse, MessagesAreSpecific) {
  EXPECT_NE(parse_error(R"(env="prod)").find("unterminated"), std::string::npos);
  EXPECT_NE(parse_error(R"(env=prod")").find("unescaped double quote"), std::string::npos);
  EXPECT_NE(parse_error(R"(env<"x")").find("=, !=, =~, !~"), std::string::npos);
  EXPECT_NE(parse_error(R"(env="x" y)").find("unescaped double quote"), std::string::npos);
  EXPECT_NE(parse_error(R"(9="x")").find("label name"), std::string::npos);
}

// Alertmanager 0.25's own syntax cases (pkg/labels/parse_test.go), as amtool and
// Alertmanager configs write them, and what its server made of others (checked with the
// Debian 12 package: the values it stored for silences).
TEST(LabelMatcherParse, AlertmanagerSyntax) {
  struct Case {
    const char *text;
    const char *name;
    Op op;
    const char *value;
  };
  for (const Case &c : std::initializer_list<Case>{
           {R"(foo="bar")", "foo", Op::Equal, "bar"},
           {R"(foo=~"bar.*")", "foo", Op::Regex, "bar.*"},
           {R"(foo!="bar")", "foo", Op::NotEqual, "bar"},
           {R"(foo!~"bar.*")", "foo", Op::NotRegex, "bar.*"},
           {R"(foo="")", "foo", Op::Equal, ""},
           {R"(foo="bar,quux")", "foo", Op::Equal, "bar,quux"},
           {R"(foo = "bar")", "foo", Op::Equal, "bar"},
           {"foo=bar", "foo", Op::Equal, "bar"},
           {"foo=~bar.*", "foo", Op::Regex, "bar.*"},
           {"foo!=bar", "foo", Op::NotEqual, "bar"},
           {R"(quote="She said: \"Hi\"")", "quote", Op::Equal, R"(She said: "Hi")"},
           {R"(statuscode=~"5..")", "statuscode", Op::Regex, "5.."},
           {"tricky=~~~", "tricky", Op::Regex, "~~"},
           {R"(trickier==\\=\=\")", "trickier", Op::Equal, R"(=\=\=")"},
           {R"(contains_quote != "\"" )", "contains_quote", Op::NotEqual, "\""},
           {"job=", "job", Op::Equal, ""},
           {"job=  ", "job", Op::Equal, ""},
           {"foo=bar baz", "foo", Op::Equal, "bar baz"},
           {"x= spaced ", "x", Op::Equal, "spaced"},
           {R"(x=a\\b)", "x", Op::Equal, R"(a\b)"},
           {R"(x="a\\")", "x", Op::Equal, R"(a\)"},
           {R"(x=a\)", "x", Op::Equal, R"(a\)"},
           {"env='prod'", "env", Op::Equal, "'prod'"},
       }) {
    SCOPED_TRACE(c.text);
    ASSERT_EQ(parse_error(c.text), "");
    const auto m = LabelMatcher::parse(c.text, "k");
    EXPECT_EQ(m.name(), c.name);
    EXPECT_EQ(m.op(), c.op);
    EXPECT_EQ(m.value(), c.value);
  }
  // And what it refuses.
  for (const char *text :
       {R"(job="value)", R"(job=value")", R"(trickier==\\=\=\"")",
        R"(contains_unescaped_quote = foo"bar)", R"(invalid-name = "valid label")",
        R"(foo=~"invalid[regexp")", R"("foo=\"bar")", R"("foo="bar"")", "a:b=c"}) {
    SCOPED_TRACE(text);
    EXPECT_NE(parse_error(text), "");
  }
  // The unquoted forms mean what the quoted ones mean.
  EXPECT_TRUE(matches("env=prod", labels({{"env", "prod"}})));
  EXPECT_TRUE(matches("job=", labels({{"other", "x"}})));
  EXPECT_FALSE(matches("job=", labels({{"job", "api"}})));
  EXPECT_TRUE(matches("tricky=~~~", labels({{"tricky", "~~"}})));
  EXPECT_FALSE(matches("tricky=~~~", labels({{"tricky", "~"}})));
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
