#include "metric_counters.hpp"

#include "entry.hpp"

extern "C" {
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
}

namespace ag::pg {

namespace {

constexpr int kCounters = int(Counter::Count);
const char *const kNames[kCounters] = {"alerts_ingested",  "alerts_deduplicated", "alerts_grouped",
                                       "episodes_created", "engine_errors",       "worker_passes",
                                       "worker_failures"};

struct Counters {
  pg_atomic_uint64 values[kCounters];
};

Counters *shared = nullptr;  // server-wide when preloaded
Counters local;              // this backend otherwise
bool local_ready = false;
shmem_request_hook_type previous_request = nullptr;
shmem_startup_hook_type previous_startup = nullptr;

void init(Counters *c) {
  for (auto &v : c->values) pg_atomic_init_u64(&v, 0);
}

void on_shmem_request() {
  if (previous_request) previous_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(Counters)));
}

void on_shmem_startup() {
  if (previous_startup) previous_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  auto *c = static_cast<Counters *>(
      ShmemInitStruct("alert_grouping metric counters", sizeof(Counters), &found));
  if (!found) init(c);
  shared = c;
  LWLockRelease(AddinShmemInitLock);
}

Counters *counters() {
  if (shared) return shared;
  if (!local_ready) {
    init(&local);
    local_ready = true;
  }
  return &local;
}

}  // namespace

void count_event(Counter counter, int64 n) {
  if (n > 0) pg_atomic_fetch_add_u64(&counters()->values[int(counter)], uint64(n));
}

void register_metric_counters() {
  if (!process_shared_preload_libraries_in_progress) return;
  previous_request = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  previous_startup = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
}

}  // namespace ag::pg

using namespace ag::pg;

// metric_counters(OUT names text[], OUT counts bigint[], OUT server_wide boolean)
AG_FUNCTION(ag_metric_counters) {
  Counters *c = counters();
  Datum names[kCounters], values[kCounters];
  for (int i = 0; i < kCounters; i++) {
    names[i] = pg_call([&] { return CStringGetTextDatum(kNames[i]); });
    values[i] = Int64GetDatum(int64(pg_atomic_read_u64(&c->values[i])));
  }
  TupleDesc desc;
  if (pg_call([&] { return get_call_result_type(fcinfo, nullptr, &desc); }) != TYPEFUNC_COMPOSITE)
    throw PgError(ERRCODE_INTERNAL_ERROR, "metric_counters must return a record", "", "");
  Datum out[3];
  out[0] = pg_call([&] {
    return PointerGetDatum(construct_array(names, kCounters, TEXTOID, -1, false, TYPALIGN_INT));
  });
  out[1] = pg_call([&] {
    return PointerGetDatum(
        construct_array(values, kCounters, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
  out[2] = BoolGetDatum(shared != nullptr);
  bool nulls[3] = {false, false, false};
  return pg_call(
      [&] { return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), out, nulls)); });
}
