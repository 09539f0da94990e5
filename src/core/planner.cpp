#include "planner.hpp"

#include <algorithm>
#include <optional>

#include "interrupts.hpp"
#include "time_math.hpp"

namespace ag {

namespace {
constexpr int64_t kMicrosPerMinute = 60LL * 1000 * 1000;
// Candidate loops poll for a query cancel this often (a power of two minus one, as a mask).
constexpr size_t kInterruptMask = 255;
}  // namespace

Planner::Planner(const Rule &rule, int64_t window_us)
    : rule_(rule), window_us_(window_us), smart_(rule.grouping.type == GroupingType::Smart) {}

void Planner::add_existing(EpisodeState episode) {
  // The per-batch fields describe this planner's work only, whatever the caller left in them.
  episode.created = false;
  episode.reopened = false;
  episode.severity_raised = false;
  episode.severity_before = episode.severity;
  episode.added = 0;
  TitleProfile profile;
  if (smart_) profile = make_title_profile(episode.first_title);
  index(std::move(episode), std::move(profile));
}

void Planner::index(EpisodeState episode, TitleProfile profile) {
  by_key_[episode.group_key].push_back(episodes_.size());
  episodes_.push_back(std::move(episode));
  if (smart_) profiles_.push_back(std::move(profile));
}

Placement Planner::place(const Alert &alert, const std::string &key) {
  check_interrupts();
  const double threshold = rule_.grouping.similarity_threshold;
  const int64_t now = alert.created_at_us;

  TitleProfile alert_profile;
  if (smart_) {
    alert_profile = make_title_profile(alert.title);
    alert_bigrams_.load(alert_profile);
  }
  static const std::vector<size_t> kNone;
  const auto found = by_key_.find(key);
  const std::vector<size_t> &candidates = found == by_key_.end() ? kNone : found->second;
  size_t polls = 0;

  std::optional<size_t> chosen;
  double chosen_score = 0.0;

  // 1. An open episode of the same key within the rolling window.
  for (size_t i : candidates) {
    if ((++polls & kInterruptMask) == 0) check_interrupts();
    const EpisodeState &ep = episodes_[i];
    if (ep.resolved || saturating_sub(now, ep.last_activity_us) > window_us_) continue;
    if (smart_) {
      // An episode that cannot reach the threshold, or beat the current choice, is skipped
      // uncompared; a score equal to the choice's can still win on last_activity.
      const double bound = similarity_upper_bound(alert_profile, profiles_[i]);
      if (bound < threshold || (chosen && bound < chosen_score)) continue;
      const double score = alert_bigrams_.similarity(alert_profile, profiles_[i]);
      if (score < threshold) continue;
      // Most similar wins; on a tie the most recently active one, as for the other types.
      if (!chosen || score > chosen_score ||
          (score == chosen_score && ep.last_activity_us > episodes_[*chosen].last_activity_us)) {
        chosen = i;
        chosen_score = score;
      }
    } else if (!chosen || ep.last_activity_us > episodes_[*chosen].last_activity_us) {
      chosen = i;
    }
  }

  // 2. The most recently resolved episode of the same key inside the reopen window.
  if (!chosen && rule_.episode.reopen_window_minutes > 0) {
    const int64_t reopen_us = saturating_mul(rule_.episode.reopen_window_minutes, kMicrosPerMinute);
    for (size_t i : candidates) {
      if ((++polls & kInterruptMask) == 0) check_interrupts();
      const EpisodeState &ep = episodes_[i];
      if (!ep.resolved) continue;
      const int64_t since = saturating_sub(now, ep.resolved_at_us);
      if (since < 0 || since > reopen_us) continue;
      double score = 0.0;
      if (smart_) {
        if (similarity_upper_bound(alert_profile, profiles_[i]) < threshold) continue;
        score = alert_bigrams_.similarity(alert_profile, profiles_[i]);
        if (score < threshold) continue;
      }
      if (!chosen || ep.resolved_at_us > episodes_[*chosen].resolved_at_us) {
        chosen = i;
        chosen_score = score;
      }
    }
    if (chosen) {
      EpisodeState &ep = episodes_[*chosen];
      ep.resolved = false;
      ep.reopen_count += 1;
      ep.reopened = true;
    }
  }

  Placement placement;
  if (chosen) {
    EpisodeState &ep = episodes_[*chosen];
    ep.last_activity_us = std::max(ep.last_activity_us, now);
    if (alert.severity > ep.severity) {
      ep.severity = alert.severity;
      // severity_before holds the loaded severity, so this compares final against loaded.
      if (!ep.created) ep.severity_raised = ep.severity > ep.severity_before;
    }
    ep.alert_count += 1;
    ep.added += 1;
    placement.episode = *chosen;
    if (smart_) placement.similarity_score = chosen_score;
    return placement;
  }

  // 3. A new episode.
  EpisodeState ep;
  ep.group_key = key;
  ep.first_title = alert.title;
  ep.started_at_us = now;
  ep.last_activity_us = now;
  ep.severity = alert.severity;
  ep.severity_before = alert.severity;
  ep.alert_count = 1;
  ep.added = 1;
  ep.created = true;
  // The alert's profile is the new episode's: its first title.
  index(std::move(ep), std::move(alert_profile));
  placement.episode = episodes_.size() - 1;
  // The first alert is its episode's first title, hence perfectly similar to it.
  if (smart_) placement.similarity_score = 1.0;
  return placement;
}

}  // namespace ag
