#include "guard.hpp"

namespace ag::pg {

void throw_current_pg_error(MemoryContext context) {
  MemoryContextSwitchTo(context);
  ErrorData *edata = CopyErrorData();
  FlushErrorState();
  PgError error(edata->sqlerrcode, edata->message ? edata->message : "unknown error",
                edata->detail ? edata->detail : "", edata->hint ? edata->hint : "");
  FreeErrorData(edata);
  throw error;
}

void raise_pending(const PendingError &error) {
  if (!error.pending()) return;
  ereport(ERROR, (errcode(error.sqlerrcode), errmsg_internal("%s", error.message),
                  error.detail ? errdetail_internal("%s", error.detail) : 0,
                  error.hint ? errhint("%s", error.hint) : 0));
}

}  // namespace ag::pg
