// On a Citus coordinator, an API function called inside a larger query (so that Citus did
// not delegate it to its project's node) forwards itself there: the call, as the caller, in
// a query that Citus routes to the project's shards. Its implementation then runs on the node
// that stores the project, where its locks order it against the engine (advisory locks are
// per node) and its statements are local.
#pragma once

#include "pg_headers.hpp"
#include "values.hpp"

namespace ag::pg {

enum class CallSite { Here, Forwarded };

// Decides where a call runs. Forwarded: *result (and the set-returning function's
// tuplestore) holds the answer of the project's node. Here: on the project's node, Citus's
// check against nested distributed queries is lifted until done_here() (the
// implementation's queries all name the project's co-located shards). Needs no SPI
// connection of the caller's.
CallSite forward_to_project_node(FunctionCallInfo fcinfo, const Uuid &project, Datum *result,
                                 int *guc_level);
void done_here(int guc_level);

}  // namespace ag::pg
