// A database's worker: every naptime, one maintenance pass in its own transaction
// (alert_grouping.worker_pass, which runs run_maintenance(now()) and keeps the run history).
// A failed pass is logged and recorded in alert_grouping.worker_runs, and the next one waits
// longer (doubling, capped); a database without the extension (not created yet, or dropped)
// is simply skipped. Written in C style: the error handling is PostgreSQL's own
// (PG_TRY/longjmp), with no C++ object alive across it.
#include "metric_counters.hpp"
#include "worker.hpp"

extern "C" {
#include "commands/dbcommands.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/wait_event.h"
}

extern "C" {
PGDLLEXPORT void ag_database_worker_main(Datum arg);
}

namespace {

constexpr long kMaxBackoffMs = 5 * 60 * 1000;
// The advisory lock one database's worker holds for its whole life (two int4 keys).
constexpr int32 kLockClass = 0x61677772;  // "agwr"
constexpr int32 kLockObject = 1;

long backoff_ms(int failures) {
  long wait = ag::pg::worker_naptime_ms;
  for (int i = 0; i < failures && wait < kMaxBackoffMs; i++) wait *= 2;
  return wait < kMaxBackoffMs ? wait : kMaxBackoffMs;
}

// One worker per database, even across a restart of the launcher: the lock is the proof.
bool take_database_lock() {
  StartTransactionCommand();
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  char query[128];
  snprintf(query, sizeof(query), "SELECT pg_catalog.pg_try_advisory_lock(%d, %d)", kLockClass,
           kLockObject);
  bool taken = false;
  if (SPI_execute(query, true, 1) == SPI_OK_SELECT && SPI_processed == 1) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    taken = !isnull && DatumGetBool(d);
  }
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  return taken;
}

bool extension_ready() {
  int rc = SPI_execute(
      "SELECT pg_catalog.to_regprocedure("
      "'alert_grouping.worker_pass(pg_catalog.timestamptz, pg_catalog.int4)') IS NOT NULL "
      "AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension AS e WHERE e.extname = 'alert_grouping')",
      true, 1);
  if (rc != SPI_OK_SELECT || SPI_processed != 1) return false;
  bool isnull;
  Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  return !isnull && DatumGetBool(d);
}

// Records a failed pass; a failure to record it (the extension was dropped meanwhile) is
// only logged.
void record_failure(TimestampTz started, const char *sqlstate, const char *message, int failures,
                    long retry_ms) {
  MemoryContext caller = CurrentMemoryContext;
  StartTransactionCommand();
  PG_TRY();
  {
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    if (extension_ready()) {
      char retry[64];
      snprintf(retry, sizeof(retry), "%ld milliseconds", retry_ms);
      Oid types[5] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, INT4OID, TEXTOID};
      Datum values[5] = {TimestampTzGetDatum(started), CStringGetTextDatum(sqlstate),
                         CStringGetTextDatum(message), Int32GetDatum(failures),
                         CStringGetTextDatum(retry)};
      SPI_execute_with_args(
          "SELECT alert_grouping.record_worker_failure($1, $2, $3, $4, $5::pg_catalog.interval)", 5,
          types, values, nullptr, false, 0);
    }
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller);
    ErrorData *edata = CopyErrorData();
    FlushErrorState();
    AbortCurrentTransaction();
    ereport(LOG,
            (errmsg("alert_grouping worker could not record a failed pass: %s", edata->message)));
    FreeErrorData(edata);
  }
  PG_END_TRY();
}

// One pass; false when it failed (then *failures counts the failures in a row).
bool run_pass(int *failures) {
  TimestampTz started = GetCurrentTimestamp();
  MemoryContext caller = CurrentMemoryContext;
  volatile bool ok = true;
  ErrorData *edata = nullptr;

  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  PG_TRY();
  {
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "alert_grouping maintenance pass");
    if (extension_ready()) {
      Oid types[2] = {TIMESTAMPTZOID, INT4OID};
      Datum values[2] = {TimestampTzGetDatum(started), Int32GetDatum(ag::pg::worker_history_days)};
      SPI_execute_with_args("SELECT alert_grouping.worker_pass($1, $2)", 2, types, values, nullptr,
                            false, 0);
    }
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller);
    edata = CopyErrorData();
    FlushErrorState();
    AbortCurrentTransaction();
    ok = false;
  }
  PG_END_TRY();
  pgstat_report_activity(STATE_IDLE, nullptr);

  ag::pg::count_event(ag::pg::Counter::WorkerPasses);
  if (ok) {
    *failures = 0;
    return true;
  }
  ag::pg::count_event(ag::pg::Counter::WorkerFailures);
  *failures += 1;
  long retry = backoff_ms(*failures);
  const char *sqlstate = unpack_sql_state(edata->sqlerrcode);
  ereport(LOG, (errmsg("alert_grouping worker: maintenance pass failed: %s", edata->message),
                errdetail("SQLSTATE %s; failure %d in a row, next attempt in %ld ms.", sqlstate,
                          *failures, retry)));
  record_failure(started, sqlstate, edata->message, *failures, retry);
  FreeErrorData(edata);
  return false;
}

}  // namespace

void ag_database_worker_main(Datum arg) {
  Oid database = DatumGetObjectId(arg);
  pid_t launcher = MyBgworkerEntry->bgw_notify_pid;
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
  pgstat_report_appname("alert_grouping worker");

  if (!take_database_lock()) {
    ereport(LOG, (errmsg("alert_grouping worker: another worker serves this database")));
    proc_exit(0);
  }
  StartTransactionCommand();
  char *name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
  CommitTransactionCommand();
  ereport(LOG, (errmsg("alert_grouping worker started for database \"%s\"", name)));

  int failures = 0;
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    // Taken off the list, or started by a launcher that has been replaced since.
    if (ag::pg::current_launcher_pid() != launcher || !ag::pg::database_is_listed(name))
      proc_exit(0);
    long wait = ag::pg::worker_naptime_ms;
    if (ag::pg::worker_enabled && !run_pass(&failures)) wait = backoff_ms(failures);
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}
