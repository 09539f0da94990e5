// The AFTER INSERT ... FOR EACH STATEMENT trigger: runs the engine over the statement's new
// rows that are not grouped yet (engine_guard.hpp tells how). Rows the BEFORE ROW trigger
// already decided (a single-row INSERT) are left alone, apart from deleting the duplicates
// among them; rows it stored with a guessed episode are decided like the others, and only
// those whose guess does not hold are written again; rows that arrive grouped (episode_id
// set by the client: a restore) are stored as they are.
#include "alert_columns.hpp"
#include "engine.hpp"
#include "engine_guard.hpp"
#include "engine_latency.hpp"
#include "engine_writes.hpp"
#include "module.hpp"
#include "shard_scope.hpp"
#include "statement_tracker.hpp"
#include "table_names.hpp"

using namespace ag::pg;

namespace {

struct NewRows {
  std::vector<AlertRow> rows;                           // to group
  std::vector<Uuid> duplicate_projects, duplicate_ids;  // decided duplicates, to delete
  // Rows stored with a guessed episode, found before deciding: if deciding fails, their
  // guesses are cleared (an alert is never left in an episode that does not count it).
  std::unordered_map<Uuid, EnginePlan::Guess, UuidHash> guesses;
};

// Our own read pointer, as a NamedTuplestoreScan would take, so other readers are unaffected.
template <typename Visit>
void scan(Tuplestorestate *store, TupleDesc desc, Visit &&visit) {
  TupleTableSlot *slot =
      pg_call([&] { return MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple); });
  pg_call([&] {
    int pointer = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
    tuplestore_select_read_pointer(store, pointer);
    tuplestore_rescan(store);
  });
  while (pg_call([&] { return tuplestore_gettupleslot(store, true, false, slot); })) visit(slot);
  pg_call([&] {
    tuplestore_select_read_pointer(store, 0);
    ExecDropSingleTupleTableSlot(slot);
  });
}

void collect_guesses(Relation rel, Tuplestorestate *store, NewRows &out) {
  if (!any_predicted()) return;
  TupleDesc desc = RelationGetDescr(rel);
  const AlertColumns columns = alert_columns(rel);
  int project_att = columns.project, id_att = columns.id;
  scan(store, desc, [&](TupleTableSlot *slot) {
    bool no_id, no_project;
    Datum id = pg_call([&] { return slot_getattr(slot, id_att, &no_id); });
    Datum project = pg_call([&] { return slot_getattr(slot, project_att, &no_project); });
    GuessedMembership guess;
    if (!no_id && !no_project && take_predicted(Uuid::from_datum(id), &guess))
      out.guesses[Uuid::from_datum(id)] = {Uuid::from_datum(project), guess.rule, guess.episode,
                                           guess.similarity_score};
  });
}

void read_new_rows(Relation rel, Tuplestorestate *store, NewRows &out) {
  TupleDesc desc = RelationGetDescr(rel);
  const AlertColumns columns = alert_columns(rel);
  const int *attnums = columns.reader;
  int id_att = columns.id;
  int episode_att = columns.episode;
  AlertRowReader reader;
  size_t ordinal = 0;
  scan(store, desc, [&](TupleTableSlot *slot) {
    size_t position = ordinal++;
    bool isnull;
    Datum id_datum = pg_call([&] { return slot_getattr(slot, id_att, &isnull); });
    Uuid id = isnull ? Uuid() : Uuid::from_datum(id_datum);
    DecidedAlert decided;
    if (!isnull && take_decided(id, &decided)) {
      if (decided.duplicate) {
        out.duplicate_projects.push_back(decided.project);
        out.duplicate_ids.push_back(decided.id);
      }
      return;
    }
    bool no_episode;
    pg_call([&] { slot_getattr(slot, episode_att, &no_episode); });
    auto guess = isnull ? out.guesses.end() : out.guesses.find(id);
    if (!no_episode && guess == out.guesses.end()) return;
    out.rows.push_back(reader.read(
        [&](int i, bool *null) {
          return pg_call([&] { return slot_getattr(slot, attnums[i], null); });
        },
        position));
  });
}

// A single-row INSERT decided before its row was stored (before_insert_trigger.cpp) needs
// no deciding here, so no subtransaction: at most its duplicate to delete. False for any
// other statement, with nothing taken.
bool take_decided_row(Relation rel, Tuplestorestate *store, NewRows &out) {
  if (pg_call([&] { return tuplestore_tuple_count(store); }) != 1) return false;
  int id_att = alert_columns(rel).id;
  bool decided = false;
  scan(store, RelationGetDescr(rel), [&](TupleTableSlot *slot) {
    bool isnull;
    Datum id = pg_call([&] { return slot_getattr(slot, id_att, &isnull); });
    DecidedAlert row;
    if (isnull || !take_decided(Uuid::from_datum(id), &row)) return;
    decided = true;
    if (row.duplicate) {
      out.duplicate_projects.push_back(row.project);
      out.duplicate_ids.push_back(row.id);
    }
  });
  return decided;
}

struct StatementContext {
  TriggerData *trigdata;
  NewRows *rows;
};

void decide_statement(void *context, std::unique_ptr<EnginePlan> &plan) {
  auto &c = *static_cast<StatementContext *>(context);
  read_new_rows(c.trigdata->tg_relation, c.trigdata->tg_newtable, *c.rows);
  if (c.rows->rows.empty()) return;
  EngineOptions options;
  plan = decide(c.rows->rows, options);
}

void record_statement_error(void *context, ErrorData *edata) {
  auto &c = *static_cast<StatementContext *>(context);
  SPI_register_trigger_data(c.trigdata);
  Datum args[2] = {CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode)),
                   CStringGetTextDatum(edata->message ? edata->message : "unknown error")};
  Oid types[2] = {TEXTOID, TEXTOID};
  std::string sql =
      "INSERT INTO alert_grouping.engine_errors (project_id, id, alert_ids, sqlstate, message) "
      "OVERRIDING SYSTEM VALUE "
      "SELECT n.project_id, "
      "       pg_catalog.nextval('alert_grouping.engine_errors_id_seq'::pg_catalog.regclass), "
      "       pg_catalog.array_agg(n.id), $1, $2 FROM new_alerts AS n "
      " GROUP BY n.project_id";
  // On a shard: into the co-located engine_errors shard, where the transition table is seen.
  if (const ShardGroup *group = current_shard_group())
    sql = ag::rename_tables(sql, "alert_grouping", group->tables);
  SPI_execute_with_args(sql.c_str(), 2, types, args, nullptr, false, 0);
}

void write_statement(void *context, EnginePlan &plan) {
  auto &c = *static_cast<StatementContext *>(context);
  auto &removed = plan.writes.removed;
  removed.project.insert(removed.project.end(), c.rows->duplicate_projects.begin(),
                         c.rows->duplicate_projects.end());
  removed.id.insert(removed.id.end(), c.rows->duplicate_ids.begin(), c.rows->duplicate_ids.end());
  plan.predicted = std::move(c.rows->guesses);
  write_plan(plan);
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(ag_alerts_after_insert);
}

static void after_insert(TriggerData *trigdata) {
  Oid owner = trigdata->tg_relation->rd_rel->relowner;
  // Freed before any error is raised from here on; the rows are read in the subtransaction.
  NewRows *rows = new (std::nothrow) NewRows();
  if (rows == nullptr) ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
  StatementContext context{trigdata, rows};
  EnginePlan *plan = nullptr;
  int64 started = monotonic_us();
  bool decided = false;
  PendingError error = capture_errors([&] {
    decided = take_decided_row(trigdata->tg_relation, trigdata->tg_newtable, *rows);
    if (!decided) collect_guesses(trigdata->tg_relation, trigdata->tg_newtable, *rows);
  });
  if (error.pending()) {
    delete rows;
    raise_pending(error);
  }
  if (!decided) {
    PG_TRY();
    { plan = decide_guarded(owner, decide_statement, &context, record_statement_error); }
    PG_CATCH();
    {
      delete rows;
      PG_RE_THROW();
    }
    PG_END_TRY();
  }
  if (plan == nullptr &&
      (!rows->duplicate_ids.empty() || !deferred_incident_candidates().episode.empty()))
    plan = new (std::nothrow) EnginePlan();
  int64 row_count = int64(rows->rows.size() + rows->duplicate_ids.size());
  if (plan != nullptr) {
    PG_TRY();
    { write_guarded(owner, plan, write_statement, &context); }
    PG_FINALLY();
    { delete rows; }
    PG_END_TRY();
  } else {
    delete rows;
  }
  if (row_count > 0) record_engine_latency(monotonic_us() - started, row_count);
}

extern "C" Datum ag_alerts_after_insert(PG_FUNCTION_ARGS) {
  auto *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
  if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
      TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
    elog(ERROR, "alerts_after_insert must fire AFTER ... FOR EACH STATEMENT");
  if (!grouping_enabled_guc || restoring_guc || trigdata->tg_newtable == nullptr)
    return PointerGetDatum(nullptr);
  enter_shard_scope(trigdata->tg_relation);
  PG_TRY();
  { after_insert(trigdata); }
  PG_FINALLY();
  { leave_shard_scope(); }
  PG_END_TRY();
  return PointerGetDatum(nullptr);
}
