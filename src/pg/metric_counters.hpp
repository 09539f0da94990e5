// Event counters for prometheus_metrics(): in shared memory when the library is preloaded
// (atomic, server-wide since the server started), else the calling backend's own.
#pragma once

#include "pg_headers.hpp"

namespace ag::pg {

enum class Counter {
  AlertsIngested,
  AlertsDeduplicated,
  AlertsGrouped,
  EpisodesCreated,
  EngineErrors,
  WorkerPasses,
  WorkerFailures,
  Count  // the number of counters
};

// Counted when it happens, in transactions that roll back too.
void count_event(Counter counter, int64 n = 1);
void register_metric_counters();  // from _PG_init

}  // namespace ag::pg
