// Decides, for alerts that matched one rule, which episode each joins: an open one of the
// same key within the rolling window, a recently resolved one that is reopened, or a new one.
// Pure logic: the SQL layer loads candidate episodes, runs the planner, writes the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "alert.hpp"
#include "rule.hpp"
#include "title_profile.hpp"

namespace ag {

struct EpisodeState {
  std::string id;  // "" for an episode the planner created
  std::string group_key;
  std::string first_title;  // title of the episode's first alert (basis of smart similarity)
  bool resolved = false;
  int64_t started_at_us = 0;
  int64_t last_activity_us = 0;
  int64_t resolved_at_us = 0;  // meaningful when resolved
  Severity severity = Severity::Info;
  int64_t alert_count = 0;
  int64_t reopen_count = 0;
  // Filled by the planner:
  bool created = false;          // new episode
  bool reopened = false;         // was resolved, reopened by this batch
  bool severity_raised = false;  // severity went up in this batch (existing episodes only)
  Severity severity_before = Severity::Info;
  int64_t added = 0;  // alerts added in this batch
};

struct Placement {
  size_t episode = 0;                      // index into Planner::episodes()
  std::optional<double> similarity_score;  // set for smart grouping
};

class Planner {
 public:
  // window_us: the rule's time window (or the project default) in microseconds.
  Planner(const Rule &rule, int64_t window_us);

  // Candidates loaded from the database: open (and, for reopen, recently resolved) episodes
  // of this rule. Order does not matter.
  void add_existing(EpisodeState episode);

  // Places one alert; call in event-time order. Rules:
  //  - time_window / field: among open episodes with the same key whose
  //    alert.created_at_us - last_activity_us <= window_us, join the one with the latest
  //    last_activity; smart: among open episodes with the same key within the window, join
  //    the one whose first_title is most similar, if title_similarity >= threshold (the
  //    score is returned).
  //  - otherwise, if reopen_window_minutes > 0: the resolved episode with the same key
  //    (and, for smart, similar enough) resolved most recently, with
  //    0 <= created_at_us - resolved_at_us <= reopen window, is reopened (resolved = false,
  //    reopen_count + 1, reopened = true) and joined;
  //  - otherwise a new episode is created (started_at = last_activity = created_at).
  // Joining sets last_activity = max(last_activity, created_at), raises severity (never
  // lowers it), increments alert_count and added.
  // Ties go to the episode added first. Time differences saturate at the int64 limits, so
  // +/-infinity timestamps compare sensibly. Calls check_interrupts(); an exception it
  // throws propagates before this call changes any episode.
  Placement place(const Alert &alert, const std::string &key);

  const std::vector<EpisodeState> &episodes() const { return episodes_; }

 private:
  void index(EpisodeState episode, TitleProfile profile);

  const Rule &rule_;
  int64_t window_us_;
  bool smart_;
  std::vector<EpisodeState> episodes_;
  // Smart rules only: profiles_[i] is episodes_[i].first_title's, computed once.
  std::vector<TitleProfile> profiles_;
  // Indexes into episodes_ by group key, ascending, so place() visits only its key's episodes.
  std::unordered_map<std::string, std::vector<size_t>> by_key_;
  BigramTable alert_bigrams_;  // the current alert's title, smart rules only
};

}  // namespace ag
