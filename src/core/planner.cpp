#include "planner.hpp"

#include <algorithm>
#include <optional>

#include "grouping.hpp"

namespace ag {

namespace {
constexpr int64_t kMicrosPerMinute = 60LL * 1000 * 1000;
}  // namespace

Planner::Planner(const Rule &rule, int64_t window_us) : rule_(rule), window_us_(window_us) {}

void Planner::add_existing(EpisodeState episode) {
  // The per-batch fields describe this planner's work only, whatever the caller left in them.
  episode.created = false;
  episode.reopened = false;
  episode.severity_raised = false;
  episode.severity_before = episode.severity;
  episode.added = 0;
  episodes_.push_back(std::move(episode));
}

Placement Planner::place(const Alert &alert, const std::string &key) {
  const bool smart = rule_.grouping.type == GroupingType::Smart;
  const double threshold = rule_.grouping.similarity_threshold;
  const int64_t now = alert.created_at_us;

  std::optional<size_t> chosen;
  double chosen_score = 0.0;

  // 1. An open episode of the same key within the rolling window.
  for (size_t i = 0; i < episodes_.size(); ++i) {
    const EpisodeState &ep = episodes_[i];
    if (ep.resolved || ep.group_key != key || now - ep.last_activity_us > window_us_) continue;
    if (smart) {
      const double score = title_similarity(ep.first_title, alert.title);
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
    const int64_t reopen_us = rule_.episode.reopen_window_minutes * kMicrosPerMinute;
    for (size_t i = 0; i < episodes_.size(); ++i) {
      const EpisodeState &ep = episodes_[i];
      if (!ep.resolved || ep.group_key != key) continue;
      const int64_t since = now - ep.resolved_at_us;
      if (since < 0 || since > reopen_us) continue;
      double score = 0.0;
      if (smart) {
        score = title_similarity(ep.first_title, alert.title);
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
    if (smart) placement.similarity_score = chosen_score;
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
  episodes_.push_back(std::move(ep));
  placement.episode = episodes_.size() - 1;
  // The first alert is its episode's first title, hence perfectly similar to it.
  if (smart) placement.similarity_score = 1.0;
  return placement;
}

}  // namespace ag
