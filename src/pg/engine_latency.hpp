// The engine's own time per statement: from the start of deciding to the end of writing,
// in a log-scale histogram (4 buckets per doubling, 1 us to about 35 minutes). In shared
// memory, server-wide, when alert_grouping is in shared_preload_libraries; otherwise per
// backend. Read by alert_grouping.engine_latency().
#pragma once

#include "pg_headers.hpp"

namespace ag::pg {

// From _PG_init: asks for shared memory when preloading.
void register_engine_latency();

// One engine run over a statement's rows took elapsed_us.
void record_engine_latency(int64 elapsed_us, int64 rows);

// Microseconds on a monotonic clock.
int64 monotonic_us();

}  // namespace ag::pg
