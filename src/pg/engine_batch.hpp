// One project's share of a statement: which rows are duplicates, which rule each matches,
// which episode each joins (with the planner), and what that writes. Pure decisions over
// what the engine loaded; engine.cpp does the reading and locking around it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine.hpp"
#include "engine_writes.hpp"
#include "episode_prediction.hpp"
#include "planner.hpp"
#include "project_config.hpp"

namespace ag::pg {

// The first enabled rule (in evaluation order) that matches, with the alert's group key.
std::optional<std::pair<size_t, std::string>> first_match(const ProjectConfig &config,
                                                          const Alert &alert,
                                                          const std::optional<Uuid> &only_rule);

Severity severity_from_text(Datum d);

// What deciding duplicates locks after the fingerprints: the groups of the holders' episodes
// and those episodes; the holders themselves are checked again once the locks are held.
struct DuplicateLocks {
  std::vector<int64> group_keys;
  std::vector<Uuid> projects, episodes, holders;
};

struct CandidateRequests {
  std::vector<Uuid> project, rule;
  std::vector<std::string> key;
  std::vector<TimestampTz> since;
  void add(const Uuid &p, const Uuid &r, const std::string &k, TimestampTz s) {
    project.push_back(p);
    rule.push_back(r);
    key.push_back(k);
    since.push_back(s);
  }
};

// Accumulated change to one existing episode.
struct EpisodeDelta {
  int32 added = 0;
  int32 active = 0;
  TimestampTz last_at = DT_NOBEGIN;
  Severity severity = Severity::Info;
  std::string monitors;  // new monitor_ids literal, "" to keep
  bool reopen = false;
};

class ProjectBatch {
 public:
  ProjectBatch(const Uuid &project, std::shared_ptr<const ProjectConfig> config,
               const EngineOptions &options)
      : project_(project), config_(std::move(config)), options_(options) {}

  void add(AlertRow *row) { rows_.push_back(row); }
  const std::vector<AlertRow *> &rows() const { return rows_; }

  // Deduplication: the statement's active fingerprints, the stored holders found for them,
  // then which rows are absorbed by which holder.
  void active_fingerprints(std::vector<Uuid> &projects, std::vector<std::string> &fps) const;
  struct Holder {
    Uuid id;
    TimestampTz created_at = 0;
    std::optional<Uuid> episode;
    std::string episode_rule, episode_key;  // the group of the holder's episode
  };
  void add_holder(const std::string &fingerprint, Holder holder);
  void resolve_duplicates(Writes &w, int64 &deduplicated, DuplicateLocks &locks);
  void duplicate_touched_episode(const Uuid &episode, Severity severity, TimestampTz at);

  void match_all(std::vector<int64> &group_lock_keys);  // before deduplication
  // After deduplication: the active rows a silence holds leave the batch.
  void apply_silences(Writes &w, TimestampTz arrival, int64 &silenced);
  void plan_rules();  // after both
  void request_candidates(CandidateRequests &open, CandidateRequests &resolved);
  void add_candidate(const Uuid &rule, const Uuid &id, EpisodeState state,
                     std::vector<Uuid> monitors);
  void plan();
  int32 new_episode_count() const { return int32(new_episodes_.size()); }
  void write(Writes &w);

 private:
  struct Matched {
    AlertRow *row;
    std::string key;
  };
  struct RulePlan {
    const CompiledRule *rule = nullptr;
    std::vector<Matched> alerts;
    std::unique_ptr<Planner> planner;
  };
  struct NewEpisode {
    Uuid id;
    const CompiledRule *rule;
    EpisodeState state;
    std::vector<AlertRow *> members;
  };
  struct Member {
    Uuid episode, alert, rule;
    std::optional<double> score;
    const std::string *guess_key;  // the group key, for rules whose placement can be guessed
    TimestampTz at;
  };

  void plan_rule(RulePlan &plan);

  Uuid project_;
  std::shared_ptr<const ProjectConfig> config_;
  const EngineOptions &options_;
  std::vector<AlertRow *> rows_;  // after deduplication: the rows to group, in statement order
  std::unordered_map<const AlertRow *, std::optional<std::pair<size_t, std::string>>> matches_;
  std::unordered_map<std::string, Holder> holders_;
  std::map<size_t, RulePlan> plans_;  // by rule index, i.e. evaluation order
  std::unordered_map<Uuid, std::vector<Uuid>, UuidHash> monitors_;  // loaded episodes
  std::unordered_map<std::string, Uuid> loaded_ids_;  // planner's text id -> loaded episode id
  // Loaded episodes' severity, read under their locks: what an update raises it from.
  std::unordered_map<Uuid, Severity, UuidHash> loaded_severity_;
  std::vector<NewEpisode> new_episodes_;
  std::map<Uuid, EpisodeDelta> deltas_;
  std::vector<Member> members_;
  struct Known {
    Uuid rule;
    std::string key;
    std::vector<KnownEpisode> episodes;
  };
  std::vector<Known> known_;  // smart rules' open episodes per key, after planning
};

}  // namespace ag::pg
