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

char *copy_for_error(const char *text, const char *fallback) {
  size_t len = strlen(text);
  auto *copy = static_cast<char *>(
      MemoryContextAllocExtended(CurrentMemoryContext, len + 1, MCXT_ALLOC_NO_OOM));
  if (copy == nullptr) return const_cast<char *>(fallback);
  memcpy(copy, text, len + 1);
  return copy;
}

void raise_pending(const PendingError &error) {
  if (!error.pending()) return;
  ereport(ERROR, (errcode(error.sqlerrcode), errmsg_internal("%s", error.message),
                  error.detail ? errdetail_internal("%s", error.detail) : 0,
                  error.hint ? errhint("%s", error.hint) : 0));
}

}  // namespace ag::pg
