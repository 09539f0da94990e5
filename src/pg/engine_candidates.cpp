// Candidate episodes: the open (or recently resolved) episodes of each rule and key the
// statement's alerts may join, read under the group locks and their own episode locks.
#include "engine_locks.hpp"
#include "engine_statements.hpp"
#include "engine_steps.hpp"

namespace ag::pg {

namespace {

namespace sql = statements;

uint64 read_candidates(bool open, const CandidateRequests &r) {
  if (r.project.size() == 1)
    return (open ? sql::open_episodes_one : sql::resolved_episodes_one)
        .run({r.project[0].to_datum(), r.rule[0].to_datum(), text_datum(r.key[0]),
              TimestampTzGetDatum(r.since[0])});
  return (open ? sql::open_episodes : sql::resolved_episodes)
      .run({uuid_array(r.project), uuid_array(r.rule), text_array(r.key),
            timestamptz_array(r.since)});
}

}  // namespace

// A lifecycle function (resolve_episode, ...) changes an episode under its episode lock
// only: what it changed before releasing the lock must be seen, and nothing may change
// the episode afterwards. So the read counts only if every episode found was already locked
// when it ran (the engine locks the episodes it expects first); otherwise the missing locks
// are taken and the candidates read again.
void load_candidates(bool open, const CandidateRequests &requests, Batches &batches,
                     std::unordered_set<int64> &held) {
  if (requests.project.empty()) return;
  uint64 n = read_candidates(open, requests);
  if (n == 0) return;
  std::vector<int64> missing;
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    int64 key = episode_lock_key(Uuid::from_datum(spi_value(i, 1, &isnull)),
                                 Uuid::from_datum(spi_value(i, 3, &isnull)));
    if (!held.count(key)) missing.push_back(key);
  }
  if (!missing.empty()) {
    held.insert(missing.begin(), missing.end());
    lock_keys(std::move(missing));
    n = read_candidates(open, requests);
  }
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    EpisodeState e;
    Uuid id = Uuid::from_datum(spi_value(i, 3, &isnull));
    e.id = id.text();
    e.group_key = text_from_datum(spi_value(i, 4, &isnull));
    e.first_title = text_from_datum(spi_value(i, 5, &isnull));
    e.started_at_us = DatumGetTimestampTz(spi_value(i, 6, &isnull));
    e.last_activity_us = DatumGetTimestampTz(spi_value(i, 7, &isnull));
    Datum resolved_at = spi_value(i, 8, &isnull);
    e.resolved_at_us = isnull ? 0 : DatumGetTimestampTz(resolved_at);
    e.severity = severity_from_text(spi_value(i, 9, &isnull));
    e.alert_count = DatumGetInt32(spi_value(i, 10, &isnull));
    e.reopen_count = DatumGetInt32(spi_value(i, 11, &isnull));
    std::vector<Uuid> monitors = uuids_from_array(spi_value(i, 12, &isnull));
    e.resolved = DatumGetBool(spi_value(i, 13, &isnull));
    batches.at(Uuid::from_datum(spi_value(i, 1, &isnull)))
        ->add_candidate(Uuid::from_datum(spi_value(i, 2, &isnull)), id, std::move(e),
                        std::move(monitors));
  }
}

}  // namespace ag::pg
