#include "engine.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "engine_batch.hpp"
#include "engine_locks.hpp"
#include "engine_statements.hpp"
#include "engine_writes.hpp"
#include "grouping.hpp"
#include "interrupts.hpp"
#include "planner.hpp"
#include "project_config.hpp"
#include "time_math.hpp"

namespace ag::pg {

const char *const kAlertColumns[] = {"project_id", "id",          "monitor_id", "severity",
                                     "title",      "description", "labels",     "fingerprint",
                                     "created_at", "state",       "resolved_at"};

Severity AlertRowReader::severity_of(Datum enum_value) {
  Oid oid = DatumGetObjectId(enum_value);
  for (const auto &[known, severity] : severities_)
    if (known == oid) return severity;
  std::string name = pg_call(
      [&] { return std::string(DatumGetCString(DirectFunctionCall1(enum_out, enum_value))); });
  Severity severity = parse_severity(name).value_or(Severity::Medium);
  severities_.emplace_back(oid, severity);
  return severity;
}

bool AlertRowReader::is_resolved(Datum enum_value) {
  Oid oid = DatumGetObjectId(enum_value);
  if (resolved_oid_ == InvalidOid) {
    std::string name = pg_call(
        [&] { return std::string(DatumGetCString(DirectFunctionCall1(enum_out, enum_value))); });
    if (name != "resolved") return false;
    resolved_oid_ = oid;
  }
  return oid == resolved_oid_;
}

namespace {

namespace sql = statements;

using Batches = std::map<Uuid, std::unique_ptr<ProjectBatch>>;

ProjectBatch &batch_of(Batches &batches, const Uuid &project) { return *batches.at(project); }

std::vector<int64> episode_keys(const std::vector<Uuid> &projects, const std::vector<Uuid> &ids) {
  std::vector<int64> keys;
  for (size_t i = 0; i < ids.size(); i++) keys.push_back(episode_lock_key(projects[i], ids[i]));
  return keys;
}

// Under REPEATABLE READ or SERIALIZABLE, a holder committed after the transaction's snapshot
// is invisible to it, and the fingerprint lock alone cannot keep a second active alert out:
// such a statement fails with a serialization failure, and the client retries.
// The alert ids (column 2) of the holders query's n result rows.
std::unordered_set<Uuid, UuidHash> holder_ids(uint64 n) {
  std::unordered_set<Uuid, UuidHash> ids;
  bool isnull;
  for (uint64 i = 0; i < n; i++) ids.insert(Uuid::from_datum(spi_value(i, 2, &isnull)));
  return ids;
}

void check_holders_visible(const std::vector<Uuid> &projects,
                           const std::vector<std::string> &fingerprints,
                           const std::unordered_set<Uuid, UuidHash> &visible,
                           const std::unordered_map<Uuid, bool, UuidHash> &is_new) {
  uint64 n = sql::active_holders.run_with_snapshot({uuid_array(projects), text_array(fingerprints)},
                                                   pg_call([] { return GetLatestSnapshot(); }));
  for (const Uuid &id : holder_ids(n))
    if (!visible.count(id) && !is_new.count(id))
      throw PgError(ERRCODE_T_R_SERIALIZATION_FAILURE,
                    "could not serialize access due to a concurrent alert with the same "
                    "fingerprint",
                    "Alert " + id.text() + " was committed after this transaction's snapshot.",
                    "Retry the transaction.");
}

// The fingerprints deduplicated against, as the holders query takes them.
struct DedupKeys {
  std::vector<Uuid> projects;
  std::vector<std::string> fingerprints;
};

// Duplicates, decided before anything is written: the fingerprint locks, the stored holders,
// which new rows each absorbs. Holders' episodes join the group and episode locks.
void find_duplicates(Batches &batches, Writes &w, EngineResult &result, DuplicateLocks &locks,
                     DedupKeys &dedup) {
  std::vector<int64> keys;
  std::vector<Uuid> &projects = dedup.projects;
  std::vector<std::string> &fingerprints = dedup.fingerprints;
  for (auto &[project, batch] : batches) batch->active_fingerprints(projects, fingerprints);
  if (fingerprints.empty()) return;
  for (size_t i = 0; i < fingerprints.size(); i++)
    keys.push_back(lock_key(LockClass::Fingerprint, projects[i], fingerprints[i]));
  lock_keys(std::move(keys));

  std::unordered_map<Uuid, bool, UuidHash> is_new;
  for (auto &[project, batch] : batches)
    for (const AlertRow *row : batch->rows()) is_new[row->id] = true;
  uint64 n = sql::active_holders.run({uuid_array(projects), text_array(fingerprints)});
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
    batch_of(batches, Uuid::from_datum(spi_value(i, 1, &isnull)))
        .add_holder(text_from_datum(spi_value(i, 3, &isnull)), std::move(holder));
  }
  if (IsolationUsesXactSnapshot()) check_holders_visible(projects, fingerprints, visible, is_new);
  for (auto &[project, batch] : batches) batch->resolve_duplicates(w, result.deduplicated, locks);
}

// The holders were read before their episodes' locks were taken, and a lifecycle function
// (resolve_episode) changes an episode's alerts under that lock alone: one may have been
// resolved in between. Once the locks are held, every holder must still be active.
bool holders_still_active(const DedupKeys &dedup, const std::vector<Uuid> &holders) {
  if (holders.empty()) return true;
  std::unordered_set<Uuid, UuidHash> active = holder_ids(
      sql::active_holders.run({uuid_array(dedup.projects), text_array(dedup.fingerprints)}));
  for (const Uuid &holder : holders)
    if (!active.count(holder)) return false;
  return true;
}

// Candidates are read, their episode locks taken, and read again: what a lifecycle function
// changed before releasing the lock is seen, and nothing changes them afterwards.
void load_candidates(SpiQuery &query, const CandidateRequests &requests, Batches &batches) {
  if (requests.project.empty()) return;
  std::vector<Datum> args = {uuid_array(requests.project), uuid_array(requests.rule),
                             text_array(requests.key), timestamptz_array(requests.since)};
  uint64 n = query.run(args);
  if (n == 0) return;
  std::vector<int64> keys;
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    keys.push_back(episode_lock_key(Uuid::from_datum(spi_value(i, 1, &isnull)),
                                    Uuid::from_datum(spi_value(i, 3, &isnull))));
  }
  lock_keys(std::move(keys));
  n = query.run(args);
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
    batch_of(batches, Uuid::from_datum(spi_value(i, 1, &isnull)))
        .add_candidate(Uuid::from_datum(spi_value(i, 2, &isnull)), id, std::move(e),
                       std::move(monitors));
  }
}

}  // namespace

void lock_for_batch(const Uuid &project, const std::vector<AlertRow> &rows,
                    const std::vector<std::string> &fingerprints) {
  lock_fingerprints(project, fingerprints);
  auto config = project_config(project);
  std::vector<int64> group_keys;
  std::vector<Uuid> episodes;
  if (config->grouping_enabled)
    for (const AlertRow &row : rows)
      if (auto match = first_match(*config, row.alert, std::nullopt))
        group_keys.push_back(
            group_lock_key(project, config->rules[match->first].id.text(), match->second));
  if (!fingerprints.empty()) {
    std::vector<Uuid> projects(fingerprints.size(), project);
    uint64 n = sql::active_holders.run({uuid_array(projects), text_array(fingerprints)});
    for (uint64 i = 0; i < n; i++) {
      bool isnull;
      Datum episode = spi_value(i, 5, &isnull);
      if (isnull) continue;
      episodes.push_back(Uuid::from_datum(episode));
      Datum rule = spi_value(i, 6, &isnull);
      std::string rule_text = isnull ? "" : Uuid::from_datum(rule).text();
      Datum key = spi_value(i, 7, &isnull);
      group_keys.push_back(group_lock_key(project, rule_text, isnull ? "" : text_from_datum(key)));
    }
  }
  lock_keys(std::move(group_keys));
  lock_episodes(project, episodes);
}

namespace {

// One attempt at deciding; nullptr when a holder changed before its locks were taken and
// another attempt may be made (the locks taken so far stay held).
std::unique_ptr<EnginePlan> decide_once(std::vector<AlertRow> &rows, const EngineOptions &options,
                                        bool may_retry) {
  auto plan = std::make_unique<EnginePlan>();
  plan->added_by = options.added_by;
  EngineResult &result = plan->result;
  // Projects in a fixed order, so that everything locked per project is locked in one
  // global order.
  Batches batches;
  std::map<Uuid, bool> disabled;
  for (AlertRow &row : rows) {
    auto it = batches.find(row.project);
    if (it == batches.end()) {
      if (disabled.count(row.project)) continue;
      auto config = project_config(row.project);
      if (!config->grouping_enabled) {
        disabled[row.project] = true;
        continue;
      }
      it =
          batches.emplace(row.project, std::make_unique<ProjectBatch>(row.project, config, options))
              .first;
    }
    it->second->add(&row);
  }
  if (batches.empty()) return plan;

  Writes &writes = plan->writes;
  DuplicateLocks locks;
  DedupKeys dedup;
  for (auto &[project, batch] : batches) batch->match_all(locks.group_keys);
  if (options.deduplicate) find_duplicates(batches, writes, result, locks, dedup);
  for (auto &[project, batch] : batches) batch->plan_rules();
  if (locks.group_keys.empty() && writes.removed.id.empty()) return plan;
  lock_keys(std::move(locks.group_keys));
  lock_keys(episode_keys(locks.projects, locks.episodes));
  if (may_retry && !holders_still_active(dedup, locks.holders)) return nullptr;

  CandidateRequests open, resolved;
  for (auto &[project, batch] : batches) batch->request_candidates(open, resolved);
  load_candidates(sql::open_episodes, open, batches);
  load_candidates(sql::resolved_episodes, resolved, batches);
  for (auto &[project, batch] : batches) {
    ag::check_interrupts();
    batch->plan();
    batch->write(writes);
  }
  return plan;
}

}  // namespace

std::unique_ptr<EnginePlan> decide(std::vector<AlertRow> &rows, const EngineOptions &options) {
  // Deciding duplicates raises the severity and last duplicate time of rows that absorb
  // later rows of the statement; another attempt starts from the rows as they came.
  std::vector<std::pair<Severity, TimestampTz>> original;
  original.reserve(rows.size());
  for (const AlertRow &row : rows) original.emplace_back(row.alert.severity, row.last_duplicate_at);
  constexpr int kAttempts = 3;
  for (int attempt = 1;; attempt++) {
    std::unique_ptr<EnginePlan> plan = decide_once(rows, options, attempt < kAttempts);
    if (plan) return plan;
    for (size_t i = 0; i < rows.size(); i++)
      std::tie(rows[i].alert.severity, rows[i].last_duplicate_at) = original[i];
  }
}

EngineResult run_engine(std::vector<AlertRow> &rows, const EngineOptions &options) {
  std::unique_ptr<EnginePlan> plan = decide(rows, options);
  write_plan(*plan);
  return plan->result;
}

}  // namespace ag::pg
