// The two reads a single-row INSERT always makes (its fingerprint's active holder, its
// group's candidate episodes), straight through their indexes. perf showed that starting an
// executor for these one-key lookups cost more than the lookups: about 14% of a backend's CPU
// for a single-row INSERT, against a few percent this way. Everything else, and every read of
// a multi-row statement, stays a prepared statement (engine_statements.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine_steps.hpp"

namespace ag::pg {

// Whether the tables can be read directly: they are this node's own tables. With Citus
// loaded, the trigger runs on a shard and the statements are what Citus routes.
bool index_reads_available();

// Both return nothing when the indexes are not the ones they read (the tables of an older
// version, before ALTER EXTENSION UPDATE); the statements then run.

// active_holders_one: the project's active alerts with this fingerprint, with their
// episode's rule and key.
std::optional<std::vector<StoredHolder>> index_read_holders(const Uuid &project,
                                                            const std::string &fingerprint);

// open_episodes_one / resolved_episodes_one: the rule's episodes with this group key, open
// with activity since `since`, or resolved since `since`; ordered by id.
std::optional<std::vector<CandidateEpisode>> index_read_candidates(bool open, const Uuid &project,
                                                                   const Uuid &rule,
                                                                   const std::string &key,
                                                                   TimestampTz since);

}  // namespace ag::pg
