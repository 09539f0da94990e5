// Module entry: GUCs and the rule-cache invalidation hook.
#include "module.hpp"

#include "alert_columns.hpp"
#include "engine_latency.hpp"
#include "episode_prediction.hpp"
#include "guard.hpp"
#include "interrupts.hpp"
#include "metric_counters.hpp"
#include "project_config.hpp"
#include "shard_scope.hpp"
#include "statement_tracker.hpp"
#include "worker.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

namespace ag::pg {
bool grouping_enabled_guc = true;
bool restoring_guc = false;
}  // namespace ag::pg

namespace {
char *user_id_guc = nullptr;
char *incident_reason_guc = nullptr;  // read through current_setting() by the incident triggers

// Read by alert_grouping.cleanup() through current_setting(), with the same defaults when the
// library is not loaded.
int check_results_retention_days = 30;
int hourly_rollups_retention_days = 90;
int daily_rollups_retention_days = 365;
int notifications_retention_days = 90;

void define_retention_settings() {
  struct Setting {
    const char *name;
    const char *what;
    int *value;
    int default_days;
  };
  static const Setting settings[] = {
      {"alert_grouping.check_results_retention_days", "Days cleanup() keeps raw check results.",
       &check_results_retention_days, 30},
      {"alert_grouping.hourly_rollups_retention_days",
       "Days cleanup() keeps hourly uptime rollups.", &hourly_rollups_retention_days, 90},
      {"alert_grouping.daily_rollups_retention_days", "Days cleanup() keeps daily uptime rollups.",
       &daily_rollups_retention_days, 365},
      {"alert_grouping.notifications_retention_days", "Days cleanup() keeps notifications.",
       &notifications_retention_days, 90},
  };
  for (const auto &s : settings)
    DefineCustomIntVariable(s.name, s.what, nullptr, s.value, s.default_days, 1, 36500, PGC_SUSET,
                            0, nullptr, nullptr, nullptr);
}

// The core's long loops call this: a pending cancel or timeout becomes a C++ exception that
// unwinds the core and is raised again as the PostgreSQL error it was.
void check_for_interrupts() {
  ag::pg::pg_call([] { CHECK_FOR_INTERRUPTS(); });
}
}  // namespace

void _PG_init(void) {
  DefineCustomBoolVariable(
      "alert_grouping.enabled", "Runs the grouping pipeline when alerts are inserted.",
      "Off is the server-wide kill switch: alerts are still stored, with their fingerprint, "
      "but neither deduplicated nor grouped.",
      &ag::pg::grouping_enabled_guc, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable(
      "alert_grouping.restoring", "Set while restoring a dump: inserted alerts are not grouped.",
      "A dump already holds the episodes and memberships of its alerts; run pg_restore with "
      "PGOPTIONS='-c alert_grouping.restoring=on'.",
      &ag::pg::restoring_guc, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "alert_grouping.user_id", "The user an application acts for (SET LOCAL per transaction).",
      "Honoured only for roles granted act_for_users by grant_access and not mapped to a member.",
      &user_id_guc, "", PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "alert_grouping.incident_reason",
      "The reason the next incident change records in its timeline (transaction-local).",
      "Set by the extension before it changes an incident; a client may SET LOCAL it before "
      "its own UPDATE of an incident. Cleared once used.",
      &incident_reason_guc, "", PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE, nullptr,
      nullptr, nullptr);
  ag::pg::define_worker_settings();
  define_retention_settings();
  MarkGUCPrefixReserved("alert_grouping");
  ag::set_interrupt_check(check_for_interrupts);
  ag::pg::register_config_invalidation();
  ag::pg::register_statement_tracker();
  ag::pg::register_episode_prediction();
  ag::pg::register_engine_latency();
  ag::pg::register_metric_counters();
  ag::pg::register_alert_columns_cache();
  ag::pg::register_shard_scope();
  // The background worker, only when preloaded; never during pg_upgrade.
  if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade) ag::pg::register_worker();
}
