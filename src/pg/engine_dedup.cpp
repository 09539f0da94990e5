// Deduplication: an active alert with the same fingerprint absorbs a new one.
#include <unordered_map>
#include <unordered_set>

#include "engine_locks.hpp"
#include "engine_statements.hpp"
#include "engine_steps.hpp"

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
                           const std::unordered_map<Uuid, bool, UuidHash> &is_new) {
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

uint64 read_holders(const std::vector<Uuid> &projects, const std::vector<std::string> &fps) {
  if (fps.size() == 1)
    return sql::active_holders_one.run({projects[0].to_datum(), text_datum(fps[0])});
  return sql::active_holders.run({uuid_array(projects), text_array(fps)});
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

  std::unordered_map<Uuid, bool, UuidHash> is_new;
  for (auto &[project, batch] : batches)
    for (const AlertRow *row : batch->rows()) is_new[row->id] = true;
  uint64 n = read_holders(dedup.projects, dedup.fingerprints);
  std::unordered_set<Uuid, UuidHash> visible = holder_ids(n);
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    ProjectBatch::Holder holder;
    holder.id = Uuid::from_datum(spi_value(i, 2, &isnull));
    if (is_new.count(holder.id)) continue;
    holder.created_at = DatumGetTimestampTz(spi_value(i, 4, &isnull));
    Datum episode = spi_value(i, 5, &isnull);
    if (!isnull) {
      holder.episode = Uuid::from_datum(episode);
      Datum rule = spi_value(i, 6, &isnull);
      holder.episode_rule = isnull ? "" : Uuid::from_datum(rule).text();
      Datum key = spi_value(i, 7, &isnull);
      holder.episode_key = isnull ? "" : text_from_datum(key);
    }
    batches.at(Uuid::from_datum(spi_value(i, 1, &isnull)))
        ->add_holder(text_from_datum(spi_value(i, 3, &isnull)), std::move(holder));
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
