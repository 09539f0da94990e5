#include <gtest/gtest.h>

#include "grouping.hpp"
#include "test_helpers.hpp"

using ag::Severity;
using ag_test::make_alert;

namespace {
ag::GroupingConfig grouping(const std::string &json) {
  return ag::compile_rule("", json, "").grouping;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// normalize_title

TEST(NormalizeTitle, Example) {
  EXPECT_EQ(ag::normalize_title("Disk 91% on db-7"), "disk X% on db-X");
}

TEST(NormalizeTitle, DigitRunsBecomeOneX) {
  EXPECT_EQ(ag::normalize_title("12345"), "X");
  EXPECT_EQ(ag::normalize_title("a1b22c333"), "aXbXcX");
  EXPECT_EQ(ag::normalize_title("10.0.0.1"), "X.X.X.X");
  EXPECT_EQ(ag::normalize_title("error 500 at 12:05"), "error X at X:X");
}

TEST(NormalizeTitle, LowerCasesAsciiOnly) {
  EXPECT_EQ(ag::normalize_title("CPU High"), "cpu high");
  // Non-ASCII bytes pass through unchanged.
  EXPECT_EQ(ag::normalize_title("\xC3\x89T\xC3\x89"), "\xC3\x89t\xC3\x89");
}

TEST(NormalizeTitle, Whitespace) {
  EXPECT_EQ(ag::normalize_title("  cpu \t\n high  "), "cpu high");
  EXPECT_EQ(ag::normalize_title("a\r\nb"), "a b");
  EXPECT_EQ(ag::normalize_title(" \t "), "");
  EXPECT_EQ(ag::normalize_title(""), "");
  EXPECT_EQ(ag::normalize_title(" 1 2  3 "), "X X X");
}

// ---------------------------------------------------------------------------------------------
// group_key

TEST(GroupKey, DefaultWithoutGroupBy) {
  EXPECT_EQ(ag::group_key(grouping("{}"), make_alert("x")), "default");
  EXPECT_EQ(ag::group_key(grouping(R"({"type": "field", "group_by": []})"), make_alert("x")),
            "default");
}

TEST(GroupKey, EachKind) {
  const auto a = make_alert("Disk 91% on db-7", Severity::High, 0, {{"env", "prod"}},
                            "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(ag::group_key(grouping(R"({"group_by": ["monitor"]})"), a),
            "monitor:0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(ag::group_key(grouping(R"({"group_by": ["severity"]})"), a), "severity:high");
  EXPECT_EQ(ag::group_key(grouping(R"({"group_by": ["title"]})"), a), "title:disk X% on db-X");
  EXPECT_EQ(ag::group_key(grouping(R"({"group_by": ["labels.env"]})"), a), "labels.env:prod");
}

TEST(GroupKey, PartsJoinedInGroupByOrder) {
  const auto a = make_alert("CPU", Severity::Low, 0, {{"env", "prod"}, {"app", "api"}}, "");
  EXPECT_EQ(
      ag::group_key(
          grouping(R"({"group_by": ["labels.env", "severity", "labels.app", "monitor"]})"), a),
      "labels.env:prod|severity:low|labels.app:api|monitor:");
  EXPECT_EQ(ag::group_key(grouping(R"({"group_by": ["labels.app", "labels.env"]})"), a),
            "labels.app:api|labels.env:prod");
}

TEST(GroupKey, MissingLabelIsEmpty) {
  EXPECT_EQ(ag::group_key(grouping(R"({"group_by": ["labels.app.kubernetes.io/name", "title"]})"),
                          make_alert("x")),
            "labels.app.kubernetes.io/name:|title:x");
}

TEST(GroupKey, TitleKeyIgnoresNumbersAndCase) {
  const auto g = grouping(R"({"group_by": ["title"]})");
  EXPECT_EQ(ag::group_key(g, make_alert("Disk 91% on db-7")),
            ag::group_key(g, make_alert("disk 45%  on DB-12 ")));
  EXPECT_NE(ag::group_key(g, make_alert("Disk 91% on db-7")),
            ag::group_key(g, make_alert("Disk 91% on web-7")));
}

// ---------------------------------------------------------------------------------------------
// title_similarity

TEST(TitleSimilarity, EqualIsOne) {
  EXPECT_DOUBLE_EQ(ag::title_similarity("disk full", "disk full"), 1.0);
  EXPECT_DOUBLE_EQ(ag::title_similarity("Disk 91% on db-7", "disk 3% on DB-12"), 1.0);
  EXPECT_DOUBLE_EQ(ag::title_similarity("", ""), 1.0);
  EXPECT_DOUBLE_EQ(ag::title_similarity("  ", ""), 1.0);
  EXPECT_DOUBLE_EQ(ag::title_similarity("a", "A"), 1.0);
}

TEST(TitleSimilarity, DisjointIsZero) {
  EXPECT_DOUBLE_EQ(ag::title_similarity("abc", "xyz"), 0.0);
  EXPECT_DOUBLE_EQ(ag::title_similarity("ab", "ba"), 0.0);
}

TEST(TitleSimilarity, ShortStrings) {
  EXPECT_DOUBLE_EQ(ag::title_similarity("a", "b"), 0.0);
  EXPECT_DOUBLE_EQ(ag::title_similarity("a", "ab"), 0.0);
  EXPECT_DOUBLE_EQ(ag::title_similarity("", "ab"), 0.0);
  EXPECT_DOUBLE_EQ(ag::title_similarity("7", "8"), 1.0);  // both normalise to "X"
}

TEST(TitleSimilarity, KnownValues) {
  // night: ni ig gh ht; nacht: na ac ch ht -> 2*1/8
  EXPECT_DOUBLE_EQ(ag::title_similarity("night", "nacht"), 0.25);
  // Multiset: aaaa has three "aa" bigrams, aa has one -> 2*1/4
  EXPECT_DOUBLE_EQ(ag::title_similarity("aaaa", "aa"), 0.5);
  // disk full: di is sk "k " " f" fu ul ll (8); disk fill: ... fi il ll (8); common 6 -> 12/16
  EXPECT_DOUBLE_EQ(ag::title_similarity("disk full", "disk fill"), 0.75);
}

TEST(TitleSimilarity, SymmetricAndBounded) {
  const char *titles[] = {"CPU high on web-1", "cpu load high", "Disk full", "", "x", "memory"};
  for (const char *a : titles) {
    for (const char *b : titles) {
      const double s = ag::title_similarity(a, b);
      EXPECT_DOUBLE_EQ(s, ag::title_similarity(b, a));
      EXPECT_GE(s, 0.0);
      EXPECT_LE(s, 1.0);
    }
  }
}

TEST(TitleSimilarity, RanksCloserTitlesHigher) {
  const double close = ag::title_similarity("CPU high on web-1", "CPU high on web-2 (api)");
  const double far = ag::title_similarity("CPU high on web-1", "Disk full on db-2");
  EXPECT_GT(close, far);
  EXPECT_GT(close, 0.75);
  EXPECT_LT(far, 0.5);
}

// ---------------------------------------------------------------------------------------------
// render_title_template / fill_alert_count

TEST(TitleTemplate, RendersEveryPlaceholder) {
  const auto a = make_alert("Disk full", Severity::Critical, 0, {{"host", "db-1"}},
                            "0f8fad5b-d9cb-469f-a165-70867728950e", "it is full");
  EXPECT_EQ(ag::render_title_template(
                "[{{severity}}] {{title}} / {{description}} / {{monitor_id}} / {{labels.host}} / "
                "{{group_key}}",
                a, "labels.host:db-1"),
            "[critical] Disk full / it is full / 0f8fad5b-d9cb-469f-a165-70867728950e / db-1 / "
            "labels.host:db-1");
}

TEST(TitleTemplate, WhitespaceInsideBraces) {
  const auto a = make_alert("T", Severity::Low);
  EXPECT_EQ(ag::render_title_template("{{ title }}-{{\tseverity\t}}-{{  labels.x }}", a, "k"),
            "T-low-");
}

TEST(TitleTemplate, MissingLabelRendersEmpty) {
  EXPECT_EQ(ag::render_title_template("host=<{{labels.host}}>", make_alert("t"), "k"), "host=<>");
}

TEST(TitleTemplate, AlertCountIsKeptThenFilled) {
  const auto a = make_alert("Disk full");
  const std::string rendered =
      ag::render_title_template("{{title}} ({{alert_count}} alerts, {{ alert_count }})", a, "k");
  EXPECT_EQ(rendered, "Disk full ({{alert_count}} alerts, {{alert_count}})");
  EXPECT_EQ(ag::fill_alert_count(rendered, 1), "Disk full (1 alerts, 1)");
  EXPECT_EQ(ag::fill_alert_count(rendered, 12345), "Disk full (12345 alerts, 12345)");
}

TEST(TitleTemplate, LiteralTextIsUntouched) {
  const auto a = make_alert("T");
  EXPECT_EQ(ag::render_title_template("", a, "k"), "");
  EXPECT_EQ(ag::render_title_template("no placeholders", a, "k"), "no placeholders");
  EXPECT_EQ(ag::render_title_template("{title} {{title} {{title", a, "k"),
            "{title} {{title} {{title");
  EXPECT_EQ(ag::render_title_template("50%}} {{title}}", a, "k"), "50%}} T");
}

TEST(TitleTemplate, UnknownPlaceholderIsVerbatim) {
  EXPECT_EQ(ag::render_title_template("{{ nope }} {{title}}", make_alert("T"), "k"),
            "{{ nope }} T");
}

TEST(TitleTemplate, SubstitutedValuesAreNotExpandedAgain) {
  const auto a = make_alert("has {{severity}} inside", Severity::High);
  EXPECT_EQ(ag::render_title_template("{{title}}: {{severity}}", a, "k"),
            "has {{severity}} inside: high");
}

TEST(FillAlertCount, ReplacesOnlyTheCanonicalPlaceholder) {
  EXPECT_EQ(ag::fill_alert_count("no count", 3), "no count");
  EXPECT_EQ(ag::fill_alert_count("", 3), "");
  EXPECT_EQ(ag::fill_alert_count("{{alert_count}}{{alert_count}}", 0), "00");
  EXPECT_EQ(ag::fill_alert_count("{{alert_count}", 7), "{{alert_count}");
}

// ---------------------------------------------------------------------------------------------
// Fingerprint material

TEST(FingerprintMaterial, Format) {
  ag::Labels l;
  l.set("zone", "b");
  l.set("app", "api");
  l.set("env", "prod");
  EXPECT_EQ(
      ag::fingerprint_material("0f8fad5b-d9cb-469f-a165-70867728950e", "  Disk FULL 91% ", l),
      "monitor:0f8fad5b-d9cb-469f-a165-70867728950e|title:disk full 91%|labels:app=api,env=prod,"
      "zone=b");
}

TEST(FingerprintMaterial, LabelOrderDoesNotDependOnInsertion) {
  ag::Labels a, b;
  a.set("x", "1");
  a.set("a", "2");
  b.set("a", "2");
  b.set("x", "1");
  EXPECT_EQ(ag::fingerprint_material("", "t", a), ag::fingerprint_material("", "t", b));
  EXPECT_EQ(ag::fingerprint_material("", "t", a), "monitor:|title:t|labels:a=2,x=1");
}

TEST(FingerprintMaterial, NoLabelsAndInnerWhitespaceKept) {
  EXPECT_EQ(ag::fingerprint_material("", "", ag::Labels{}), "monitor:|title:|labels:");
  // Only surrounding whitespace is trimmed; digits are not normalised.
  EXPECT_EQ(ag::fingerprint_material("m", "\tA  B 12\n", ag::Labels{}),
            "monitor:m|title:a  b 12|labels:");
}

TEST(FingerprintMaterial, DedupKey) {
  EXPECT_EQ(ag::dedup_key_material("abc-123"), "dedup_key:abc-123");
  EXPECT_EQ(ag::dedup_key_material(""), "dedup_key:");
}
