#include "citus_forward.hpp"

#include <string>

#include "guard.hpp"
#include "shard_scope.hpp"
#include "spi_query.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace ag::pg {

namespace {

// One row whatever the project holds, read from the project's alerts shard: Citus sends the
// whole query, the call included, to the node that stores it.
const char *kAnchor =
    " FROM (SELECT pg_catalog.count(*) FROM (SELECT FROM alert_grouping.alerts AS a "
    "        WHERE a.project_id OPERATOR(pg_catalog.=) $1 LIMIT 0) AS z) AS one";

std::string forward_query(FunctionCallInfo fcinfo, std::vector<Oid> *types) {
  return pg_call([&] {
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
    if (!HeapTupleIsValid(tuple))
      elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
    auto *proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
    std::string call =
        std::string("alert_grouping.") + quote_identifier(NameStr(proc->proname)) + "(";
    for (int i = 0; i < proc->pronargs; i++) {
      types->push_back(proc->proargtypes.values[i]);
      call += (i ? ", $" : "$") + std::to_string(i + 1);
    }
    call += ")";
    ReleaseSysCache(tuple);
    // A set's rows are expanded outside the subquery that calls the function: (f()).*
    // would call it once per column.
    return fcinfo->flinfo->fn_retset
               ? "SELECT (x.r).* FROM (SELECT " + call + " AS r" + kAnchor + " OFFSET 0) AS x"
               : "SELECT " + call + kAnchor;
  });
}

}  // namespace

ProjectNodeCall::ProjectNodeCall(FunctionCallInfo fcinfo, const Uuid &project) {
  if (!citus_installed()) return;
  if (pg_call([] { return SPI_connect(); }) != SPI_OK_CONNECT)
    throw PgError(ERRCODE_INTERNAL_ERROR, "SPI_connect failed", "", "");
  struct Finish {
    ~Finish() { SPI_finish(); }
  } finish;
  ProjectPlacement placement;
  {
    ProjectShardScope shards(project.text());
    placement = shards.placement();
  }
  if (placement == ProjectPlacement::PlainTables) return;
  if (placement == ProjectPlacement::LocalShards) {
    guc_level_ = pg_call([] {
      int level = NewGUCNestLevel();
      set_config_option("citus.allow_nested_distributed_execution", "on", PGC_SUSET, PGC_S_SESSION,
                        GUC_ACTION_SAVE, true, 0, false);
      return level;
    });
    return;
  }
  std::vector<Oid> types;
  std::string sql = forward_query(fcinfo, &types);
  std::string nulls;
  for (int i = 0; i < fcinfo->nargs; i++) nulls += fcinfo->args[i].isnull ? 'n' : ' ';
  std::vector<Datum> values;
  for (int i = 0; i < fcinfo->nargs; i++) values.push_back(fcinfo->args[i].value);
  pg_call([&] {
    int rc = SPI_execute_with_args(sql.c_str(), int(types.size()), types.data(), values.data(),
                                   nulls.c_str(), false, 0);
    if (rc < 0) elog(ERROR, "forwarding to the project's node failed: %s", sql.c_str());
  });
  if (fcinfo->flinfo->fn_retset) {
    pg_call([&] {
      InitMaterializedSRF(fcinfo, 0);
      auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
      for (uint64 i = 0; i < SPI_processed; i++) {
        int natts = rsinfo->setDesc->natts;
        std::vector<Datum> row(natts);
        std::vector<bool> isnull(natts);
        for (int c = 0; c < natts; c++) {
          bool n;
          row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &n);
          isnull[c] = n;
        }
        std::unique_ptr<bool[]> flags(new bool[natts]);
        for (int c = 0; c < natts; c++) flags[c] = isnull[c];
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.data(), flags.get());
      }
    });
    forwarded_ = true;
    return;
  }
  if (SPI_processed != 1)
    throw PgError(ERRCODE_INTERNAL_ERROR, "forwarding to the project's node returned no row", "",
                  "");
  pg_call([&] {
    bool isnull;
    Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    fcinfo->isnull = isnull;
    if (isnull) return;
    int16 len;
    bool byval;
    get_typlenbyval(SPI_gettypeid(SPI_tuptable->tupdesc, 1), &len, &byval);
    result_ = SPI_datumTransfer(value, byval, len);
  });
  forwarded_ = true;
}

ProjectNodeCall::~ProjectNodeCall() {
  if (guc_level_ >= 0) AtEOXact_GUC(true, guc_level_);
}

}  // namespace ag::pg
