// The steps decide() (engine.cpp) runs, one file each, in the order an alert meets them:
// duplicates (engine_dedup.cpp), rules and plans (engine_batch.cpp), candidate episodes
// (engine_candidates.cpp); then the writes (engine_write.cpp).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "engine_batch.hpp"

namespace ag::pg {

using Batches = std::map<Uuid, std::unique_ptr<ProjectBatch>>;

// The fingerprints deduplicated against, as the holders query takes them.
struct DedupKeys {
  std::vector<Uuid> projects;
  std::vector<std::string> fingerprints;
};

// An active alert holding a fingerprint, with its episode's group (rule and key), which
// absorbing a duplicate touches.
struct StoredHolder {
  Uuid project, id;
  std::string fingerprint;
  TimestampTz created_at = 0;
  std::optional<Uuid> episode;
  std::string episode_rule, episode_key;
};

// A candidate episode as read: its rule, the planner's view of it, and its monitors.
struct CandidateEpisode {
  Uuid project, rule, id;
  EpisodeState state;
  std::vector<Uuid> monitors;
};

// The active alerts holding the fingerprints, except the given new rows of the statement.
std::vector<StoredHolder> read_holders(const std::vector<Uuid> &projects,
                                       const std::vector<std::string> &fps,
                                       const std::unordered_set<Uuid, UuidHash> &new_rows);

// Duplicates, decided before anything is written: the fingerprint locks, the stored holders,
// which new rows each absorbs. Holders' episodes join the group and episode locks.
void find_duplicates(Batches &batches, Writes &w, EngineResult &result, DuplicateLocks &locks,
                     DedupKeys &dedup);

// Whether every holder is still active, once its episode's locks are held.
bool holders_still_active(const DuplicateLocks &locks);

// The candidate episodes of the requests (open, or recently resolved), into the batches.
// Every episode found is locked; held holds the episode lock keys taken so far. The read is
// repeated after locking only when it found an episode whose lock was not held yet.
void load_candidates(bool open, const CandidateRequests &requests, Batches &batches,
                     std::unordered_set<int64> &held);

}  // namespace ag::pg
