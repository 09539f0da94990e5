// A parameterised SQL statement parsed once per backend and kept (SPI_keepplan). It is
// planned at every execution (a custom plan), with the tables' current sizes: a plan made
// while the tables were small would look episodes and alerts up through the wrong index
// forever after. That costs one planning per statement, not per row.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "pg_headers.hpp"

namespace ag::pg {

class SpiQuery {
 public:
  SpiQuery(const char *sql, std::initializer_list<Oid> argtypes) : sql_(sql), argtypes_(argtypes) {}

  // Runs with the given arguments (nulls: 'n' for NULL, ' ' otherwise, or empty for none);
  // results are in SPI_tuptable. Returns the number of rows processed.
  uint64 run(const std::vector<Datum> &args, const std::string &nulls = "");

 private:
  std::string sql_;
  std::vector<Oid> argtypes_;
  SPIPlanPtr plan_ = nullptr;
};

// Accessors for SPI_tuptable rows (column numbers from 1).
Datum spi_value(uint64 row, int column, bool *isnull);
bool spi_is_null(uint64 row, int column);

}  // namespace ag::pg
