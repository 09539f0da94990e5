// On a Citus coordinator, an API function called inside a larger query (so that Citus did
// not delegate it to its project's node) forwards itself there: the call, as the caller, in
// a query that Citus routes to the project's shards. Its implementation then runs on the node
// that stores the project, where its locks order it against the engine (advisory locks are
// per node) and its statements are local.
#pragma once

#include "pg_headers.hpp"
#include "values.hpp"

namespace ag::pg {

// Decides where a call runs, for the life of the object. forwarded(): result() (and the
// set-returning function's tuplestore) holds the answer of the project's node. Otherwise
// the call runs here; on the project's node, Citus's check against nested distributed
// queries is lifted until the object goes (the implementation's queries all name the
// project's co-located shards). Needs no SPI connection of the caller's.
class ProjectNodeCall {
 public:
  ProjectNodeCall(FunctionCallInfo fcinfo, const Uuid &project);
  ~ProjectNodeCall();
  ProjectNodeCall(const ProjectNodeCall &) = delete;
  ProjectNodeCall &operator=(const ProjectNodeCall &) = delete;
  bool forwarded() const { return forwarded_; }
  Datum result() const { return result_; }

 private:
  bool forwarded_ = false;
  Datum result_ = (Datum)0;
  int guc_level_ = -1;
};

}  // namespace ag::pg
