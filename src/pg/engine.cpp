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
#include "engine_steps.hpp"
#include "engine_writes.hpp"
#include "episode_prediction.hpp"
#include "grouping.hpp"
#include "interrupts.hpp"
#include "planner.hpp"
#include "project_config.hpp"
#include "spi_query.hpp"
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

std::vector<AlertRow> read_alert_rows(uint64 n) {
  std::vector<AlertRow> rows;
  AlertRowReader reader;
  for (uint64 i = 0; i < n; i++)
    rows.push_back(
        reader.read([&](int column, bool *isnull) { return spi_value(i, column + 1, isnull); }, i));
  return rows;
}

namespace {

std::vector<int64> episode_keys(const std::vector<Uuid> &projects, const std::vector<Uuid> &ids) {
  std::vector<int64> keys;
  for (size_t i = 0; i < ids.size(); i++) keys.push_back(episode_lock_key(projects[i], ids[i]));
  return keys;
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
    for (const StoredHolder &h : read_holders(projects, fingerprints, {})) {
      if (!h.episode) continue;
      episodes.push_back(*h.episode);
      group_keys.push_back(group_lock_key(project, h.episode_rule, h.episode_key));
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
  TimestampTz arrival = options.arrival.value_or(GetCurrentTransactionStartTimestamp());
  for (auto &[project, batch] : batches) {
    batch->apply_silences(writes, arrival, result.silenced);
    batch->plan_rules();
  }
  if (locks.group_keys.empty() && writes.removed.id.empty()) return plan;
  lock_keys(std::move(locks.group_keys));
  // The episodes of the holders, and those the requested keys most likely have (where this
  // backend placed them last, a smart rule's known open episodes): locked before the
  // candidates are read, so that one read is enough when nothing else turns up.
  CandidateRequests open, resolved;
  for (auto &[project, batch] : batches) batch->request_candidates(open, resolved);
  std::vector<int64> episode_locks = episode_keys(locks.projects, locks.episodes);
  for (size_t i = 0; i < open.project.size(); i++)
    for (const Uuid &episode : expected_episodes(open.project[i], open.rule[i], open.key[i]))
      episode_locks.push_back(episode_lock_key(open.project[i], episode));
  std::unordered_set<int64> held(episode_locks.begin(), episode_locks.end());
  lock_keys(std::move(episode_locks));
  if (may_retry && !holders_still_active(locks)) return nullptr;

  load_candidates(true, open, batches, held);
  load_candidates(false, resolved, batches, held);
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
