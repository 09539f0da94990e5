// The background worker: a launcher (connected to no database) starts one worker per database
// named in alert_grouping.database_name; each worker runs a maintenance pass every naptime.
#pragma once

#include "pg_headers.hpp"

namespace ag::pg {
// The worker's settings, defined whether or not the library is preloaded.
void define_worker_settings();
// Registers the launcher; only while shared_preload_libraries is being processed.
void register_worker();

// Shared between the launcher and the workers (worker_launcher.cpp).
extern char *worker_database_names;
extern int worker_naptime_ms;
extern bool worker_enabled;
extern int worker_history_days;

// The pid of the launcher now serving, in shared memory: a worker started by an earlier
// launcher (killed and restarted since) steps down.
pid_t current_launcher_pid();
// Whether a database name is in alert_grouping.database_name.
bool database_is_listed(const char *name);
}  // namespace ag::pg
