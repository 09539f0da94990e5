#include "spi_query.hpp"

#include "guard.hpp"
#include "shard_scope.hpp"
#include "table_names.hpp"

namespace ag::pg {

SPIPlanPtr SpiQuery::prepare(const std::string &sql) {
  return pg_call([&] {
    SPIPlanPtr plan =
        SPI_prepare_cursor(sql.c_str(), static_cast<int>(argtypes_.size()),
                           const_cast<Oid *>(argtypes_.data()), CURSOR_OPT_GENERIC_PLAN);
    if (plan == nullptr)
      elog(ERROR, "SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result),
           sql.c_str());
    SPI_keepplan(plan);
    return plan;
  });
}

template <typename Execute>
uint64 SpiQuery::execute(Execute &&execute_plan) {
  try {
    SPIPlanPtr plan = plan_;
    const ShardGroup *group = current_shard_group();
    if (group == nullptr && local_references_) group = local_reference_tables();
    if (group != nullptr) {
      auto found = shard_plans_.find(group->key);
      if (found == shard_plans_.end())
        found =
            shard_plans_
                .emplace(group->key, prepare(rename_tables(sql_, "alert_grouping", group->tables)))
                .first;
      plan = found->second;
    } else if (plan == nullptr) {
      plan = plan_ = prepare(sql_);
    }
    return pg_call([&]() -> uint64 {
      int rc = execute_plan(plan);
      if (rc < 0)
        elog(ERROR, "SPI_execute_plan failed (%s) for: %s", SPI_result_code_string(rc),
             sql_.c_str());
      return SPI_processed;
    });
  } catch (const PgError &e) {
    // Name the statement: engine errors are recorded and reported far from their cause.
    throw PgError(e.sqlerrcode(), e.what(),
                  e.detail().empty() ? "while running: " + sql_ : e.detail(), e.hint());
  }
}

uint64 SpiQuery::run(const std::vector<Datum> &args, const std::string &nulls) {
  return execute([&](SPIPlanPtr plan) {
    return SPI_execute_plan(plan, const_cast<Datum *>(args.data()),
                            nulls.empty() ? nullptr : nulls.c_str(), false, 0);
  });
}

uint64 SpiQuery::run_with_snapshot(const std::vector<Datum> &args, Snapshot snapshot) {
  return execute([&](SPIPlanPtr plan) {
    return SPI_execute_snapshot(plan, const_cast<Datum *>(args.data()), nullptr, snapshot,
                                InvalidSnapshot, true, false, 0);
  });
}

Datum spi_value(uint64 row, int column, bool *isnull) {
  return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, isnull);
}

bool spi_is_null(uint64 row, int column) {
  bool isnull;
  SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, &isnull);
  return isnull;
}

}  // namespace ag::pg

namespace ag::pg {

SpiConnection::SpiConnection() {
  if (pg_call([] { return SPI_connect(); }) != SPI_OK_CONNECT)
    throw PgError(ERRCODE_INTERNAL_ERROR, "SPI_connect failed", "", "");
}

void SpiConnection::finish() {
  pg_call([] { SPI_finish(); });
}

}  // namespace ag::pg
