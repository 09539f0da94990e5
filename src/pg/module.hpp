#pragma once

#include "pg_headers.hpp"

namespace ag::pg {
extern bool grouping_enabled_guc;
extern bool restoring_guc;
}  // namespace ag::pg
