#include "engine_statements.hpp"

namespace ag::pg::statements {

// No ORDER BY: sorting would tempt the planner into walking (project_id, created_at) over
// every alert of the project; the oldest holder is picked in C++. Each key is looked up on
// its own (LATERAL ... OFFSET 0): a generic plan must not turn the join around when the
// statistics say few alerts are active.
// Absorbing a duplicate touches the holder's episode, so its group lock is taken with the
// statement's others: the episode's rule and key come with the one-fingerprint read, and
// from episode_groups for the older holders of a multi-row statement.
#define AG_HOLDER_EPISODE                                                                \
  "  LEFT JOIN alert_grouping.episodes AS e ON e.project_id OPERATOR(pg_catalog.=) k.p " \
  "   AND e.id OPERATOR(pg_catalog.=) a.episode_id"
SpiQuery active_holders(
    "SELECT k.p, a.id, k.f, a.created_at, a.episode_id "
    "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::text[])) AS k(p, f) "
    " CROSS JOIN LATERAL (SELECT a.id, a.created_at, a.episode_id "
    "                       FROM alert_grouping.alerts AS a "
    "                      WHERE a.project_id OPERATOR(pg_catalog.=) k.p "
    "                        AND a.fingerprint OPERATOR(pg_catalog.=) k.f "
    "                        AND a.state OPERATOR(pg_catalog.<>) 'resolved' OFFSET 0) AS a",
    {UUIDARRAYOID, TEXTARRAYOID});

// The group (rule and key) of the holders' episodes.
SpiQuery episode_groups(
    "SELECT e.id, e.rule_id, e.group_key "
    "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[])) AS k(p, id) "
    "  JOIN alert_grouping.episodes AS e ON e.project_id OPERATOR(pg_catalog.=) k.p "
    "   AND e.id OPERATOR(pg_catalog.=) k.id",
    {UUIDARRAYOID, UUIDARRAYOID});

// The same for one fingerprint (a single-row INSERT), without the array machinery.
SpiQuery active_holders_one(
    "SELECT k.p, a.id, k.f, a.created_at, a.episode_id, e.rule_id, e.group_key "
    "  FROM (SELECT $1::uuid AS p, $2::text AS f) AS k "
    "  JOIN alert_grouping.alerts AS a ON a.project_id OPERATOR(pg_catalog.=) k.p "
    "   AND a.fingerprint OPERATOR(pg_catalog.=) k.f AND a.state OPERATOR(pg_catalog.<>) "
    "'resolved'" AG_HOLDER_EPISODE,
    {UUIDOID, TEXTOID});

// Whether the given alerts are still active (the holders, once their locks are held).
SpiQuery still_active(
    "SELECT k.p, a.id FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), "
    "pg_catalog.unnest($2::uuid[])) "
    "       AS k(p, id) "
    "  JOIN alert_grouping.alerts AS a ON a.project_id OPERATOR(pg_catalog.=) k.p "
    "   AND a.id OPERATOR(pg_catalog.=) k.id AND a.state OPERATOR(pg_catalog.<>) 'resolved'",
    {UUIDARRAYOID, UUIDARRAYOID});

#define AG_ABSORB                                                           \
  "UPDATE alert_grouping.alerts AS a "                                      \
  "   SET duplicate_count = a.duplicate_count OPERATOR(pg_catalog.+) v.n, " \
  "       last_duplicate_at = GREATEST(a.last_duplicate_at, v.at), "        \
  "       severity = GREATEST(a.severity, v.sev::alert_grouping.severity) "
SpiQuery absorb_duplicates(
    AG_ABSORB
    "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[]), "
    "       pg_catalog.unnest($3::int4[]), pg_catalog.unnest($4::timestamptz[]), "
    "       pg_catalog.unnest($5::text[])) AS v(p, id, n, at, sev) "
    " WHERE a.project_id OPERATOR(pg_catalog.=) v.p AND a.id OPERATOR(pg_catalog.=) v.id",
    {UUIDARRAYOID, UUIDARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID});
SpiQuery absorb_duplicate_one(
    AG_ABSORB
    "  FROM (SELECT $1::uuid AS p, $2::uuid AS id, $3::int4 AS n, $4::timestamptz AS at, "
    "               $5::text AS sev) AS v "
    " WHERE a.project_id OPERATOR(pg_catalog.=) v.p AND a.id OPERATOR(pg_catalog.=) v.id",
    {UUIDOID, UUIDOID, INT4OID, TIMESTAMPTZOID, TEXTOID});

SpiQuery delete_alerts(
    "DELETE FROM alert_grouping.alerts AS a "
    " USING ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[])) AS v(p, id) "
    " WHERE a.project_id OPERATOR(pg_catalog.=) v.p AND a.id OPERATOR(pg_catalog.=) v.id",
    {UUIDARRAYOID, UUIDARRAYOID});

SpiQuery set_alert_silenced(
    "UPDATE alert_grouping.alerts AS a SET silenced_by = v.s, silence_released_at = NULL "
    "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[]), "
    "                  pg_catalog.unnest($3::uuid[])) AS v(p, id, s) "
    " WHERE a.project_id OPERATOR(pg_catalog.=) v.p AND a.id OPERATOR(pg_catalog.=) v.id",
    {UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID});

#define AG_EPISODE_COLUMNS                                                                      \
  "SELECT k.p, k.r, e.id, e.group_key, COALESCE(e.first_alert_title, e.title), e.started_at, "  \
  "       e.last_activity_at, e.resolved_at, e.severity::text, e.alert_count, e.reopen_count, " \
  "       e.monitor_ids, e.state OPERATOR(pg_catalog.=) 'resolved' "
#define AG_EPISODE_KEY                                                                \
  "e.project_id OPERATOR(pg_catalog.=) k.p AND e.rule_id OPERATOR(pg_catalog.=) k.r " \
  "AND pg_catalog.hashtextextended(e.group_key, 0) "                                  \
  "    OPERATOR(pg_catalog.=) pg_catalog.hashtextextended(k.g, 0) "                   \
  "AND e.group_key OPERATOR(pg_catalog.=) k.g "
#define AG_OPEN                                                             \
  " AND e.state OPERATOR(pg_catalog.<>) 'resolved' AND e.last_activity_at " \
  "OPERATOR(pg_catalog.>=) k.since "
#define AG_RESOLVED                                                                           \
  " AND e.state OPERATOR(pg_catalog.=) 'resolved' AND e.resolved_at OPERATOR(pg_catalog.>=) " \
  "k.since "
#define AG_KEYS                                                                      \
  "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[]), " \
  "       pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::timestamptz[])) "     \
  "       AS k(p, r, g, since) "
#define AG_ONE_KEY \
  "  FROM (SELECT $1::uuid AS p, $2::uuid AS r, $3::text AS g, $4::timestamptz AS since) AS k "
// Each key on its own (LATERAL ... OFFSET 0), whatever the statistics.
#define AG_CANDIDATES(state)                                                                    \
  AG_EPISODE_COLUMNS AG_KEYS                                                                    \
      " CROSS JOIN LATERAL (SELECT e.* FROM alert_grouping.episodes AS e WHERE " AG_EPISODE_KEY \
          state " OFFSET 0) AS e ORDER BY k.p, e.id"
#define AG_CANDIDATES_ONE(state)                                                              \
  AG_EPISODE_COLUMNS AG_ONE_KEY " JOIN alert_grouping.episodes AS e ON " AG_EPISODE_KEY state \
                                " ORDER BY e.id"

// Group keys are matched through their hash (the indexed expression: a key may be longer than
// a B-tree entry can be). The engine reads these, takes the episodes' advisory locks, and
// reads them again when it did not hold the lock of every episode found.
SpiQuery open_episodes(AG_CANDIDATES(AG_OPEN),
                       {UUIDARRAYOID, UUIDARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID});
SpiQuery resolved_episodes(AG_CANDIDATES(AG_RESOLVED),
                           {UUIDARRAYOID, UUIDARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID});
SpiQuery open_episodes_one(AG_CANDIDATES_ONE(AG_OPEN), {UUIDOID, UUIDOID, TEXTOID, TIMESTAMPTZOID});
SpiQuery resolved_episodes_one(AG_CANDIDATES_ONE(AG_RESOLVED),
                               {UUIDOID, UUIDOID, TEXTOID, TIMESTAMPTZOID});

// Counter rows are locked in project order, like everything else the engine locks.
SpiQuery take_episode_numbers(
    "INSERT INTO alert_grouping.project_counters AS c (project_id, last_episode_number) "
    "SELECT v.p, v.n FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::int4[])) "
    "       AS v(p, n) ORDER BY v.p "
    "ON CONFLICT (project_id) DO UPDATE "
    "   SET last_episode_number = c.last_episode_number OPERATOR(pg_catalog.+) "
    "EXCLUDED.last_episode_number "
    "RETURNING c.project_id, c.last_episode_number",
    {UUIDARRAYOID, INT4ARRAYOID});

// The new episodes. From 0.5 the arguments add the inactivity check: its column, its value,
// its unnest and its name in v (all empty before 0.5).
#define AG_INSERT_EPISODES(column, value, unnest, name)                                          \
  "INSERT INTO alert_grouping.episodes "                                                         \
  "  (project_id, id, episode_number, rule_id, group_key, title, title_template, "               \
  "   first_alert_title, severity, started_at, last_activity_at, alert_count, "                  \
  "   active_alert_count, monitor_ids, unique_monitor_count, state, resolved_at, "               \
  "   all_alerts_resolved_at" column                                                             \
  ") "                                                                                           \
  "SELECT v.p, v.id, v.num, v.rule_id, v.key, v.title, NULLIF(v.tmpl, ''), "                     \
  "       v.first_title, v.sev::alert_grouping.severity, v.started, v.last_at, v.n, v.active, "  \
  "       v.mons::uuid[], pg_catalog.cardinality(v.mons::uuid[]), "                              \
  "       CASE WHEN v.active OPERATOR(pg_catalog.>) 0 THEN 'open' ELSE 'resolved' "              \
  "END::alert_grouping.episode_state, "                                                          \
  "       CASE WHEN v.active OPERATOR(pg_catalog.>) 0 THEN NULL ELSE v.last_resolved END, "      \
  "       CASE WHEN v.active OPERATOR(pg_catalog.>) 0 THEN NULL ELSE v.last_resolved END " value \
  "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[]), "             \
  "       pg_catalog.unnest($3::int4[]), pg_catalog.unnest($4::uuid[]), "                        \
  "       pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), "                        \
  "       pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), "                        \
  "       pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::timestamptz[]), "                \
  "       pg_catalog.unnest($11::timestamptz[]), pg_catalog.unnest($12::int4[]), "               \
  "       pg_catalog.unnest($13::int4[]), pg_catalog.unnest($14::text[]), "                      \
  "       pg_catalog.unnest($15::timestamptz[])" unnest                                          \
  ") "                                                                                           \
  "    AS v(p, id, num, rule_id, key, title, tmpl, first_title, sev, started, last_at, n, "      \
  "         active, mons, last_resolved" name ")"
#define AG_INSERT_EPISODES_TYPES                                                          \
  UUIDARRAYOID, UUIDARRAYOID, INT4ARRAYOID, UUIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID,     \
      TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, \
      INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID

SpiQuery insert_episodes(AG_INSERT_EPISODES("", "", "", ""), {AG_INSERT_EPISODES_TYPES});

// From 0.5: with the inactivity check of rules that have an inactivity timeout ($16, in
// minutes, 0: none).
SpiQuery insert_episodes_timed(
    AG_INSERT_EPISODES(
        ", inactivity_check_at",
        ", CASE WHEN v.timeout OPERATOR(pg_catalog.>) 0 AND v.active OPERATOR(pg_catalog.>) 0 "
        "       THEN v.last_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => v.timeout) "
        "END",
        ", pg_catalog.unnest($16::int4[])", ", timeout"),
    {AG_INSERT_EPISODES_TYPES, INT4ARRAYOID});

// Deltas, so that a concurrent acknowledge or resolve of the same episode is never undone.
// "b" reads the row as the statement found it, to report severity changes.
#define AG_UPDATE_EPISODES_SET(timers)                                                             \
  "UPDATE alert_grouping.episodes AS e "                                                           \
  "   SET alert_count = e.alert_count OPERATOR(pg_catalog.+) v.n, "                                \
  "       active_alert_count = e.active_alert_count OPERATOR(pg_catalog.+) v.active, "             \
  "       all_alerts_resolved_at = CASE WHEN v.active OPERATOR(pg_catalog.>) 0 THEN NULL "         \
  "                                     ELSE e.all_alerts_resolved_at END, " timers                \
  "       last_activity_at = GREATEST(e.last_activity_at, v.last_at), "                            \
  "       severity = GREATEST(e.severity, v.sev::alert_grouping.severity), "                       \
  "       monitor_ids = COALESCE(NULLIF(v.mons, '')::uuid[], e.monitor_ids), "                     \
  "       unique_monitor_count = COALESCE(pg_catalog.cardinality("                                 \
  "           NULLIF(v.mons, '')::uuid[]), e.unique_monitor_count), "                              \
  "       state = CASE WHEN v.reopen THEN 'open'::alert_grouping.episode_state ELSE e.state END, " \
  "       resolved_at = CASE WHEN v.reopen THEN NULL ELSE e.resolved_at END, "                     \
  "       acknowledged_at = CASE WHEN v.reopen THEN NULL ELSE e.acknowledged_at END, "             \
  "       reopen_count = e.reopen_count OPERATOR(pg_catalog.+) CASE WHEN v.reopen THEN 1 ELSE 0 "  \
  "END, "                                                                                          \
  "       title = CASE WHEN e.title_template IS NULL OR v.n OPERATOR(pg_catalog.=) 0 THEN "        \
  "e.title "                                                                                       \
  "                    ELSE pg_catalog.replace(e.title_template, '{{alert_count}}', "              \
  "                                            (e.alert_count OPERATOR(pg_catalog.+) v.n)::text) " \
  "END "

#define AG_UPDATED                                                                         \
  "RETURNING e.project_id, e.id, v.old_sev::text, e.severity::text, v.last_at, v.reopen, " \
  "          e.reopen_count"

#define AG_FROM_MANY                                                                            \
  "  FROM (SELECT u.*, b.severity AS old_sev "                                                  \
  "          FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[]), "    \
  "               pg_catalog.unnest($3::int4[]), pg_catalog.unnest($4::int4[]), "               \
  "               pg_catalog.unnest($5::timestamptz[]), pg_catalog.unnest($6::text[]), "        \
  "               pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::bool[])) "               \
  "               AS u(p, id, n, active, last_at, sev, mons, reopen) "                          \
  "          JOIN alert_grouping.episodes AS b ON b.project_id OPERATOR(pg_catalog.=) u.p AND " \
  "b.id OPERATOR(pg_catalog.=) u.id) AS v "                                                     \
  " WHERE e.project_id OPERATOR(pg_catalog.=) v.p AND e.id OPERATOR(pg_catalog.=) "             \
  "v.id " AG_UPDATED
#define AG_MANY_TYPES                                                                          \
  {                                                                                            \
    UUIDARRAYOID, UUIDARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, \
        TEXTARRAYOID, BOOLARRAYOID                                                             \
  }

// The same for one episode (a single-row INSERT).
#define AG_FROM_ONE                                                                            \
  "  FROM (SELECT $1::uuid AS p, $2::uuid AS id, $3::int4 AS n, $4::int4 AS active, "          \
  "               $5::timestamptz AS last_at, $6::text AS sev, $7::text AS mons, "             \
  "               $8::bool AS reopen, b.severity AS old_sev "                                  \
  "          FROM alert_grouping.episodes AS b "                                               \
  "         WHERE b.project_id OPERATOR(pg_catalog.=) $1 AND b.id OPERATOR(pg_catalog.=) $2) " \
  "AS v "                                                                                      \
  " WHERE e.project_id OPERATOR(pg_catalog.=) v.p AND e.id OPERATOR(pg_catalog.=) "            \
  "v.id " AG_UPDATED
#define AG_ONE_TYPES \
  { UUIDOID, UUIDOID, INT4OID, INT4OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, BOOLOID }

// The same when the episode's severity before is known (read under its lock): no second read.
#define AG_FROM_KNOWN                                                                 \
  "  FROM (SELECT $1::uuid AS p, $2::uuid AS id, $3::int4 AS n, $4::int4 AS active, " \
  "               $5::timestamptz AS last_at, $6::text AS sev, $7::text AS mons, "    \
  "               $8::bool AS reopen, $9::text AS old_sev) AS v "                     \
  " WHERE e.project_id OPERATOR(pg_catalog.=) v.p AND e.id OPERATOR(pg_catalog.=) "   \
  "v.id " AG_UPDATED
#define AG_KNOWN_TYPES \
  { UUIDOID, UUIDOID, INT4OID, INT4OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID }

// Before 0.5 (library updated, ALTER EXTENSION UPDATE not run yet) episodes have no timers.
EpisodeUpdates episode_updates_untimed{
    SpiQuery(AG_UPDATE_EPISODES_SET("") AG_FROM_MANY, AG_MANY_TYPES),
    SpiQuery(AG_UPDATE_EPISODES_SET("") AG_FROM_ONE, AG_ONE_TYPES),
    SpiQuery(AG_UPDATE_EPISODES_SET("") AG_FROM_KNOWN, AG_KNOWN_TYPES)};

// From 0.5: a member firing again clears a waiting delayed resolve (flap protection), and a
// reopened episode gets an inactivity check (maintenance moves or clears it).
#define AG_TIMERS                                                                      \
  "       resolve_due_at = CASE WHEN v.active OPERATOR(pg_catalog.>) 0 THEN NULL "     \
  "                             ELSE e.resolve_due_at END, "                           \
  "       inactivity_check_at = CASE WHEN v.reopen "                                   \
  "                                  THEN COALESCE(e.inactivity_check_at, v.last_at) " \
  "                                  ELSE e.inactivity_check_at END, "
EpisodeUpdates episode_updates_timed{
    SpiQuery(AG_UPDATE_EPISODES_SET(AG_TIMERS) AG_FROM_MANY, AG_MANY_TYPES),
    SpiQuery(AG_UPDATE_EPISODES_SET(AG_TIMERS) AG_FROM_ONE, AG_ONE_TYPES),
    SpiQuery(AG_UPDATE_EPISODES_SET(AG_TIMERS) AG_FROM_KNOWN, AG_KNOWN_TYPES)};

// Incidents of the rules that open them, once alerts joined their episodes (0.5 on).
SpiQuery consider_incidents(
    "SELECT alert_grouping.consider_incidents(v.p, pg_catalog.array_agg(v.e)) "
    "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[])) AS v(p, e) "
    " GROUP BY v.p ORDER BY v.p",
    {UUIDARRAYOID, UUIDARRAYOID});

// The id is taken from the identity's sequence by name: on Citus the statement writes the
// shard, which has no identity of its own (distribute() gives each node's sequence its own
// range).
SpiQuery insert_events(
    "INSERT INTO alert_grouping.episode_events (project_id, id, episode_id, at, kind, detail) "
    "OVERRIDING SYSTEM VALUE "
    "SELECT v.p, pg_catalog.nextval('alert_grouping.episode_events_id_seq'::pg_catalog.regclass), "
    "       v.e, v.at, v.kind, v.detail::jsonb "
    "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[]), "
    "       pg_catalog.unnest($3::timestamptz[]), pg_catalog.unnest($4::text[]), "
    "       pg_catalog.unnest($5::text[])) AS v(p, e, at, kind, detail)",
    {UUIDARRAYOID, UUIDARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID});

// Membership lives on the alert row: its episode and how it got there, in one write.
SpiQuery set_alert_episode(
    "UPDATE alert_grouping.alerts AS a "
    "   SET episode_id = v.e, added_by = $1, added_at = pg_catalog.now(), rule_id = v.r, "
    "       similarity_score = v.s::numeric(5,4) "
    "  FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::uuid[]), "
    "       pg_catalog.unnest($4::uuid[]), pg_catalog.unnest($5::uuid[]), "
    "       pg_catalog.unnest($6::float8[])) AS v(p, a, e, r, s) "
    " WHERE a.project_id OPERATOR(pg_catalog.=) v.p AND a.id OPERATOR(pg_catalog.=) v.a",
    {TEXTOID, UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID, FLOAT8ARRAYOID});

SpiQuery clear_alert_episode(
    "UPDATE alert_grouping.alerts AS a "
    "   SET episode_id = NULL, added_by = NULL, added_at = NULL, rule_id = NULL, "
    "       similarity_score = NULL "
    "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[])) AS v(p, a) "
    " WHERE a.project_id OPERATOR(pg_catalog.=) v.p AND a.id OPERATOR(pg_catalog.=) v.a",
    {UUIDARRAYOID, UUIDARRAYOID});

SpiQuery set_alert_episode_only(
    "UPDATE alert_grouping.alerts AS a SET episode_id = v.e "
    "  FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[]), "
    "       pg_catalog.unnest($3::uuid[])) AS v(p, a, e) "
    " WHERE a.project_id OPERATOR(pg_catalog.=) v.p AND a.id OPERATOR(pg_catalog.=) v.a",
    {UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID});

SpiQuery insert_members(
    "INSERT INTO alert_grouping.episode_members "
    "  (project_id, episode_id, alert_id, added_by, rule_id, similarity_score) "
    "SELECT v.p, v.e, v.a, $1, v.r, v.s::numeric(5,4) "
    "  FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::uuid[]), "
    "       pg_catalog.unnest($4::uuid[]), pg_catalog.unnest($5::uuid[]), "
    "       pg_catalog.unnest($6::float8[])) AS v(p, e, a, r, s)",
    {TEXTOID, UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID, FLOAT8ARRAYOID});

// Owners and labels named by a rule are attached only where they still exist.
#define AG_ATTACH(table, column, exists)                                                \
  "INSERT INTO alert_grouping." table " (project_id, episode_id, " column               \
  ") "                                                                                  \
  "SELECT v.p, v.e, v.x FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), "                \
  "       pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::uuid[])) AS v(p, e, x) " \
  " WHERE EXISTS (" exists ") ON CONFLICT DO NOTHING"

SpiQuery insert_owner_users(
    AG_ATTACH(
        "episode_owner_users", "user_id",
        "SELECT FROM alert_grouping.project_members AS m "
        "WHERE m.project_id OPERATOR(pg_catalog.=) v.p AND m.user_id OPERATOR(pg_catalog.=) v.x"),
    {UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID});
SpiQuery insert_owner_teams(
    AG_ATTACH("episode_owner_teams", "team_id",
              "SELECT FROM alert_grouping.teams AS t "
              "WHERE t.project_id OPERATOR(pg_catalog.=) v.p AND t.id OPERATOR(pg_catalog.=) v.x"),
    {UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID});
SpiQuery insert_episode_labels(
    AG_ATTACH("episode_labels", "label_id",
              "SELECT FROM alert_grouping.labels AS l "
              "WHERE l.project_id OPERATOR(pg_catalog.=) v.p AND l.id OPERATOR(pg_catalog.=) v.x"),
    {UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID});

}  // namespace ag::pg::statements
