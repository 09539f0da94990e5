// The AFTER INSERT ... FOR EACH STATEMENT trigger: runs the engine over the statement's new
// rows as the alerts table's owner, with a pinned search_path. The engine decides in a
// subtransaction that only reads and takes advisory locks, so it needs no transaction id of
// its own: if deciding fails, the alerts stay stored (ungrouped) and the failure is recorded
// in engine_errors; cancellations, timeouts and retryable conflicts abort the statement. The
// decided writes then run in the statement itself.
#include "engine.hpp"
#include "engine_writes.hpp"
#include "module.hpp"

using namespace ag::pg;

namespace {

// Rows that arrive already grouped (episode_id set: a restore) are stored as they are.
void read_new_rows(Relation rel, Tuplestorestate *store, std::vector<AlertRow> &rows) {
  TupleDesc desc = RelationGetDescr(rel);
  int attnums[kAlertColumnCount];
  for (int i = 0; i < kAlertColumnCount; i++) attnums[i] = SPI_fnumber(desc, kAlertColumns[i]);
  int episode_att = SPI_fnumber(desc, "episode_id");
  TupleTableSlot *slot =
      pg_call([&] { return MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple); });
  // Our own read pointer, as a NamedTuplestoreScan would take, so other readers are unaffected.
  pg_call([&] {
    int pointer = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
    tuplestore_select_read_pointer(store, pointer);
    tuplestore_rescan(store);
  });
  AlertRowReader reader;
  size_t ordinal = 0;
  while (pg_call([&] { return tuplestore_gettupleslot(store, true, false, slot); })) {
    bool no_episode;
    pg_call([&] { slot_getattr(slot, episode_att, &no_episode); });
    if (!no_episode) {
      ordinal++;
      continue;
    }
    rows.push_back(reader.read(
        [&](int i, bool *isnull) {
          return pg_call([&] { return slot_getattr(slot, attnums[i], isnull); });
        },
        ordinal++));
  }
  pg_call([&] {
    tuplestore_select_read_pointer(store, 0);
    ExecDropSingleTupleTableSlot(slot);
  });
}

void decide_statement(Relation rel, Tuplestorestate *store, std::unique_ptr<EnginePlan> &plan) {
  std::vector<AlertRow> rows;
  read_new_rows(rel, store, rows);
  if (rows.empty()) return;
  EngineOptions options;
  plan = decide(rows, options);
}

void write_statement(EnginePlan &plan) {
  if (pg_call([] { return SPI_connect(); }) != SPI_OK_CONNECT)
    throw PgError(ERRCODE_INTERNAL_ERROR, "SPI_connect failed", "", "");
  write_plan(plan);
  pg_call([] { SPI_finish(); });
}

// Errors that must reach the client: cancellations, shutdowns, resource exhaustion and
// transaction conflicts, for which the right answer is to retry the whole insert.
// A lock_timeout is a conflict too. Program limits (an over-long value, a too-deep
// expression) are not: those alerts are kept, ungrouped.
bool must_propagate(int sqlerrcode) {
  int category = ERRCODE_TO_CATEGORY(sqlerrcode);
  return sqlerrcode == ERRCODE_QUERY_CANCELED || sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
         category == ERRCODE_TO_CATEGORY(ERRCODE_ADMIN_SHUTDOWN) ||
         category == ERRCODE_TO_CATEGORY(ERRCODE_T_R_SERIALIZATION_FAILURE) ||
         category == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES);
}

// Keeps the failure in engine_errors. Recording runs in its own subtransaction: if even
// that fails, the alerts are still kept and only the WARNING tells.
void record_engine_error(TriggerData *trigdata, Oid owner, ErrorData *edata) {
  MemoryContext caller_context = CurrentMemoryContext;
  ResourceOwner caller_owner = CurrentResourceOwner;
  Oid save_user;
  int save_sec;
  GetUserIdAndSecContext(&save_user, &save_sec);
  volatile bool recorded = false;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(caller_context);
  PG_TRY();
  {
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    SPI_register_trigger_data(trigdata);
    Datum args[2] = {CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode)),
                     CStringGetTextDatum(edata->message ? edata->message : "unknown error")};
    Oid types[2] = {TEXTOID, TEXTOID};
    SPI_execute_with_args(
        "INSERT INTO alert_grouping.engine_errors (project_id, alert_ids, sqlstate, message) "
        "SELECT n.project_id, pg_catalog.array_agg(n.id), $1, $2 FROM new_alerts AS n "
        " GROUP BY n.project_id",
        2, types, args, nullptr, false, 0);
    SPI_finish();
    SetUserIdAndSecContext(save_user, save_sec);
    ReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;
    recorded = true;
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;
  }
  PG_END_TRY();
  ereport(WARNING,
          (errcode(edata->sqlerrcode),
           errmsg("alert_grouping: alerts stored without grouping: %s", edata->message),
           errdetail("%s%s%s", edata->detail ? edata->detail : "", edata->detail ? " " : "",
                     recorded ? "The failure is recorded in alert_grouping.engine_errors."
                              : "The failure could not be recorded in engine_errors either.")));
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(ag_alerts_after_insert);
}

extern "C" Datum ag_alerts_after_insert(PG_FUNCTION_ARGS) {
  auto *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
  if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
      TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
    elog(ERROR, "alerts_after_insert must fire AFTER ... FOR EACH STATEMENT");
  if (!grouping_enabled_guc || restoring_guc || trigdata->tg_newtable == nullptr)
    return PointerGetDatum(nullptr);

  Relation rel = trigdata->tg_relation;
  Tuplestorestate *store = trigdata->tg_newtable;
  Oid owner = rel->rd_rel->relowner;
  Oid save_user;
  int save_sec;
  GetUserIdAndSecContext(&save_user, &save_sec);
  MemoryContext caller_context = CurrentMemoryContext;
  ResourceOwner caller_owner = CurrentResourceOwner;

  // Owned here, outside the PG_TRY frame: filled in the subtransaction, written after it.
  std::unique_ptr<EnginePlan> *volatile plan_slot =
      new (std::nothrow) std::unique_ptr<EnginePlan>();
  if (plan_slot == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(caller_context);
  PG_TRY();
  {
    // The engine reads rules and writes episodes the inserting role may not see directly;
    // it touches only the projects of the rows the role was allowed to insert.
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
    int guc_level = NewGUCNestLevel();
    set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                      GUC_ACTION_SAVE, true, 0, false);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    PendingError error = capture_errors([&] { decide_statement(rel, store, *plan_slot); });
    raise_pending(error);
    SPI_finish();
    AtEOXact_GUC(true, guc_level);
    SetUserIdAndSecContext(save_user, save_sec);
    ReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    ErrorData *edata = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;
    delete plan_slot;
    plan_slot = nullptr;
    if (must_propagate(edata->sqlerrcode)) ReThrowError(edata);
    record_engine_error(trigdata, owner, edata);
    FreeErrorData(edata);
  }
  PG_END_TRY();
  if (plan_slot == nullptr) return PointerGetDatum(nullptr);
  // The writes, in the statement itself (an error here aborts the statement, as any failed
  // insert does). The plan is freed before any error is raised.
  SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
  int guc_level = NewGUCNestLevel();
  set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                    GUC_ACTION_SAVE, true, 0, false);
  PendingError error = capture_errors([&] {
    std::unique_ptr<std::unique_ptr<EnginePlan>> owned(plan_slot);
    if (*owned) write_statement(**owned);
  });
  AtEOXact_GUC(true, guc_level);
  SetUserIdAndSecContext(save_user, save_sec);
  raise_pending(error);
  return PointerGetDatum(nullptr);
}
