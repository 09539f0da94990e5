// Which episode a row of a multi-row statement will most likely join, guessed before it is
// stored, so that the statement-level pass (which decides under its sorted locks) needs no
// write-back for it. The guess comes from the episodes this backend's committed statements
// placed alerts into: (project, rule, group key) -> (episode, last activity). A wrong or
// missing guess costs one UPDATE of that row, never a wrong grouping. Smart rules are not
// guessed (the similarity score is the planner's).
#pragma once

#include <optional>
#include <string>

#include "planner.hpp"
#include "values.hpp"

namespace ag::pg {

struct PredictedEpisode {
  Uuid episode, rule;
  std::optional<double> similarity_score;
};

// The open episodes of a smart rule's key, as a statement's planner left them.
struct KnownEpisode {
  Uuid id;
  ag::EpisodeState state;
};

// The guess for a smart rule: where its planner places the alert among the known episodes.
std::optional<PredictedEpisode> predict_smart_episode(const Uuid &project, const Uuid &rule,
                                                      const ag::Rule &compiled,
                                                      const std::string &key,
                                                      const ag::Alert &alert, int64 window_us);

// A smart rule's open episodes of key after a statement (pending until commit, like
// placed_in_episode).
void known_episodes(const Uuid &project, const Uuid &rule, const std::string &key,
                    std::vector<KnownEpisode> episodes);

// The guess for an alert of project that matched rule with key at created_at, if any.
std::optional<PredictedEpisode> predict_episode(const Uuid &project, const Uuid &rule,
                                                const std::string &key, TimestampTz created_at,
                                                int64 window_us);

// The episodes this backend expects the rule and key to have: where it last placed an alert
// of them, and a smart rule's known open episodes.
std::vector<Uuid> expected_episodes(const Uuid &project, const Uuid &rule, const std::string &key);

// An alert was placed in episode (pending until the transaction commits: an episode created
// by a statement that rolls back must never be guessed).
void placed_in_episode(const Uuid &project, const Uuid &rule, const std::string &key,
                       const Uuid &episode, TimestampTz last_activity);

// Installs the transaction callbacks (from _PG_init).
void register_episode_prediction();

}  // namespace ag::pg
