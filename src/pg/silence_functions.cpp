// Silences (0.8): the matchers' check when a silence is written, and the release of the
// alerts a silence held once it has ended, which the maintenance pass runs per project.
#include <unordered_set>

#include "citus_forward.hpp"
#include "engine.hpp"
#include "engine_locks.hpp"
#include "engine_writes.hpp"
#include "entry.hpp"
#include "owner.hpp"
#include "rule_error.hpp"
#include "shard_scope.hpp"
#include "silence.hpp"
#include "spi_query.hpp"

using namespace ag::pg;

namespace {

// Alerts held by a silence that has ended (or is gone) at $2, oldest first.
SpiQuery held_alerts_query(
    "SELECT a.project_id, a.id, a.monitor_id, a.severity, a.title, a.description, a.labels, "
    "       a.fingerprint, a.created_at, a.state, a.resolved_at "
    "  FROM alert_grouping.alerts AS a "
    " WHERE a.project_id OPERATOR(pg_catalog.=) $1 AND a.silenced_by IS NOT NULL "
    "   AND a.silence_released_at IS NULL AND a.episode_id IS NULL "
    "   AND NOT EXISTS (SELECT FROM alert_grouping.silences AS s "
    "                    WHERE s.project_id OPERATOR(pg_catalog.=) $1 "
    "                      AND s.id OPERATOR(pg_catalog.=) a.silenced_by "
    "                      AND s.ends_at OPERATOR(pg_catalog.>) $2) "
    " ORDER BY a.created_at, a.id",
    {UUIDOID, TIMESTAMPTZOID});

SpiQuery mark_released_query(
    "UPDATE alert_grouping.alerts AS a SET silence_released_at = $2 "
    " WHERE a.project_id OPERATOR(pg_catalog.=) $1 "
    "   AND a.id OPERATOR(pg_catalog.=) ANY ($3::uuid[])",
    {UUIDOID, TIMESTAMPTZOID, UUIDARRAYOID});

// Monitors with auto_create_incident open the incidents their released alerts held back.
SpiQuery open_incidents_query(
    "SELECT alert_grouping.open_monitor_incidents($1, ARRAY("
    "  SELECT a.id FROM alert_grouping.alerts AS a "
    "    JOIN alert_grouping.monitors AS m "
    "      ON m.project_id OPERATOR(pg_catalog.=) $1 AND m.id OPERATOR(pg_catalog.=) a.monitor_id "
    "   WHERE a.project_id OPERATOR(pg_catalog.=) $1 AND a.id OPERATOR(pg_catalog.=) ANY "
    "($2::uuid[]) "
    "     AND m.auto_create_incident AND a.state OPERATOR(pg_catalog.<>) 'resolved' "
    "     AND a.silence_released_at IS NOT NULL))",
    {UUIDOID, UUIDARRAYOID});

}  // namespace

// validate_silence_matchers(matchers text[]): 22023 naming the matcher, as rules are checked.
AG_FUNCTION(ag_validate_silence_matchers) {
  auto refuse = [](const std::string &message) {
    throw PgError(
        ERRCODE_INVALID_PARAMETER_VALUE, "invalid silence: " + message, "",
        "Matchers are written as in Alertmanager: alertname=\"DiskFull\", env=~\"prod|staging\".");
  };
  if (PG_ARGISNULL(0)) refuse("matchers: must not be null");
  std::vector<bool> nulls;
  std::vector<std::string> texts = texts_from_array(PG_GETARG_DATUM(0), &nulls);
  for (size_t i = 0; i < nulls.size(); i++)
    if (nulls[i]) refuse("matchers[" + std::to_string(i + 1) + "]: must not be null");
  try {
    ag::parse_silence_matchers(texts);
  } catch (const ag::RuleError &e) {
    refuse(e.what());
  }
  PG_RETURN_VOID();
}

// release_silenced(project_id uuid, at timestamptz) RETURNS integer: groups the project's
// still-active alerts whose silence has ended by `at`, as if they arrived then (another
// silence active at `at` may hold them again), and marks them released, with those that
// resolved while held (which group into nothing). Returns how many were released. Internal:
// run_maintenance calls it as the extension's owner.
AG_FUNCTION(ag_release_silenced) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "project_id and at must not be null", "", "");
  Uuid project = Uuid::from_datum(PG_GETARG_DATUM(0));
  Datum at = PG_GETARG_DATUM(1);
  ProjectNodeCall node(fcinfo, project);
  if (node.forwarded()) return node.result();
  SpiConnection spi;
  int32 released = 0;
  {
    ActAsOwner as_owner(alerts_owner());
    ProjectShardScope shards(project.text());
    shards.require_local("release_silenced");
    // One release per project at a time: a second waits, then finds nothing left to release.
    lock_keys({lock_key(LockClass::Regroup, project, "silences")});
    std::vector<AlertRow> held = read_alert_rows(held_alerts_query.run({project.to_datum(), at}));
    std::vector<AlertRow> rows;
    for (const AlertRow &row : held)
      if (row.active) rows.push_back(row);
    std::unordered_set<Uuid, UuidHash> held_again;
    if (!rows.empty()) {
      EngineOptions options;
      options.deduplicate = false;  // they were, when they arrived
      options.arrival = DatumGetTimestampTz(at);
      std::unique_ptr<EnginePlan> plan = decide(rows, options);
      held_again.insert(plan->writes.silenced.id.begin(), plan->writes.silenced.id.end());
      write_plan(*plan);
    }
    std::vector<Uuid> ids;
    for (const AlertRow &row : held)
      if (!held_again.count(row.id)) ids.push_back(row.id);
    if (!ids.empty()) {
      mark_released_query.run({project.to_datum(), at, uuid_array(ids)});
      open_incidents_query.run({project.to_datum(), uuid_array(ids)});
    }
    released = int32(ids.size());
  }
  spi.finish();
  PG_RETURN_INT32(released);
}
