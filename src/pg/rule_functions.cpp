// Rule validation (trigger and validate_rule), cache invalidation, preview_rule and regroup.
#include <map>

#include "citus_forward.hpp"
#include "engine.hpp"
#include "engine_locks.hpp"
#include "entry.hpp"
#include "grouping.hpp"
#include "identity.hpp"
#include "owner.hpp"
#include "planner.hpp"
#include "project_config.hpp"
#include "rule.hpp"
#include "shard_scope.hpp"
#include "spi_query.hpp"

using namespace ag::pg;

namespace {

std::string jsonb_arg(FunctionCallInfo fcinfo, int n) {
  return PG_ARGISNULL(n) ? std::string("{}") : jsonb_text(PG_GETARG_DATUM(n));
}

SpiQuery project_window_query(
    "SELECT (EXTRACT(EPOCH FROM p.default_time_window) OPERATOR(pg_catalog.*) 1000000)::int8 "
    "  FROM alert_grouping.projects AS p WHERE p.id OPERATOR(pg_catalog.=) $1",
    {UUIDOID});

constexpr const char *kAlertSelect =
    "SELECT a.project_id, a.id, a.monitor_id, a.severity, a.title, a.description, a.labels, "
    "       a.fingerprint, a.created_at, a.state, a.resolved_at "
    "  FROM alert_grouping.alerts AS a "
    " WHERE a.project_id OPERATOR(pg_catalog.=) $1 AND a.created_at OPERATOR(pg_catalog.>=) $2 "
    "   AND a.created_at OPERATOR(pg_catalog.<) $3 ";

SpiQuery alerts_in_range_query((std::string(kAlertSelect) + " ORDER BY a.created_at, a.id").c_str(),
                               {UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID});
SpiQuery ungrouped_in_range_query(
    (std::string(kAlertSelect) + " AND a.episode_id IS NULL ORDER BY a.created_at, a.id").c_str(),
    {UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID});

// Read as the owner, once the caller's admin role in the project has been checked.
SpiQuery rule_query(
    "SELECT r.enabled FROM alert_grouping.grouping_rules AS r "
    " WHERE r.project_id OPERATOR(pg_catalog.=) $1 AND r.id OPERATOR(pg_catalog.=) $2",
    {UUIDOID, UUIDOID});

void require_arg(FunctionCallInfo fcinfo, int arg, const char *name) {
  if (PG_ARGISNULL(arg))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(name) + " must not be null", "", "");
}

void require_range(FunctionCallInfo fcinfo, int from_arg, int to_arg) {
  if (PG_ARGISNULL(from_arg) || PG_ARGISNULL(to_arg))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "from_ts and to_ts must not be null", "", "");
  if (PG_GETARG_TIMESTAMPTZ(from_arg) > PG_GETARG_TIMESTAMPTZ(to_arg))
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "from_ts must not be later than to_ts", "", "");
}

}  // namespace

AG_FUNCTION(ag_validate_rule) {
  ag::compile_rule(jsonb_arg(fcinfo, 0), jsonb_arg(fcinfo, 1), jsonb_arg(fcinfo, 2));
  PG_RETURN_VOID();
}

// BEFORE INSERT OR UPDATE on grouping_rules: a bad rule is refused when written, so that an
// alert insert never fails because of a rule.
AG_FUNCTION(ag_rules_before_write) {
  auto *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
  if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
    throw PgError(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                  "rules_before_write must fire FOR EACH ROW", "", "");
  HeapTuple tuple =
      TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
  TupleDesc desc = RelationGetDescr(trigdata->tg_relation);
  std::string docs[3];
  const char *names[3] = {"match_criteria", "grouping_config", "episode_config"};
  for (int i = 0; i < 3; i++) {
    bool isnull;
    Datum d = heap_getattr(tuple, SPI_fnumber(desc, names[i]), desc, &isnull);
    docs[i] = isnull ? "{}" : jsonb_text(d);
  }
  ag::compile_rule(docs[0], docs[1], docs[2]);
  return PointerGetDatum(tuple);
}

AG_FUNCTION(ag_config_changed) {
  broadcast_config_change();
  return PointerGetDatum(nullptr);
}

AG_FUNCTION(ag_preview_rule) {
  require_arg(fcinfo, 0, "project_id");
  require_arg(fcinfo, 1, "match_criteria");
  require_arg(fcinfo, 2, "grouping_config");
  require_range(fcinfo, 3, 4);
  ag::Rule rule = ag::compile_rule(jsonb_arg(fcinfo, 1), jsonb_arg(fcinfo, 2), "{}");
  Uuid project = Uuid::from_datum(PG_GETARG_DATUM(0));
  Datum from = PG_GETARG_DATUM(3), to = PG_GETARG_DATUM(4);

  struct Group {
    std::string key;
    std::vector<Uuid> ids;
    TimestampTz first = 0, last = 0;
  };
  std::vector<Group> groups;
  {
    SpiConnection spi;
    // Its statements name one project: off the project's node, Citus routes them there.
    ProjectShardScope shards(project.text());
    if (project_window_query.run({project.to_datum()}) != 1)
      throw PgError(ERRCODE_NO_DATA_FOUND, "project " + project.text() + " not found", "", "");
    bool isnull;
    int64 window_us = rule.grouping.time_window_minutes
                          ? int64(*rule.grouping.time_window_minutes) * USECS_PER_MINUTE
                          : DatumGetInt64(spi_value(0, 1, &isnull));
    // Runs as the caller: row-level security limits the preview to alerts it may read.
    std::vector<AlertRow> rows =
        read_alert_rows(alerts_in_range_query.run({project.to_datum(), from, to}));
    ag::Planner planner(rule, window_us);
    for (const AlertRow &row : rows) {
      if (!rule.match.matches(row.alert)) continue;
      ag::Placement p = planner.place(row.alert, ag::group_key(rule.grouping, row.alert));
      if (p.episode >= groups.size()) groups.resize(p.episode + 1);
      Group &g = groups[p.episode];
      if (g.ids.empty()) {
        g.key = planner.episodes()[p.episode].group_key;
        g.first = row.created_at;
      }
      g.ids.push_back(row.id);
      g.last = std::max(g.last, row.created_at);
    }
    spi.finish();
  }

  pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  for (const Group &g : groups) {
    pg_call([&] {
      Datum values[4] = {CStringGetTextDatum(g.key.c_str()), uuid_array(g.ids),
                         TimestampTzGetDatum(g.first), TimestampTzGetDatum(g.last)};
      bool nulls[4] = {false, false, false, false};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  return (Datum)0;
}

AG_FUNCTION(ag_regroup) {
  require_arg(fcinfo, 0, "project_id");
  require_arg(fcinfo, 1, "rule_id");
  require_range(fcinfo, 2, 3);
  Uuid project = Uuid::from_datum(PG_GETARG_DATUM(0));
  Uuid rule_id = Uuid::from_datum(PG_GETARG_DATUM(1));
  Datum from = PG_GETARG_DATUM(2), to = PG_GETARG_DATUM(3);

  // Rights first, as the caller; only then anything as the owner.
  require_project_role(project, ProjectRole::Admin, "regroup");
  ProjectNodeCall node(fcinfo, project);
  if (node.forwarded()) return node.result();
  SpiConnection spi;
  EngineResult result;
  {
    ActAsOwner as_owner(alerts_owner());
    ProjectShardScope shards(project.text());
    if (rule_query.run({project.to_datum(), rule_id.to_datum()}) != 1)
      throw PgError(ERRCODE_NO_DATA_FOUND,
                    "grouping rule " + rule_id.text() + " not found in project " + project.text(),
                    "", "");
    bool isnull;
    if (!DatumGetBool(spi_value(0, 1, &isnull)))
      throw PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "grouping rule " + rule_id.text() + " is disabled", "",
                    "Enable the rule first.");
    // The engine's statements read and write the project's shards on its node.
    shards.require_local("regroup");
    // One regroup of a project's rule at a time: a second waits, then finds the alerts the
    // first grouped no longer ungrouped (its reads take a new snapshot after the lock).
    lock_keys({lock_key(
        LockClass::Regroup, project,
        std::string_view(reinterpret_cast<const char *>(rule_id.bytes.data()), UUID_LEN))});
    std::vector<AlertRow> rows =
        read_alert_rows(ungrouped_in_range_query.run({project.to_datum(), from, to}));
    EngineOptions options;
    options.added_by = "retroactive";
    options.deduplicate = false;
    options.only_rule = rule_id;
    result = run_engine(rows, options);
  }
  spi.finish();
  PG_RETURN_INT32(static_cast<int32>(result.grouped));
}
