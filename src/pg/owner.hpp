// Acting as the owner of the extension's tables: the engine reads rules and writes episodes
// that the calling role may not touch directly, for the rows that role was allowed to write.
#pragma once

#include "guard.hpp"

namespace ag::pg {

// The owner of alert_grouping.alerts (the extension's tables share one owner).
Oid alerts_owner();

// Whether alerts carry their membership (version 0.3 on). Between installing a new library
// and ALTER EXTENSION UPDATE, the older schema's episode_members table is written instead.
bool membership_on_alert_rows();

// Whether episodes carry their timers and incidents exist (version 0.5 on).
bool episode_timers_in_schema();

// Runs as the given owner of the extension's tables, with a pinned search_path, until destroyed.
class ActAsOwner {
 public:
  explicit ActAsOwner(Oid owner) {
    GetUserIdAndSecContext(&save_user_, &save_sec_);
    SetUserIdAndSecContext(owner, save_sec_ | SECURITY_LOCAL_USERID_CHANGE);
    guc_level_ = NewGUCNestLevel();
    pg_call([] {
      set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                        GUC_ACTION_SAVE, true, 0, false);
    });
  }
  ~ActAsOwner() {
    AtEOXact_GUC(true, guc_level_);
    SetUserIdAndSecContext(save_user_, save_sec_);
  }

 private:
  Oid save_user_;
  int save_sec_;
  int guc_level_;
};

}  // namespace ag::pg
