#include "engine_guard.hpp"
#include "metric_counters.hpp"

#include "module.hpp"
#include "spi_query.hpp"

namespace ag::pg {

namespace {

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

// The trigger functions pin search_path themselves (SET search_path), so this usually
// finds it pinned already and does nothing; -1 then.
int pin_search_path() {
  if (namespace_search_path != nullptr && strcmp(namespace_search_path, "pg_catalog, pg_temp") == 0)
    return -1;
  int level = NewGUCNestLevel();
  set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                    GUC_ACTION_SAVE, true, 0, false);
  return level;
}

void unpin_search_path(int level) {
  if (level >= 0) AtEOXact_GUC(true, level);
}

// Keeps the failure in engine_errors. Recording runs in its own subtransaction: if even
// that fails, the alerts are still kept and only the WARNING tells.
void record_engine_error(Oid owner, ErrorData *edata, void (*record)(void *, ErrorData *),
                         void *context) {
  count_event(Counter::EngineErrors);
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
    PendingError error = capture_errors([&] { record(context, edata); });
    raise_pending(error);
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

EnginePlan *decide_guarded(Oid owner, void (*decide)(void *, std::unique_ptr<EnginePlan> &),
                           void *context, void (*record)(void *, ErrorData *)) {
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
    int guc_level = pin_search_path();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    PendingError error = capture_errors([&] { decide(context, *plan_slot); });
    raise_pending(error);
    SPI_finish();
    unpin_search_path(guc_level);
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
    record_engine_error(owner, edata, record, context);
    FreeErrorData(edata);
  }
  PG_END_TRY();
  if (plan_slot == nullptr) return nullptr;
  EnginePlan *plan = plan_slot->release();
  delete plan_slot;
  return plan;
}

void write_guarded(Oid owner, EnginePlan *plan, void (*write)(void *, EnginePlan &),
                   void *context) {
  Oid save_user;
  int save_sec;
  GetUserIdAndSecContext(&save_user, &save_sec);
  SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
  int guc_level = pin_search_path();
  PendingError error = capture_errors([&] {
    std::unique_ptr<EnginePlan> owned(plan);
    if (pg_call([] { return SPI_connect(); }) != SPI_OK_CONNECT)
      throw PgError(ERRCODE_INTERNAL_ERROR, "SPI_connect failed", "", "");
    write(context, *owned);
    pg_call([] { SPI_finish(); });
  });
  unpin_search_path(guc_level);
  SetUserIdAndSecContext(save_user, save_sec);
  raise_pending(error);
}

void insert_engine_error(const std::vector<Uuid> &projects, const std::vector<Uuid> &ids,
                         const ErrorData *edata) {
  static SpiQuery insert(
      "INSERT INTO alert_grouping.engine_errors (project_id, id, alert_ids, sqlstate, message) "
      "OVERRIDING SYSTEM VALUE "
      "SELECT v.p, pg_catalog.nextval('alert_grouping.engine_errors_id_seq'::pg_catalog.regclass), "
      "       pg_catalog.array_agg(v.id), $3, $4 "
      "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[])) "
      "       AS v(p, id) GROUP BY v.p",
      {UUIDARRAYOID, UUIDARRAYOID, TEXTOID, TEXTOID});
  insert.run({uuid_array(projects), uuid_array(ids),
              pg_call([&] { return CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode)); }),
              pg_call([&] {
                return CStringGetTextDatum(edata->message ? edata->message : "unknown error");
              })});
}

}  // namespace ag::pg
