// The engine's advisory locks. Keys are 64 bits, hashed from the lock's class, the project
// and the locked thing, so projects never share a key space in practice. Every writer takes
// them in one global order: regroup (per project and rule), fingerprints, groups (rule and
// group key), episodes; within a class in ascending key order. Row locks come after all of
// them, so writers never wait in a cycle.
#pragma once

#include <string>
#include <vector>

#include "values.hpp"

namespace ag::pg {

enum class LockClass : uint32 { Regroup = 1, Fingerprint = 2, Group = 3, Episode = 4 };

int64 lock_key(LockClass lock_class, const Uuid &project, std::string_view thing);
int64 group_lock_key(const Uuid &project, const std::string &rule_id, const std::string &key);
int64 episode_lock_key(const Uuid &project, const Uuid &episode);

// Takes the transaction-level advisory locks for the keys, sorted and deduplicated.
void lock_keys(std::vector<int64> keys);

void lock_fingerprints(const Uuid &project, const std::vector<std::string> &fingerprints);
void lock_episodes(const Uuid &project, const std::vector<Uuid> &episodes);

}  // namespace ag::pg
