#include "interrupts.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "grouping.hpp"
#include "planner.hpp"
#include "test_helpers.hpp"

using ag::Planner;
using ag_test::kMinuteUs;
using ag_test::make_alert;

namespace {

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};

int g_calls = 0;
int g_throw_at = 0;  // throw on this call (1-based); 0: never

void counting_check() {
  ++g_calls;
  if (g_throw_at > 0 && g_calls >= g_throw_at) throw Cancelled();
}

class Interrupts : public ::testing::Test {
 protected:
  void SetUp() override {
    g_calls = 0;
    g_throw_at = 0;
    ag::set_interrupt_check(counting_check);
  }
  void TearDown() override { ag::set_interrupt_check(nullptr); }
};

ag::EpisodeState open_episode(const std::string &key, int64_t minute, const std::string &title) {
  ag::EpisodeState e;
  e.id = "e" + std::to_string(minute);
  e.group_key = key;
  e.first_title = title;
  e.started_at_us = minute * kMinuteUs;
  e.last_activity_us = minute * kMinuteUs;
  e.alert_count = 1;
  return e;
}

}  // namespace

TEST(InterruptsNoCheck, DoesNothingWithoutACheck) {
  ag::set_interrupt_check(nullptr);
  ag::check_interrupts();  // must not crash
}

TEST_F(Interrupts, CallsTheInstalledCheck) {
  ag::check_interrupts();
  ag::check_interrupts();
  EXPECT_EQ(g_calls, 2);
  ag::set_interrupt_check(nullptr);
  ag::check_interrupts();
  EXPECT_EQ(g_calls, 2);
}

TEST_F(Interrupts, EveryPlaceChecks) {
  const auto rule = ag::compile_rule("", "", "");
  Planner p(rule, 60 * kMinuteUs);
  p.place(make_alert("a"), "default");
  EXPECT_GE(g_calls, 1);
  const int after_first = g_calls;
  p.place(make_alert("b"), "other");
  EXPECT_GT(g_calls, after_first);
}

TEST_F(Interrupts, PlacePropagatesAndLeavesEpisodesUntouched) {
  const auto rule = ag::compile_rule("", "", "");
  Planner p(rule, 60 * kMinuteUs);
  p.add_existing(open_episode("default", 0, "t"));
  g_throw_at = g_calls + 1;
  EXPECT_THROW(p.place(make_alert("a", ag::Severity::Critical, 1), "default"), Cancelled);
  ASSERT_EQ(p.episodes().size(), 1u);
  EXPECT_EQ(p.episodes()[0].alert_count, 1);
  EXPECT_EQ(p.episodes()[0].added, 0);
  EXPECT_EQ(p.episodes()[0].severity, ag::Severity::Info);
  // The planner stays usable once the check lets go.
  g_throw_at = 0;
  EXPECT_EQ(p.place(make_alert("a", ag::Severity::Critical, 1), "default").episode, 0u);
}

// Each candidate loop polls periodically, not only once per alert.
TEST_F(Interrupts, LoopsOverManyEpisodesCheckRepeatedly) {
  for (const char *grouping : {R"({"type": "time_window"})", R"({"type": "smart"})"}) {
    SCOPED_TRACE(grouping);
    const auto rule = ag::compile_rule("", grouping, R"({"reopen_window_minutes": 60})");
    Planner p(rule, 60 * kMinuteUs);
    constexpr int kEpisodes = 5000;
    for (int i = 0; i < kEpisodes; ++i) {
      auto e = open_episode("k", -1000, "episode " + std::string(1, char('a' + i % 26)));
      if (i % 2) {
        e.resolved = true;
        e.resolved_at_us = -1000 * kMinuteUs;
      }
      p.add_existing(e);
    }
    // Out of window and outside the reopen window: every candidate is visited, none taken.
    g_calls = 0;
    p.place(make_alert("zzz", ag::Severity::Low, 0), "k");
    EXPECT_GE(g_calls, kEpisodes / 256);
    // A check that throws midway through the loop aborts the placement.
    g_calls = 0;
    g_throw_at = 3;
    EXPECT_THROW(p.place(make_alert("zzz", ag::Severity::Low, 0), "k"), Cancelled);
    g_throw_at = 0;
    EXPECT_EQ(p.episodes().size(), static_cast<size_t>(kEpisodes + 1));
  }
}

TEST_F(Interrupts, TitleSimilarityChecks) {
  g_throw_at = 1;
  EXPECT_THROW(ag::title_similarity("disk full", "disk fill"), Cancelled);
}
