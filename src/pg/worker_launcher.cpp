// The launcher: keeps one worker running for each existing database listed in
// alert_grouping.database_name, starting it again when it stops (terminated, crashed, or
// failed to start), and stopping the workers of databases taken off the list. It connects to
// no database, so a listed database that does not exist (yet) costs a warning, not a crash
// loop, and it never stands in the way of DROP DATABASE.
#include "worker.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"
}

extern "C" {
PGDLLEXPORT void ag_launcher_main(Datum arg);
}

namespace ag::pg {

char *worker_database_names = nullptr;
int worker_naptime_ms = 1000;
bool worker_enabled = true;
int worker_history_days = 90;

namespace {

struct LauncherShared {
  pid_t launcher_pid;
};
LauncherShared *shared = nullptr;
shmem_request_hook_type previous_request = nullptr;
shmem_startup_hook_type previous_startup = nullptr;

void on_shmem_request() {
  if (previous_request) previous_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(LauncherShared)));
}

void on_shmem_startup() {
  if (previous_startup) previous_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  shared = static_cast<LauncherShared *>(
      ShmemInitStruct("alert_grouping launcher", sizeof(LauncherShared), &found));
  if (!found) shared->launcher_pid = 0;
  LWLockRelease(AddinShmemInitLock);
}

constexpr int kMaxDatabases = 64;
constexpr long kLauncherNapMs = 1000;
constexpr long kRestartDelayMs = 1000;  // between two starts of one database's worker

struct Slot {
  char name[NAMEDATALEN];
  Oid oid;
  BackgroundWorkerHandle *handle;  // in TopMemoryContext
  TimestampTz last_start;
  bool wanted;
};
Slot slots[kMaxDatabases];
int slot_count = 0;

// Names warned about, so that a missing database is reported once, not every second.
char warned[kMaxDatabases][NAMEDATALEN];
int warned_count = 0;

bool warn_once(const char *name) {
  for (int i = 0; i < warned_count; i++)
    if (strcmp(warned[i], name) == 0) return false;
  if (warned_count < kMaxDatabases) strlcpy(warned[warned_count++], name, NAMEDATALEN);
  return true;
}

void forget_warning(const char *name) {
  for (int i = 0; i < warned_count; i++)
    if (strcmp(warned[i], name) == 0) {
      strlcpy(warned[i], warned[--warned_count], NAMEDATALEN);
      return;
    }
}

// The listed names, split as GUC lists are (quotes allowed, no case folding).
List *listed_names() {
  char *copy = pstrdup(worker_database_names ? worker_database_names : "");
  List *names = NIL;
  if (!SplitGUCList(copy, ',', &names)) {
    if (warn_once("\x01syntax"))
      ereport(WARNING, (errmsg("alert_grouping.database_name is not a list of database names: "
                               "\"%s\"",
                               worker_database_names)));
    return NIL;
  }
  return names;
}

// Without a database, only a plain scan of pg_database is possible (no index, no syscache:
// their relcache entries would need pg_class).
Oid connectable_database(const char *name) {
  Oid oid = InvalidOid;
  Relation rel = table_open(DatabaseRelationId, AccessShareLock);
  TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
  HeapTuple tuple;
  while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
    auto *db = (Form_pg_database)GETSTRUCT(tuple);
    if (strcmp(NameStr(db->datname), name) == 0) {
      if (db->datallowconn) oid = db->oid;
      break;
    }
  }
  table_endscan(scan);
  table_close(rel, AccessShareLock);
  return oid;
}

void start_worker(Slot *slot) {
  BackgroundWorker worker;
  memset(&worker, 0, sizeof(worker));
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = BGW_NEVER_RESTART;  // the launcher starts it again
  strlcpy(worker.bgw_library_name, "alert_grouping", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "ag_database_worker_main", BGW_MAXLEN);
  snprintf(worker.bgw_name, BGW_MAXLEN, "alert_grouping worker for database %s", slot->name);
  strlcpy(worker.bgw_type, "alert_grouping worker", BGW_MAXLEN);
  worker.bgw_main_arg = ObjectIdGetDatum(slot->oid);
  worker.bgw_notify_pid = MyProcPid;
  slot->last_start = GetCurrentTimestamp();
  MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
  bool registered = RegisterDynamicBackgroundWorker(&worker, &slot->handle);
  MemoryContextSwitchTo(old);
  if (!registered) {
    slot->handle = nullptr;
    ereport(WARNING,
            (errmsg("alert_grouping could not start a worker for database \"%s\"", slot->name),
             errhint("Raise max_worker_processes.")));
  }
}

bool worker_running(Slot *slot) {
  if (!slot->handle) return false;
  pid_t pid;
  if (GetBackgroundWorkerPid(slot->handle, &pid) == BGWH_STOPPED) {
    pfree(slot->handle);
    slot->handle = nullptr;
    return false;
  }
  return true;
}

void stop_worker(Slot *slot) {
  if (worker_running(slot)) TerminateBackgroundWorker(slot->handle);
  if (slot->handle) pfree(slot->handle);
  slot->handle = nullptr;
}

// Brings the workers in line with the list and the databases that exist now.
void sync_workers() {
  for (int i = 0; i < slot_count; i++) slots[i].wanted = false;
  List *names = listed_names();
  StartTransactionCommand();
  ListCell *cell;
  foreach (cell, names) {
    const char *name = static_cast<const char *>(lfirst(cell));
    if (*name == '\0') continue;
    Oid oid = connectable_database(name);
    if (!OidIsValid(oid)) {
      if (warn_once(name))
        ereport(WARNING,
                (errmsg("alert_grouping.database_name lists database \"%s\", which does not "
                        "exist or does not allow connections",
                        name),
                 errdetail("Its worker starts once it can connect.")));
      continue;
    }
    forget_warning(name);
    Slot *slot = nullptr;
    for (int i = 0; i < slot_count && !slot; i++)
      if (slots[i].oid == oid) slot = &slots[i];
    if (!slot) {
      if (slot_count == kMaxDatabases) {
        if (warn_once("\x01many"))
          ereport(WARNING, (errmsg("alert_grouping serves at most %d databases", kMaxDatabases)));
        continue;
      }
      slot = &slots[slot_count++];
      memset(slot, 0, sizeof(*slot));
      slot->oid = oid;
    }
    strlcpy(slot->name, name, NAMEDATALEN);
    slot->wanted = true;
  }
  CommitTransactionCommand();

  TimestampTz now = GetCurrentTimestamp();
  for (int i = 0; i < slot_count;) {
    Slot *slot = &slots[i];
    if (!slot->wanted) {
      stop_worker(slot);
      slots[i] = slots[--slot_count];
      continue;
    }
    if (!worker_running(slot) && TimestampDifferenceExceeds(slot->last_start, now, kRestartDelayMs))
      start_worker(slot);
    i++;
  }
}

}  // namespace

pid_t current_launcher_pid() { return shared ? shared->launcher_pid : 0; }

bool database_is_listed(const char *name) {
  List *names = listed_names();
  ListCell *cell;
  foreach (cell, names)
    if (strcmp(static_cast<const char *>(lfirst(cell)), name) == 0) return true;
  return false;
}

void define_worker_settings() {
  DefineCustomStringVariable(
      "alert_grouping.database_name",
      "The databases the background worker maintains (a comma-separated list).",
      "Each listed database that exists gets a worker running run_maintenance(now()) every "
      "naptime, once the extension is created there. On Citus, list the database on the "
      "coordinator only.",
      &worker_database_names, "postgres", PGC_SIGHUP, GUC_LIST_INPUT, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("alert_grouping.naptime",
                          "The pause between two maintenance passes of the background worker.",
                          "After a failed pass the pause doubles with each failure in a row, up "
                          "to five minutes.",
                          &worker_naptime_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
                          nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("alert_grouping.worker_enabled",
                           "Runs the background worker's maintenance passes.",
                           "Off pauses the passes without restarting the server.", &worker_enabled,
                           true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("alert_grouping.run_history_days",
                          "How many days alert_grouping.worker_runs keeps the worker's passes.",
                          nullptr, &worker_history_days, 90, 1, 3650, PGC_SIGHUP, 0, nullptr,
                          nullptr, nullptr);
}

void register_worker() {
  previous_request = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  previous_startup = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;

  BackgroundWorker worker;
  memset(&worker, 0, sizeof(worker));
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = 5;  // seconds; it exits with 1 when terminated, so it comes back
  strlcpy(worker.bgw_library_name, "alert_grouping", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "ag_launcher_main", BGW_MAXLEN);
  strlcpy(worker.bgw_name, "alert_grouping launcher", BGW_MAXLEN);
  strlcpy(worker.bgw_type, "alert_grouping launcher", BGW_MAXLEN);
  RegisterBackgroundWorker(&worker);
}

}  // namespace ag::pg

// The stock handlers (pg_cron's lesson): die for SIGTERM, so that shutdown never waits on us.
void ag_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  ag::pg::shared->launcher_pid = MyProcPid;

  MemoryContext loop_context =
      AllocSetContextCreate(TopMemoryContext, "alert_grouping launcher", ALLOCSET_DEFAULT_SIZES);
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    MemoryContext old = MemoryContextSwitchTo(loop_context);
    ag::pg::sync_workers();
    MemoryContextSwitchTo(old);
    MemoryContextReset(loop_context);
    // A worker's start or stop sets the latch (bgw_notify_pid).
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                    ag::pg::kLauncherNapMs, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}
