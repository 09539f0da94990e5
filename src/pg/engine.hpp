// The grouping pipeline over a batch of stored alerts: deduplicate, match rules, plan
// episodes, write. One code path serves the insert trigger (added_by 'rule') and regroup
// (added_by 'retroactive'). Runs connected to SPI, as the alerts table's owner.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alert.hpp"
#include "guard.hpp"
#include "values.hpp"

namespace ag::pg {

struct AlertRow {
  Uuid project;
  Uuid id;
  std::optional<Uuid> monitor;
  ag::Alert alert;  // the engine's view (monitor id text, severity, title, labels, event time)
  std::string fingerprint;
  TimestampTz created_at = 0;
  TimestampTz resolved_at = 0;
  TimestampTz last_duplicate_at = 0;  // latest duplicate this row absorbed in its statement
  bool active = true;                 // firing or acknowledged
  size_t ordinal = 0;                 // position in the statement
};

struct EngineOptions {
  std::string added_by = "rule";
  bool deduplicate = true;
  std::optional<Uuid> only_rule;  // regroup: this rule, and no other, is applied
  // When the rows arrived, for silences: the transaction's start unless given (a maintenance
  // pass releasing silenced alerts at its own time).
  std::optional<TimestampTz> arrival;
};

struct EngineResult {
  int64 deduplicated = 0;
  int64 grouped = 0;
  int64 episodes_created = 0;
  int64 silenced = 0;
};

// Column names read by AlertRowReader, in this order.
extern const char *const kAlertColumns[];
constexpr int kAlertColumnCount = 11;

// Builds an AlertRow from the kAlertColumns values of one tuple.
class AlertRowReader {
 public:
  // get(i, &isnull) returns the value of kAlertColumns[i].
  template <typename Get>
  AlertRow read(Get &&get, size_t ordinal);

 private:
  Severity severity_of(Datum enum_value);
  bool is_resolved(Datum enum_value);
  std::vector<std::pair<Oid, Severity>> severities_;
  Oid resolved_oid_ = InvalidOid;
};

// The SPI result's rows, selected as kAlertColumns in that order.
std::vector<AlertRow> read_alert_rows(uint64 n);

struct EnginePlan;  // engine_writes.hpp

// Decides what the rows do (duplicates, rules, episodes), taking only advisory locks and
// reading: no row is written or locked, so no transaction id is needed.
std::unique_ptr<EnginePlan> decide(std::vector<AlertRow> &rows, const EngineOptions &options);

// decide, then write_plan (engine_writes.hpp).
EngineResult run_engine(std::vector<AlertRow> &rows, const EngineOptions &options);

// Every lock a multi-statement ingest will need, taken at once in the engine's order: the
// fingerprint locks, the group locks of the rows' (rule, key) and of the episodes of the
// alerts holding the fingerprints, then those episodes. Needs SPI, as the tables' owner.
void lock_for_batch(const Uuid &project, const std::vector<AlertRow> &rows,
                    const std::vector<std::string> &fingerprints);

}  // namespace ag::pg

#include "engine_reader.inl"
