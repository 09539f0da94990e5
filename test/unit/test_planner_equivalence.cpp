// The planner indexes episodes by key and precomputes title bigrams; these tests pin its
// results to a plain reference: every episode scanned, title_similarity recomputed each time
// (the planner as it was before those optimisations).
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "grouping.hpp"
#include "planner.hpp"
#include "test_helpers.hpp"
#include "title_profile.hpp"

using ag::EpisodeState;
using ag::Placement;
using ag_test::kMinuteUs;

namespace {

class ReferencePlanner {
 public:
  ReferencePlanner(const ag::Rule &rule, int64_t window_us) : rule_(rule), window_us_(window_us) {}

  void add_existing(EpisodeState e) {
    e.created = e.reopened = e.severity_raised = false;
    e.severity_before = e.severity;
    e.added = 0;
    episodes.push_back(std::move(e));
  }

  Placement place(const ag::Alert &alert, const std::string &key) {
    const bool smart = rule_.grouping.type == ag::GroupingType::Smart;
    const double threshold = rule_.grouping.similarity_threshold;
    const int64_t now = alert.created_at_us;
    std::optional<size_t> chosen;
    double chosen_score = 0.0;
    for (size_t i = 0; i < episodes.size(); ++i) {
      const EpisodeState &ep = episodes[i];
      if (ep.resolved || ep.group_key != key || now - ep.last_activity_us > window_us_) continue;
      if (smart) {
        const double score = ag::title_similarity(ep.first_title, alert.title);
        if (score < threshold) continue;
        if (!chosen || score > chosen_score ||
            (score == chosen_score && ep.last_activity_us > episodes[*chosen].last_activity_us)) {
          chosen = i;
          chosen_score = score;
        }
      } else if (!chosen || ep.last_activity_us > episodes[*chosen].last_activity_us) {
        chosen = i;
      }
    }
    if (!chosen && rule_.episode.reopen_window_minutes > 0) {
      const int64_t reopen_us = rule_.episode.reopen_window_minutes * kMinuteUs;
      for (size_t i = 0; i < episodes.size(); ++i) {
        const EpisodeState &ep = episodes[i];
        if (!ep.resolved || ep.group_key != key) continue;
        const int64_t since = now - ep.resolved_at_us;
        if (since < 0 || since > reopen_us) continue;
        double score = 0.0;
        if (smart) {
          score = ag::title_similarity(ep.first_title, alert.title);
          if (score < threshold) continue;
        }
        if (!chosen || ep.resolved_at_us > episodes[*chosen].resolved_at_us) {
          chosen = i;
          chosen_score = score;
        }
      }
      if (chosen) {
        episodes[*chosen].resolved = false;
        episodes[*chosen].reopen_count += 1;
        episodes[*chosen].reopened = true;
      }
    }
    Placement placement;
    if (chosen) {
      EpisodeState &ep = episodes[*chosen];
      ep.last_activity_us = std::max(ep.last_activity_us, now);
      if (alert.severity > ep.severity) {
        ep.severity = alert.severity;
        if (!ep.created) ep.severity_raised = ep.severity > ep.severity_before;
      }
      ep.alert_count += 1;
      ep.added += 1;
      placement.episode = *chosen;
      if (smart) placement.similarity_score = chosen_score;
      return placement;
    }
    EpisodeState ep;
    ep.group_key = key;
    ep.first_title = alert.title;
    ep.started_at_us = ep.last_activity_us = now;
    ep.severity = ep.severity_before = alert.severity;
    ep.alert_count = ep.added = 1;
    ep.created = true;
    episodes.push_back(std::move(ep));
    placement.episode = episodes.size() - 1;
    if (smart) placement.similarity_score = 1.0;
    return placement;
  }

  std::vector<EpisodeState> episodes;

 private:
  const ag::Rule &rule_;
  int64_t window_us_;
};

void expect_same_episode(const EpisodeState &a, const EpisodeState &b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.group_key, b.group_key);
  EXPECT_EQ(a.first_title, b.first_title);
  EXPECT_EQ(a.resolved, b.resolved);
  EXPECT_EQ(a.started_at_us, b.started_at_us);
  EXPECT_EQ(a.last_activity_us, b.last_activity_us);
  EXPECT_EQ(a.resolved_at_us, b.resolved_at_us);
  EXPECT_EQ(a.severity, b.severity);
  EXPECT_EQ(a.alert_count, b.alert_count);
  EXPECT_EQ(a.reopen_count, b.reopen_count);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.reopened, b.reopened);
  EXPECT_EQ(a.severity_raised, b.severity_raised);
  EXPECT_EQ(a.severity_before, b.severity_before);
  EXPECT_EQ(a.added, b.added);
}

// Short titles over a tiny alphabet, so that equal scores (ties) and equal normalised titles
// are frequent; digits and case exercise normalisation.
std::string random_title(std::mt19937 &rng) {
  static const std::vector<std::string> kPool = {
      "", "a", "Disk full", "disk FULL", "Disk 91%", "disk 7%", "ab ab", "ba ba", "  abab  "};
  if (rng() % 3 == 0) return kPool[rng() % kPool.size()];
  static const char kChars[] = "abAB 12\t";
  std::string t(rng() % 10, ' ');
  for (char &c : t) c = kChars[rng() % (sizeof kChars - 1)];
  return t;
}

ag::Severity random_severity(std::mt19937 &rng) { return static_cast<ag::Severity>(rng() % 5); }

}  // namespace

TEST(TitleProfile, SimilarityMatchesTitleSimilarity) {
  std::mt19937 rng(7);
  ag::BigramTable table;
  for (int i = 0; i < 20000; ++i) {
    const std::string a = random_title(rng), b = random_title(rng);
    const ag::TitleProfile pa = ag::make_title_profile(a), pb = ag::make_title_profile(b);
    table.load(pa);
    const double expected = ag::title_similarity(b, a);
    ASSERT_EQ(table.similarity(pa, pb), expected) << '"' << a << "\" vs \"" << b << '"';
    ASSERT_EQ(expected, ag::title_similarity(a, b));
    ASSERT_LE(expected, ag::similarity_upper_bound(pa, pb));
  }
}

TEST(PlannerEquivalence, RandomBatchesMatchTheReference) {
  std::mt19937 rng(12345);
  const std::vector<std::string> kKeys = {"a", "b", "c"};
  const char *kGroupings[] = {R"({"type": "time_window"})",
                              R"({"type": "field"})",
                              R"({"type": "smart", "similarity_threshold": 0})",
                              R"({"type": "smart", "similarity_threshold": 0.3})",
                              R"({"type": "smart", "similarity_threshold": 0.5})",
                              R"({"type": "smart"})",
                              R"({"type": "smart", "similarity_threshold": 1})"};
  const int kReopen[] = {0, 5, 30};
  const int64_t kWindows[] = {0, 10 * kMinuteUs, 60 * kMinuteUs};
  for (int round = 0; round < 3000; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const auto rule = ag::compile_rule(
        "", kGroupings[rng() % std::size(kGroupings)],
        R"({"reopen_window_minutes": )" + std::to_string(kReopen[rng() % 3]) + "}");
    const int64_t window_us = kWindows[rng() % 3];
    ag::Planner planner(rule, window_us);
    ReferencePlanner reference(rule, window_us);

    const int existing = static_cast<int>(rng() % 25);
    for (int i = 0; i < existing; ++i) {
      EpisodeState e;
      e.id = "e" + std::to_string(i);
      e.group_key = kKeys[rng() % kKeys.size()];
      e.first_title = random_title(rng);
      e.last_activity_us = -static_cast<int64_t>(rng() % 100) * kMinuteUs;
      e.started_at_us = e.last_activity_us - 5 * kMinuteUs;
      e.severity = random_severity(rng);
      e.alert_count = 1 + rng() % 5;
      e.reopen_count = rng() % 2;
      if (rng() % 2) {
        e.resolved = true;
        // Few distinct values, so that equal resolved_at ties happen too.
        e.resolved_at_us = e.last_activity_us + static_cast<int64_t>(rng() % 3) * kMinuteUs;
      }
      // Stale per-batch fields must be reset by both.
      e.added = 3;
      e.created = true;
      planner.add_existing(e);
      reference.add_existing(e);
    }

    int64_t now = -50 * kMinuteUs;
    const int alerts = static_cast<int>(rng() % 40);
    for (int i = 0; i < alerts; ++i) {
      now += static_cast<int64_t>(rng() % 8) * kMinuteUs;
      ag::Alert a = ag_test::make_alert(random_title(rng), random_severity(rng));
      a.created_at_us = now - static_cast<int64_t>(rng() % 2) * kMinuteUs;  // slightly unordered
      const std::string &key = kKeys[rng() % kKeys.size()];
      const Placement got = planner.place(a, key);
      const Placement want = reference.place(a, key);
      ASSERT_EQ(got.episode, want.episode) << "alert " << i;
      ASSERT_EQ(got.similarity_score, want.similarity_score) << "alert " << i;
    }
    ASSERT_EQ(planner.episodes().size(), reference.episodes.size());
    for (size_t i = 0; i < reference.episodes.size(); ++i) {
      SCOPED_TRACE("episode " + std::to_string(i));
      expect_same_episode(planner.episodes()[i], reference.episodes[i]);
    }
    if (::testing::Test::HasFailure()) return;
  }
}

// 1,000 open episodes and 3,000 alerts with 512-character titles, all of one key and inside
// the window: the case that used to take minutes. Not timed; it only has to finish.
TEST(PlannerScale, ManyEpisodesLongTitles) {
  std::mt19937 rng(99);
  auto random_text = [&](size_t n) {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyz      0123456789-.:";
    std::string t(n, ' ');
    for (char &c : t) c = kChars[rng() % (sizeof kChars - 1)];
    return t;
  };
  const auto rule = ag::compile_rule("", R"({"type": "smart", "similarity_threshold": 0.8})",
                                     R"({"reopen_window_minutes": 60})");
  ag::Planner planner(rule, 24 * 60 * kMinuteUs);
  std::vector<std::string> titles;
  for (int i = 0; i < 1000; ++i) {
    EpisodeState e;
    e.id = "e" + std::to_string(i);
    e.group_key = "default";
    e.first_title = random_text(512);
    e.last_activity_us = -static_cast<int64_t>(i) * kMinuteUs;
    e.resolved = i % 10 == 0;
    e.resolved_at_us = e.last_activity_us;
    titles.push_back(e.first_title);
    planner.add_existing(std::move(e));
  }
  size_t joined = 0;
  for (int i = 0; i < 3000; ++i) {
    // Half are near-copies of an episode's title (a few characters changed), half are new.
    std::string title = random_text(512);
    if (i % 2 == 0) {
      title = titles[rng() % titles.size()];
      for (int k = 0; k < 10; ++k) title[rng() % title.size()] = 'q';
    }
    ag::Alert a = ag_test::make_alert(title);
    a.created_at_us = i * 1000;
    const auto p = planner.place(a, "default");
    joined += p.episode < 1000;
  }
  EXPECT_GT(joined, 0u);
  EXPECT_GE(planner.episodes().size(), 1000u);
}
