// Deduplication: an active alert with the same fingerprint absorbs a new one.
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "engine_locks.hpp"
#include "engine_statements.hpp"
#include "engine_steps.hpp"
#include "index_reads.hpp"

namespace ag::pg {

namespace {

namespace sql = statements;

// The alert ids (column 2) of the holders query's n result rows.
std::unordered_set<Uuid, UuidHash> holder_ids(uint64 n) {
  std::unordered_set<Uuid, UuidHash> ids;
  bool isnull;
  for (uint64 i = 0; i < n; i++) ids.insert(Uuid::from_datum(spi_value(i, 2, &isnull)));
  return ids;
}

// Under REPEATABLE READ or SERIALIZABLE, a holder committed after the transaction's snapshot
// is invisible to it, and the fingerprint lock alone cannot keep a second active alert out:
// such a statement fails with a serialization failure, and the client retries.
void check_holders_visible(const DedupKeys &dedup,
                           const std::unordered_set<Uuid, UuidHash> &visible,
                           const std::unordered_set<Uuid, UuidHash> &is_new) {
  uint64 n = sql::active_holders.run_with_snapshot(
      {uuid_array(dedup.projects), text_array(dedup.fingerprints)},
      pg_call([] { return GetLatestSnapshot(); }));
  for (const Uuid &id : holder_ids(n))
    if (!visible.count(id) && !is_new.count(id))
      throw PgError(ERRCODE_T_R_SERIALIZATION_FAILURE,
                    "could not serialize access due to a concurrent alert with the same "
                    "fingerprint",
                    "Alert " + id.text() + " was committed after this transaction's snapshot.",
                    "Retry the transaction.");
}

}  // namespace

std::vector<StoredHolder> read_holders(const std::vector<Uuid> &projects,
                                       const std::vector<std::string> &fps,
                                       const std::unordered_set<Uuid, UuidHash> &new_rows) {
  std::vector<StoredHolder> holders;
  // One fingerprint (a row not stored yet): its holder comes with its episode's group.
  bool joined = fps.size() == 1;
  if (joined && index_reads_available())
    if (auto read = index_read_holders(projects[0], fps[0])) {
      for (StoredHolder &h : *read)
        if (!new_rows.count(h.id)) holders.push_back(std::move(h));
      return holders;
    }
  uint64 n = joined ? sql::active_holders_one.run({projects[0].to_datum(), text_datum(fps[0])})
                    : sql::active_holders.run({uuid_array(projects), text_array(fps)});
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    StoredHolder h;
    h.id = Uuid::from_datum(spi_value(i, 2, &isnull));
    if (new_rows.count(h.id)) continue;
    h.project = Uuid::from_datum(spi_value(i, 1, &isnull));
    h.fingerprint = text_from_datum(spi_value(i, 3, &isnull));
    h.created_at = DatumGetTimestampTz(spi_value(i, 4, &isnull));
    Datum episode = spi_value(i, 5, &isnull);
    if (!isnull) h.episode = Uuid::from_datum(episode);
    if (joined && h.episode) {
      Datum rule = spi_value(i, 6, &isnull);
      h.episode_rule = isnull ? "" : Uuid::from_datum(rule).text();
      Datum key = spi_value(i, 7, &isnull);
      h.episode_key = isnull ? "" : text_from_datum(key);
    }
    holders.push_back(std::move(h));
  }
  if (joined) return holders;
  // A multi-row statement's own rows, stored already, hold most of its fingerprints: only
  // the older holders' episodes are looked up.
  std::vector<Uuid> episode_projects, episodes;
  for (const StoredHolder &h : holders)
    if (h.episode) {
      episode_projects.push_back(h.project);
      episodes.push_back(*h.episode);
    }
  if (episodes.empty()) return holders;
  n = sql::episode_groups.run({uuid_array(episode_projects), uuid_array(episodes)});
  std::unordered_map<Uuid, std::pair<std::string, std::string>, UuidHash> groups;
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    Uuid id = Uuid::from_datum(spi_value(i, 1, &isnull));
    Datum rule = spi_value(i, 2, &isnull);
    std::string rule_text = isnull ? "" : Uuid::from_datum(rule).text();
    Datum key = spi_value(i, 3, &isnull);
    groups[id] = {rule_text, isnull ? "" : text_from_datum(key)};
  }
  for (StoredHolder &h : holders)
    if (h.episode) {
      auto g = groups.find(*h.episode);
      if (g != groups.end()) std::tie(h.episode_rule, h.episode_key) = g->second;
    }
  return holders;
}

void find_duplicates(Batches &batches, Writes &w, EngineResult &result, DuplicateLocks &locks,
                     DedupKeys &dedup) {
  std::vector<int64> keys;
  for (auto &[project, batch] : batches)
    batch->active_fingerprints(dedup.projects, dedup.fingerprints);
  if (dedup.fingerprints.empty()) return;
  for (size_t i = 0; i < dedup.fingerprints.size(); i++)
    keys.push_back(lock_key(LockClass::Fingerprint, dedup.projects[i], dedup.fingerprints[i]));
  lock_keys(std::move(keys));

  std::unordered_set<Uuid, UuidHash> is_new;
  for (auto &[project, batch] : batches)
    for (const AlertRow *row : batch->rows()) is_new.insert(row->id);
  std::unordered_set<Uuid, UuidHash> visible;
  for (StoredHolder &stored : read_holders(dedup.projects, dedup.fingerprints, is_new)) {
    visible.insert(stored.id);
    ProjectBatch::Holder holder;
    holder.id = stored.id;
    holder.created_at = stored.created_at;
    holder.episode = stored.episode;
    holder.episode_rule = std::move(stored.episode_rule);
    holder.episode_key = std::move(stored.episode_key);
    batches.at(stored.project)->add_holder(stored.fingerprint, std::move(holder));
  }
  if (IsolationUsesXactSnapshot()) check_holders_visible(dedup, visible, is_new);
  for (auto &[project, batch] : batches) batch->resolve_duplicates(w, result.deduplicated, locks);
}

// The holders were read before their episodes' locks were taken, and a lifecycle function
// (resolve_episode) changes an episode's alerts under that lock alone: one may have been
// resolved in between. Once the locks are held, every holder must still be active.
bool holders_still_active(const DuplicateLocks &locks) {
  if (locks.holders.empty()) return true;
  uint64 n = sql::still_active.run({uuid_array(locks.projects), uuid_array(locks.holders)});
  std::unordered_set<Uuid, UuidHash> active;
  bool isnull;
  for (uint64 i = 0; i < n; i++) active.insert(Uuid::from_datum(spi_value(i, 2, &isnull)));
  for (const Uuid &holder : locks.holders)
    if (!active.count(holder)) return false;
  return true;
}

}  // namespace ag::pg
