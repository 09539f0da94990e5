#include "time_math.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "planner.hpp"
#include "test_helpers.hpp"

using ag::Planner;
using ag_test::kMinuteUs;
using ag_test::make_alert;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();  // PostgreSQL's +infinity
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();  // PostgreSQL's -infinity
constexpr int64_t kFiniteMin = -211813488000000000LL;          // 4714-11-24 BC, PostgreSQL's lowest

ag::EpisodeState episode(int64_t last_activity_us, bool resolved = false,
                         int64_t resolved_at_us = 0) {
  ag::EpisodeState e;
  e.id = "x";
  e.group_key = "default";
  e.first_title = "t";
  e.started_at_us = last_activity_us;
  e.last_activity_us = last_activity_us;
  e.resolved = resolved;
  e.resolved_at_us = resolved_at_us;
  e.alert_count = 1;
  return e;
}

ag::Alert alert_at(int64_t created_at_us) {
  ag::Alert a = make_alert("t");
  a.created_at_us = created_at_us;
  return a;
}

// Whether an alert at `now` joins (or reopens) the single loaded episode.
bool joins(const ag::Rule &rule, int64_t window_us, const ag::EpisodeState &e, int64_t now) {
  Planner p(rule, window_us);
  p.add_existing(e);
  return p.place(alert_at(now), "default").episode == 0;
}

}  // namespace

TEST(SaturatingMath, InRangeIsExact) {
  EXPECT_EQ(ag::saturating_sub(5, 7), -2);
  EXPECT_EQ(ag::saturating_add(5, 7), 12);
  EXPECT_EQ(ag::saturating_mul(-5, 7), -35);
  EXPECT_EQ(ag::saturating_sub(kMax, kMax), 0);
  EXPECT_EQ(ag::saturating_sub(kMin, kMin), 0);
  EXPECT_EQ(ag::saturating_sub(-1, kMax), kMin);
}

TEST(SaturatingMath, Saturates) {
  EXPECT_EQ(ag::saturating_sub(kMax, kMin), kMax);
  EXPECT_EQ(ag::saturating_sub(0, kMin), kMax);
  EXPECT_EQ(ag::saturating_sub(kMin, 1), kMin);
  EXPECT_EQ(ag::saturating_sub(kMin, kMax), kMin);
  EXPECT_EQ(ag::saturating_sub(kFiniteMin, kMax), kMin);
  EXPECT_EQ(ag::saturating_add(kMax, 1), kMax);
  EXPECT_EQ(ag::saturating_add(kMin, -1), kMin);
  EXPECT_EQ(ag::saturating_mul(kMax, 2), kMax);
  EXPECT_EQ(ag::saturating_mul(kMax, -2), kMin);
  EXPECT_EQ(ag::saturating_mul(kMin, -1), kMax);
  EXPECT_EQ(ag::saturating_mul(kMin, kMin), kMax);
}

TEST(PlannerInfinity, EpisodeAtMinusInfinityIsOutsideTheWindow) {
  const auto rule = ag::compile_rule("", "", "");
  // now - (-infinity) overflows without saturation and would wrap to a negative gap.
  EXPECT_FALSE(joins(rule, 60 * kMinuteUs, episode(kMin), 0));
  EXPECT_FALSE(joins(rule, 60 * kMinuteUs, episode(kMin), kMax));
  EXPECT_FALSE(joins(rule, 60 * kMinuteUs, episode(kFiniteMin), kMax));
  // Only an infinite window reaches back to -infinity.
  EXPECT_TRUE(joins(rule, kMax, episode(kMin), kMax));
}

TEST(PlannerInfinity, EpisodeAtPlusInfinityIsInTheWindow) {
  const auto rule = ag::compile_rule("", "", "");
  // A negative gap (alert before the last activity) is always within the window.
  EXPECT_TRUE(joins(rule, 60 * kMinuteUs, episode(kMax), kMin));
  EXPECT_TRUE(joins(rule, 60 * kMinuteUs, episode(kMax), kFiniteMin));
  EXPECT_TRUE(joins(rule, 0, episode(kMax), kMax));
}

TEST(PlannerInfinity, AlertAtInfinity) {
  const auto rule = ag::compile_rule("", "", "");
  EXPECT_FALSE(joins(rule, 60 * kMinuteUs, episode(0), kMax));
  EXPECT_TRUE(joins(rule, 60 * kMinuteUs, episode(0), kMin));
  Planner p(rule, 60 * kMinuteUs);
  p.add_existing(episode(kMin));
  p.place(alert_at(kMax), "default");
  ASSERT_EQ(p.episodes().size(), 2u);
  EXPECT_EQ(p.episodes()[1].started_at_us, kMax);
}

TEST(PlannerInfinity, ReopenWindowWithInfiniteTimestamps) {
  const auto rule = ag::compile_rule("", "", R"({"reopen_window_minutes": 525600})");
  // Resolved at -infinity: the gap saturates to +infinity, beyond any reopen window.
  EXPECT_FALSE(joins(rule, 0, episode(kMin, true, kMin), 0));
  EXPECT_FALSE(joins(rule, 0, episode(kMin, true, kMin), kMax));
  EXPECT_FALSE(joins(rule, 0, episode(kMin, true, kFiniteMin), kMax));
  // Resolved at +infinity: the gap is negative, so the alert predates the resolution.
  EXPECT_FALSE(joins(rule, 0, episode(kMin, true, kMax), kMin));
  EXPECT_FALSE(joins(rule, 0, episode(kMin, true, kMax), 0));
  // Both at the same infinity: a gap of zero, inside the window.
  EXPECT_TRUE(joins(rule, 0, episode(kMin, true, kMax), kMax));
  EXPECT_TRUE(joins(rule, 0, episode(kMin, true, kMin), kMin));
}
