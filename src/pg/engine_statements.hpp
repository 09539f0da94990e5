// The SQL statements of the grouping engine. Each takes parallel arrays (one element per
// row to read or write, project_id first), so a whole INSERT statement, whatever projects it
// touches, costs one execution of each.
#pragma once

#include "spi_query.hpp"

namespace ag::pg::statements {

extern SpiQuery active_holders;      // (project, fingerprint) -> active alerts
extern SpiQuery active_holders_one;  // the same for one fingerprint
extern SpiQuery episode_groups;      // (project, episode) -> rule, group key
extern SpiQuery still_active;        // (project, alert) -> the ones still active
extern SpiQuery set_alert_silenced;  // (project, alert, silence): the silence holds it (0.8)
extern SpiQuery absorb_duplicates;   // bump duplicate_count / severity of holders
extern SpiQuery absorb_duplicate_one;
extern SpiQuery delete_alerts;      // remove absorbed rows
extern SpiQuery open_episodes;      // (project, rule, key, since) -> open episodes
extern SpiQuery resolved_episodes;  // (project, rule, key, since) -> recently resolved
extern SpiQuery open_episodes_one;  // the same two for one key
extern SpiQuery resolved_episodes_one;
extern SpiQuery take_episode_numbers;
extern SpiQuery insert_episodes;
extern SpiQuery insert_episodes_timed;  // 0.5 on: with inactivity checks
struct EpisodeUpdates {
  SpiQuery many, one;
  SpiQuery known;  // one, severity before known
};
extern EpisodeUpdates episode_updates_untimed;  // before 0.5
extern EpisodeUpdates episode_updates_timed;
extern SpiQuery consider_incidents;
extern SpiQuery insert_events;
extern SpiQuery set_alert_episode;
extern SpiQuery clear_alert_episode;  // a guessed membership that did not hold
// Before 0.3 (library updated, ALTER EXTENSION UPDATE not run yet): the members table.
extern SpiQuery set_alert_episode_only;
extern SpiQuery insert_members;
extern SpiQuery insert_owner_users;
extern SpiQuery insert_owner_teams;
extern SpiQuery insert_episode_labels;

}  // namespace ag::pg::statements
