#include "engine_locks.hpp"

#include <algorithm>

#include "guard.hpp"

namespace ag::pg {

int64 lock_key(LockClass lock_class, const Uuid &project, std::string_view thing) {
  std::string material(reinterpret_cast<const char *>(project.bytes.data()), UUID_LEN);
  material.append(thing.data(), thing.size());
  return pg_call([&] {
    return static_cast<int64>(
        hash_bytes_extended(reinterpret_cast<const unsigned char *>(material.data()),
                            static_cast<int>(material.size()), static_cast<uint64>(lock_class)));
  });
}

int64 group_lock_key(const Uuid &project, const std::string &rule_id, const std::string &key) {
  return lock_key(LockClass::Group, project, rule_id + '\x1f' + key);
}

int64 episode_lock_key(const Uuid &project, const Uuid &episode) {
  return lock_key(LockClass::Episode, project,
                  std::string_view(reinterpret_cast<const char *>(episode.bytes.data()), UUID_LEN));
}

void lock_keys(std::vector<int64> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (int64 key : keys)
    pg_call([&] { DirectFunctionCall1(pg_advisory_xact_lock_int8, Int64GetDatum(key)); });
}

void lock_fingerprints(const Uuid &project, const std::vector<std::string> &fingerprints) {
  std::vector<int64> keys;
  for (const auto &fp : fingerprints) keys.push_back(lock_key(LockClass::Fingerprint, project, fp));
  lock_keys(std::move(keys));
}

void lock_episodes(const Uuid &project, const std::vector<Uuid> &episodes) {
  std::vector<int64> keys;
  for (const auto &e : episodes) keys.push_back(episode_lock_key(project, e));
  lock_keys(std::move(keys));
}

}  // namespace ag::pg
