#include <gtest/gtest.h>

#include "grouping.hpp"
#include "planner.hpp"
#include "test_helpers.hpp"

using ag::EpisodeState;
using ag::Planner;
using ag::Severity;
using ag_test::kMinuteUs;
using ag_test::make_alert;

namespace {

constexpr int64_t kWindowUs = 60 * kMinuteUs;

ag::Rule rule(const std::string &grouping = "", const std::string &episode = "") {
  return ag::compile_rule("", grouping, episode);
}

EpisodeState existing(const std::string &id, const std::string &key, int64_t last_activity_min,
                      Severity severity = Severity::Medium, const std::string &first_title = "t") {
  EpisodeState e;
  e.id = id;
  e.group_key = key;
  e.first_title = first_title;
  e.started_at_us = (last_activity_min - 10) * kMinuteUs;
  e.last_activity_us = last_activity_min * kMinuteUs;
  e.severity = severity;
  e.alert_count = 4;
  return e;
}

EpisodeState resolved(const std::string &id, const std::string &key, int64_t resolved_min,
                      const std::string &first_title = "t") {
  EpisodeState e = existing(id, key, resolved_min - 5, Severity::Medium, first_title);
  e.resolved = true;
  e.resolved_at_us = resolved_min * kMinuteUs;
  e.reopen_count = 2;
  return e;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// New episodes and the rolling window

TEST(Planner, FirstAlertCreatesAnEpisode) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  const auto a = make_alert("Disk full", Severity::High, 7);
  const auto placement = p.place(a, "default");
  ASSERT_EQ(p.episodes().size(), 1u);
  EXPECT_EQ(placement.episode, 0u);
  EXPECT_FALSE(placement.similarity_score.has_value());
  const EpisodeState &e = p.episodes()[0];
  EXPECT_EQ(e.id, "");
  EXPECT_EQ(e.group_key, "default");
  EXPECT_EQ(e.first_title, "Disk full");
  EXPECT_FALSE(e.resolved);
  EXPECT_EQ(e.started_at_us, 7 * kMinuteUs);
  EXPECT_EQ(e.last_activity_us, 7 * kMinuteUs);
  EXPECT_EQ(e.severity, Severity::High);
  EXPECT_EQ(e.alert_count, 1);
  EXPECT_EQ(e.added, 1);
  EXPECT_EQ(e.reopen_count, 0);
  EXPECT_TRUE(e.created);
  EXPECT_FALSE(e.reopened);
  EXPECT_FALSE(e.severity_raised);
}

TEST(Planner, JoinsWithinWindow) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.place(make_alert("a", Severity::Low, 0), "default");
  const auto second = p.place(make_alert("b", Severity::Low, 10), "default");
  ASSERT_EQ(p.episodes().size(), 1u);
  EXPECT_EQ(second.episode, 0u);
  const EpisodeState &e = p.episodes()[0];
  EXPECT_EQ(e.alert_count, 2);
  EXPECT_EQ(e.added, 2);
  EXPECT_EQ(e.started_at_us, 0);
  EXPECT_EQ(e.last_activity_us, 10 * kMinuteUs);
  EXPECT_EQ(e.first_title, "a");
}

TEST(Planner, WindowBoundaryIsInclusive) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.place(make_alert("a", Severity::Low, 0), "default");
  EXPECT_EQ(p.place(make_alert("b", Severity::Low, 60), "default").episode, 0u);
  ASSERT_EQ(p.episodes().size(), 1u);
}

TEST(Planner, NewEpisodeAfterTheGap) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.place(make_alert("a", Severity::Low, 0), "default");
  auto a = make_alert("b", Severity::Low, 60);
  a.created_at_us += 1;  // one microsecond past the window
  const auto placement = p.place(a, "default");
  ASSERT_EQ(p.episodes().size(), 2u);
  EXPECT_EQ(placement.episode, 1u);
  EXPECT_EQ(p.episodes()[0].alert_count, 1);
  EXPECT_EQ(p.episodes()[1].alert_count, 1);
  EXPECT_EQ(p.episodes()[1].started_at_us, 60 * kMinuteUs + 1);
  EXPECT_TRUE(p.episodes()[1].created);
}

TEST(Planner, WindowRollsWithLastActivity) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(p.place(make_alert("a", Severity::Low, 50 * i), "default").episode, 0u) << i;
  }
  ASSERT_EQ(p.episodes().size(), 1u);
  EXPECT_EQ(p.episodes()[0].alert_count, 10);
  EXPECT_EQ(p.episodes()[0].started_at_us, 0);
  EXPECT_EQ(p.episodes()[0].last_activity_us, 450 * kMinuteUs);
}

TEST(Planner, UsesTheGivenWindowNotTheRuleField) {
  // The caller resolves the project default; the planner only sees window_us.
  const auto r = rule(R"({"time_window_minutes": 5})");
  Planner p(r, 30 * kMinuteUs);
  p.place(make_alert("a", Severity::Low, 0), "default");
  EXPECT_EQ(p.place(make_alert("a", Severity::Low, 20), "default").episode, 0u);
  EXPECT_EQ(p.place(make_alert("a", Severity::Low, 51), "default").episode, 1u);
}

TEST(Planner, SeparateKeysMakeSeparateEpisodes) {
  const auto r = rule(R"({"type": "field", "group_by": ["labels.host"]})");
  Planner p(r, kWindowUs);
  const auto a1 = make_alert("x", Severity::Low, 0, {{"host", "a"}});
  const auto b1 = make_alert("x", Severity::Low, 1, {{"host", "b"}});
  const auto a2 = make_alert("x", Severity::Low, 2, {{"host", "a"}});
  EXPECT_EQ(p.place(a1, ag::group_key(r.grouping, a1)).episode, 0u);
  EXPECT_EQ(p.place(b1, ag::group_key(r.grouping, b1)).episode, 1u);
  EXPECT_EQ(p.place(a2, ag::group_key(r.grouping, a2)).episode, 0u);
  ASSERT_EQ(p.episodes().size(), 2u);
  EXPECT_EQ(p.episodes()[0].group_key, "labels.host:a");
  EXPECT_EQ(p.episodes()[0].alert_count, 2);
  EXPECT_EQ(p.episodes()[1].group_key, "labels.host:b");
  EXPECT_EQ(p.episodes()[1].alert_count, 1);
}

// ---------------------------------------------------------------------------------------------
// Existing episodes

TEST(Planner, JoinsExistingOpenEpisode) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.add_existing(existing("e1", "default", 100));
  const auto placement = p.place(make_alert("x", Severity::Low, 130), "default");
  ASSERT_EQ(p.episodes().size(), 1u);
  EXPECT_EQ(placement.episode, 0u);
  const EpisodeState &e = p.episodes()[0];
  EXPECT_EQ(e.id, "e1");
  EXPECT_EQ(e.alert_count, 5);
  EXPECT_EQ(e.added, 1);
  EXPECT_EQ(e.last_activity_us, 130 * kMinuteUs);
  EXPECT_EQ(e.started_at_us, 90 * kMinuteUs);
  EXPECT_FALSE(e.created);
  EXPECT_FALSE(e.reopened);
}

TEST(Planner, ExistingEpisodeOutsideWindowIsNotJoined) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.add_existing(existing("e1", "default", 100));
  EXPECT_EQ(p.place(make_alert("x", Severity::Low, 161), "default").episode, 1u);
  EXPECT_EQ(p.episodes()[0].added, 0);
  EXPECT_EQ(p.episodes()[0].alert_count, 4);
}

TEST(Planner, ExistingEpisodeOfAnotherKeyIsNotJoined) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.add_existing(existing("e1", "labels.host:a", 100));
  EXPECT_EQ(p.place(make_alert("x", Severity::Low, 101), "labels.host:b").episode, 1u);
}

TEST(Planner, JoinsTheMostRecentlyActiveCandidate) {
  const auto r = rule();
  for (bool reversed : {false, true}) {
    Planner p(r, kWindowUs);
    EpisodeState older = existing("older", "default", 100);
    EpisodeState newer = existing("newer", "default", 120);
    if (reversed) std::swap(older, newer);
    p.add_existing(older);
    p.add_existing(newer);
    const auto placement = p.place(make_alert("x", Severity::Low, 130), "default");
    EXPECT_EQ(p.episodes()[placement.episode].id, "newer");
  }
}

TEST(Planner, LateAlertDoesNotMoveLastActivityBack) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.add_existing(existing("e1", "default", 100));
  EXPECT_EQ(p.place(make_alert("x", Severity::Low, 95), "default").episode, 0u);
  EXPECT_EQ(p.episodes()[0].last_activity_us, 100 * kMinuteUs);
  EXPECT_EQ(p.episodes()[0].added, 1);
}

TEST(Planner, AddExistingResetsPlannerFields) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  EpisodeState e = existing("e1", "default", 0, Severity::High);
  e.created = true;
  e.reopened = true;
  e.severity_raised = true;
  e.added = 9;
  e.severity_before = Severity::Info;
  p.add_existing(e);
  const EpisodeState &s = p.episodes()[0];
  EXPECT_FALSE(s.created);
  EXPECT_FALSE(s.reopened);
  EXPECT_FALSE(s.severity_raised);
  EXPECT_EQ(s.added, 0);
  EXPECT_EQ(s.severity_before, Severity::High);
}

// ---------------------------------------------------------------------------------------------
// Severity

TEST(Planner, SeverityOnlyRises) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.place(make_alert("a", Severity::Medium, 0), "default");
  p.place(make_alert("a", Severity::Low, 1), "default");
  EXPECT_EQ(p.episodes()[0].severity, Severity::Medium);
  p.place(make_alert("a", Severity::Critical, 2), "default");
  EXPECT_EQ(p.episodes()[0].severity, Severity::Critical);
  p.place(make_alert("a", Severity::Info, 3), "default");
  EXPECT_EQ(p.episodes()[0].severity, Severity::Critical);
  // A new episode reports no raise: there was nothing to raise from.
  EXPECT_FALSE(p.episodes()[0].severity_raised);
}

TEST(Planner, SeverityRaisedOnExistingEpisode) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.add_existing(existing("e1", "default", 100, Severity::Medium));
  p.place(make_alert("x", Severity::High, 101), "default");
  p.place(make_alert("x", Severity::Critical, 102), "default");
  const EpisodeState &e = p.episodes()[0];
  EXPECT_EQ(e.severity, Severity::Critical);
  EXPECT_EQ(e.severity_before, Severity::Medium);
  EXPECT_TRUE(e.severity_raised);
}

TEST(Planner, NoRaiseForEqualOrLowerSeverity) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.add_existing(existing("e1", "default", 100, Severity::High));
  p.place(make_alert("x", Severity::High, 101), "default");
  p.place(make_alert("x", Severity::Low, 102), "default");
  const EpisodeState &e = p.episodes()[0];
  EXPECT_EQ(e.severity, Severity::High);
  EXPECT_EQ(e.severity_before, Severity::High);
  EXPECT_FALSE(e.severity_raised);
}

// ---------------------------------------------------------------------------------------------
// Reopen

TEST(Planner, ReopensWithinReopenWindow) {
  const auto r = rule("", R"({"reopen_window_minutes": 30})");
  Planner p(r, kWindowUs);
  p.add_existing(resolved("e1", "default", 100));
  const auto placement = p.place(make_alert("x", Severity::Low, 120), "default");
  ASSERT_EQ(p.episodes().size(), 1u);
  EXPECT_EQ(placement.episode, 0u);
  const EpisodeState &e = p.episodes()[0];
  EXPECT_FALSE(e.resolved);
  EXPECT_TRUE(e.reopened);
  EXPECT_FALSE(e.created);
  EXPECT_EQ(e.reopen_count, 3);
  EXPECT_EQ(e.alert_count, 5);
  EXPECT_EQ(e.added, 1);
  EXPECT_EQ(e.last_activity_us, 120 * kMinuteUs);
}

TEST(Planner, ReopenWindowBoundaries) {
  const auto r = rule("", R"({"reopen_window_minutes": 30})");
  {
    Planner p(r, kWindowUs);
    p.add_existing(resolved("e1", "default", 100));
    EXPECT_EQ(p.place(make_alert("x", Severity::Low, 130), "default").episode, 0u);
    EXPECT_TRUE(p.episodes()[0].reopened);
  }
  {
    Planner p(r, kWindowUs);
    p.add_existing(resolved("e1", "default", 100));
    auto a = make_alert("x", Severity::Low, 130);
    a.created_at_us += 1;
    EXPECT_EQ(p.place(a, "default").episode, 1u);
    EXPECT_TRUE(p.episodes()[0].resolved);
    EXPECT_FALSE(p.episodes()[0].reopened);
    EXPECT_EQ(p.episodes()[0].reopen_count, 2);
    EXPECT_TRUE(p.episodes()[1].created);
  }
  {
    // An alert older than the resolution does not reopen it.
    Planner p(r, kWindowUs);
    p.add_existing(resolved("e1", "default", 100));
    EXPECT_EQ(p.place(make_alert("x", Severity::Low, 99), "default").episode, 1u);
    EXPECT_TRUE(p.episodes()[0].resolved);
  }
}

TEST(Planner, NoReopenWhenReopenWindowIsZero) {
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.add_existing(resolved("e1", "default", 100));
  EXPECT_EQ(p.place(make_alert("x", Severity::Low, 100), "default").episode, 1u);
  EXPECT_TRUE(p.episodes()[0].resolved);
  EXPECT_FALSE(p.episodes()[0].reopened);
}

TEST(Planner, ResolvedEpisodeIsNeverJoinedAsOpen) {
  // Within the time window of its last activity, but resolved and reopen is off.
  const auto r = rule();
  Planner p(r, kWindowUs);
  p.add_existing(resolved("e1", "default", 100));
  EXPECT_EQ(p.place(make_alert("x", Severity::Low, 101), "default").episode, 1u);
}

TEST(Planner, OpenEpisodeIsPreferredOverReopen) {
  const auto r = rule("", R"({"reopen_window_minutes": 60})");
  Planner p(r, kWindowUs);
  p.add_existing(resolved("closed", "default", 100));
  p.add_existing(existing("open", "default", 90));
  const auto placement = p.place(make_alert("x", Severity::Low, 110), "default");
  EXPECT_EQ(p.episodes()[placement.episode].id, "open");
  EXPECT_TRUE(p.episodes()[0].resolved);
}

TEST(Planner, ReopensTheMostRecentlyResolved) {
  const auto r = rule("", R"({"reopen_window_minutes": 60})");
  for (bool reversed : {false, true}) {
    Planner p(r, kWindowUs);
    EpisodeState older = resolved("older", "default", 100);
    EpisodeState newer = resolved("newer", "default", 110);
    if (reversed) std::swap(older, newer);
    p.add_existing(older);
    p.add_existing(newer);
    const auto placement = p.place(make_alert("x", Severity::Low, 120), "default");
    EXPECT_EQ(p.episodes()[placement.episode].id, "newer");
    EXPECT_TRUE(p.episodes()[placement.episode].reopened);
    EXPECT_FALSE(p.episodes()[1 - placement.episode].reopened);
  }
}

TEST(Planner, ReopenRespectsTheKey) {
  const auto r = rule("", R"({"reopen_window_minutes": 60})");
  Planner p(r, kWindowUs);
  p.add_existing(resolved("e1", "labels.host:a", 100));
  EXPECT_EQ(p.place(make_alert("x", Severity::Low, 101), "labels.host:b").episode, 1u);
  EXPECT_TRUE(p.episodes()[0].resolved);
}

TEST(Planner, ReopenedEpisodeTakesFollowingAlerts) {
  const auto r = rule("", R"({"reopen_window_minutes": 60})");
  Planner p(r, kWindowUs);
  p.add_existing(resolved("e1", "default", 100));
  p.place(make_alert("x", Severity::Low, 110), "default");
  p.place(make_alert("x", Severity::High, 150), "default");
  ASSERT_EQ(p.episodes().size(), 1u);
  const EpisodeState &e = p.episodes()[0];
  EXPECT_EQ(e.reopen_count, 3);  // reopened once, then joined as open
  EXPECT_EQ(e.added, 2);
  EXPECT_TRUE(e.severity_raised);
}

// ---------------------------------------------------------------------------------------------
// Smart grouping

TEST(PlannerSmart, JoinsTheMostSimilarOpenEpisode) {
  const auto r = rule(R"({"type": "smart", "similarity_threshold": 0.5})");
  Planner p(r, kWindowUs);
  p.add_existing(existing("cpu", "default", 100, Severity::Low, "CPU high on web-1"));
  p.add_existing(existing("disk", "default", 105, Severity::Low, "Disk full on db-1"));
  const auto a = make_alert("Disk full on db-9", Severity::Low, 110);
  const auto placement = p.place(a, "default");
  EXPECT_EQ(p.episodes()[placement.episode].id, "disk");
  ASSERT_TRUE(placement.similarity_score.has_value());
  EXPECT_DOUBLE_EQ(*placement.similarity_score, 1.0);

  const auto b = make_alert("CPU high on web-2 (api)", Severity::Low, 111);
  const auto placement_b = p.place(b, "default");
  EXPECT_EQ(p.episodes()[placement_b.episode].id, "cpu");
  ASSERT_TRUE(placement_b.similarity_score.has_value());
  EXPECT_DOUBLE_EQ(*placement_b.similarity_score,
                   ag::title_similarity("CPU high on web-1", "CPU high on web-2 (api)"));
  EXPECT_LT(*placement_b.similarity_score, 1.0);
}

TEST(PlannerSmart, MostSimilarWinsOverMostRecent) {
  const auto r = rule(R"({"type": "smart", "similarity_threshold": 0.1})");
  Planner p(r, kWindowUs);
  p.add_existing(existing("similar", "default", 100, Severity::Low, "disk full on db"));
  p.add_existing(existing("recent", "default", 109, Severity::Low, "disk fill on db"));
  const auto placement = p.place(make_alert("disk full on db", Severity::Low, 110), "default");
  EXPECT_EQ(p.episodes()[placement.episode].id, "similar");
}

TEST(PlannerSmart, BelowThresholdCreatesANewEpisode) {
  const auto r = rule(R"({"type": "smart", "similarity_threshold": 0.8})");
  Planner p(r, kWindowUs);
  p.add_existing(existing("disk", "default", 100, Severity::Low, "disk full"));
  // 0.75 similar: just below the threshold.
  const auto placement = p.place(make_alert("disk fill", Severity::Low, 101), "default");
  EXPECT_EQ(placement.episode, 1u);
  EXPECT_TRUE(p.episodes()[1].created);
  EXPECT_EQ(p.episodes()[1].first_title, "disk fill");
  ASSERT_TRUE(placement.similarity_score.has_value());
  EXPECT_DOUBLE_EQ(*placement.similarity_score, 1.0);  // the new episode's own first title
  EXPECT_EQ(p.episodes()[0].added, 0);
}

TEST(PlannerSmart, ThresholdIsInclusive) {
  const auto r = rule(R"({"type": "smart", "similarity_threshold": 0.75})");
  Planner p(r, kWindowUs);
  p.add_existing(existing("disk", "default", 100, Severity::Low, "disk full"));
  const auto placement = p.place(make_alert("disk fill", Severity::Low, 101), "default");
  EXPECT_EQ(placement.episode, 0u);
  EXPECT_DOUBLE_EQ(*placement.similarity_score, 0.75);
}

TEST(PlannerSmart, SimilarityIsAgainstTheFirstTitle) {
  const auto r = rule(R"({"type": "smart", "similarity_threshold": 0.9})");
  Planner p(r, kWindowUs);
  p.place(make_alert("disk full", Severity::Low, 0), "default");
  // Similar to neither the first title nor drift from it.
  EXPECT_EQ(p.place(make_alert("disk fill", Severity::Low, 1), "default").episode, 1u);
  EXPECT_EQ(p.place(make_alert("Disk Full", Severity::Low, 2), "default").episode, 0u);
  EXPECT_EQ(p.place(make_alert("disk fill", Severity::Low, 3), "default").episode, 1u);
  EXPECT_EQ(p.episodes()[0].first_title, "disk full");
}

TEST(PlannerSmart, RespectsKeyAndWindow) {
  const auto r = rule(R"({"type": "smart", "group_by": ["labels.env"]})");
  Planner p(r, kWindowUs);
  p.add_existing(existing("prod", "labels.env:prod", 100, Severity::Low, "disk full"));
  EXPECT_EQ(p.place(make_alert("disk full", Severity::Low, 101), "labels.env:dev").episode, 1u);
  EXPECT_EQ(p.place(make_alert("disk full", Severity::Low, 161), "labels.env:prod").episode, 2u);
}

TEST(PlannerSmart, ThresholdZeroJoinsAnything) {
  const auto r = rule(R"({"type": "smart", "similarity_threshold": 0})");
  Planner p(r, kWindowUs);
  p.place(make_alert("abc", Severity::Low, 0), "default");
  const auto placement = p.place(make_alert("xyz", Severity::Low, 1), "default");
  EXPECT_EQ(placement.episode, 0u);
  EXPECT_DOUBLE_EQ(*placement.similarity_score, 0.0);
}

TEST(PlannerSmart, ReopenRequiresSimilarity) {
  const auto r =
      rule(R"({"type": "smart", "similarity_threshold": 0.8})", R"({"reopen_window_minutes": 60})");
  {
    Planner p(r, kWindowUs);
    p.add_existing(resolved("disk", "default", 100, "disk full on db-1"));
    const auto placement = p.place(make_alert("CPU high", Severity::Low, 110), "default");
    EXPECT_EQ(placement.episode, 1u);
    EXPECT_TRUE(p.episodes()[0].resolved);
  }
  {
    Planner p(r, kWindowUs);
    p.add_existing(resolved("disk", "default", 100, "disk full on db-1"));
    const auto placement = p.place(make_alert("Disk full on db-2", Severity::Low, 110), "default");
    EXPECT_EQ(placement.episode, 0u);
    EXPECT_TRUE(p.episodes()[0].reopened);
    ASSERT_TRUE(placement.similarity_score.has_value());
    EXPECT_DOUBLE_EQ(*placement.similarity_score, 1.0);
  }
}

TEST(PlannerSmart, ReopenSkipsDissimilarRecentForSimilarOlder) {
  const auto r =
      rule(R"({"type": "smart", "similarity_threshold": 0.8})", R"({"reopen_window_minutes": 60})");
  Planner p(r, kWindowUs);
  p.add_existing(resolved("similar", "default", 100, "disk full"));
  p.add_existing(resolved("recent", "default", 110, "cpu high"));
  const auto placement = p.place(make_alert("disk full", Severity::Low, 120), "default");
  EXPECT_EQ(p.episodes()[placement.episode].id, "similar");
  EXPECT_TRUE(p.episodes()[1].resolved);
}
