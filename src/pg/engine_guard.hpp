// How the insert triggers run the engine: deciding in a subtransaction that only reads and
// takes advisory locks (so it needs no transaction id of its own), as the alerts table's
// owner with a pinned search_path. If deciding fails, the alerts stay stored, ungrouped, and
// the failure is recorded in engine_errors; cancellations, timeouts and retryable conflicts
// abort the statement. The decided writes then run in the statement itself.
#pragma once

#include <functional>
#include <memory>

#include "engine_writes.hpp"

namespace ag::pg {

// Runs decide(plan) in the subtransaction. Returns the plan (nullptr when deciding failed
// and was recorded through record, which runs in a subtransaction of its own as owner and
// may issue SPI statements). Raises the errors that must reach the client. Call from a
// PostgreSQL frame (it uses PG_TRY), with no live C++ object that the error could skip.
EnginePlan *decide_guarded(Oid owner, void (*decide)(void *context, std::unique_ptr<EnginePlan> &),
                           void *context, void (*record)(void *context, ErrorData *edata));

// Runs write() connected to SPI as owner with the pinned search_path, in the statement;
// deletes plan first; raises any error.
void write_guarded(Oid owner, EnginePlan *plan, void (*write)(void *context, EnginePlan &),
                   void *context);

// Records a failure for the given alerts (one engine_errors row per project); SPI connected.
void insert_engine_error(const std::vector<Uuid> &projects, const std::vector<Uuid> &ids,
                         const ErrorData *edata);

}  // namespace ag::pg
