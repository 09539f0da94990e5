// Column numbers of alert_grouping.alerts that the triggers and the index reads use, looked up once
// per table definition rather than for every row (a relcache invalidation of the table, as
// ALTER TABLE sends, looks them up again).
#pragma once

#include "engine.hpp"

namespace ag::pg {

struct AlertColumns {
  int fingerprint, dedup_key, monitor, title, labels, id, project, episode, added_by, added_at,
      rule, score, created_at, state,
      silenced_by;                // 0.8; SPI_ERROR_NOATTRIBUTE (negative) before
  int reader[kAlertColumnCount];  // kAlertColumns, for AlertRowReader
};

// The columns of rel (the alerts table); valid until the next call.
const AlertColumns &alert_columns(Relation rel);

// From _PG_init.
void register_alert_columns_cache();

}  // namespace ag::pg
