// A parameterised SQL statement prepared once per backend and kept (SPI_keepplan), always
// with its generic plan (CURSOR_OPT_GENERIC_PLAN). The engine's statements take arrays and
// look rows up by key, so a plan that ignores the parameter values is as good as a custom
// one; left to choose, the plan cache re-planned every execution once the tables were big
// and analysed (more planning than execution per alert). An ANALYZE invalidates the kept
// plan, so the generic plan still follows the tables' growth.
// Inside a shard scope (shard_scope.hpp) the statement names the scope's shards instead of
// the tables, with a plan of its own per shard group.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <unordered_map>
#include <vector>

#include "pg_headers.hpp"

namespace ag::pg {

class SpiQuery {
 public:
  SpiQuery(const char *sql, std::initializer_list<Oid> argtypes) : sql_(sql), argtypes_(argtypes) {}
  // Outside a shard scope, read the local placements of reference tables (shard_scope.hpp).
  enum class References { AsNamed, LocalPlacements };
  SpiQuery(const char *sql, std::initializer_list<Oid> argtypes, References references)
      : sql_(sql),
        argtypes_(argtypes),
        local_references_(references == References::LocalPlacements) {}

  // Runs with the given arguments (nulls: 'n' for NULL, ' ' otherwise, or empty for none);
  // results are in SPI_tuptable. Returns the number of rows processed.
  uint64 run(const std::vector<Datum> &args, const std::string &nulls = "");
  // Runs a read-only statement under the given snapshot instead of the current one.
  uint64 run_with_snapshot(const std::vector<Datum> &args, Snapshot snapshot);

 private:
  template <typename Execute>
  uint64 execute(Execute &&execute_plan);
  SPIPlanPtr prepare(const std::string &sql);
  std::string sql_;
  std::vector<Oid> argtypes_;
  bool local_references_ = false;
  SPIPlanPtr plan_ = nullptr;
  std::unordered_map<int64_t, SPIPlanPtr> shard_plans_;
};

// Accessors for SPI_tuptable rows (column numbers from 1).
Datum spi_value(uint64 row, int column, bool *isnull);

// Connects to SPI; finish() disconnects. On an error the transaction abort that follows
// releases the connection, so there is nothing for a destructor to do.
class SpiConnection {
 public:
  SpiConnection();
  void finish();
};
bool spi_is_null(uint64 row, int column);

}  // namespace ag::pg
