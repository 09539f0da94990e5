-- Retention (cleanup): raw check results go by whole daily partitions once rolled up, hourly
-- and daily rollups, notifications and the run history by age; each period is a setting.
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000171', 'retention');
INSERT INTO alert_grouping.monitors (project_id, id, name, check_interval, auto_create_alerts) VALUES
    ('00000000-0000-0000-0000-000000000171', '00000000-0000-0000-0000-0000000017a1', 'api', '1 minute', false);
-- Daily partitions for 2026-10-01 to 2026-10-03, a check every minute, a failing hour.
SELECT alert_grouping.create_check_partitions('2026-10-01 00:00+00', 2);
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
SELECT '00000000-0000-0000-0000-000000000171', '00000000-0000-0000-0000-0000000017a1', t,
       NOT (t >= '2026-10-02 10:00+00' AND t < '2026-10-02 11:00+00')
  FROM generate_series('2026-10-01 00:00+00'::timestamptz, '2026-10-03 23:59+00', '1 minute') AS t;
SELECT round(alert_grouping.uptime('00000000-0000-0000-0000-000000000171', '00000000-0000-0000-0000-0000000017a1',
                                   '2026-10-01 00:00+00', '2026-10-03 00:00+00'), 6) AS uptime_from_raw;

-- 30.5 days after the 2nd ended: nothing rolled up yet, so cleanup rolls up first, then drops
-- the partitions whose every result is older than 30 days (the 1st and the 2nd).
SELECT jsonb_pretty(alert_grouping.cleanup('2026-11-02 12:00+00') - 'at');
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'alert_grouping.check_results'::regclass AND c.relname LIKE 'check_results_202610%' ORDER BY 1;
-- The dropped day's uptime is still there, from its rollups.
SELECT round(alert_grouping.uptime('00000000-0000-0000-0000-000000000171', '00000000-0000-0000-0000-0000000017a1',
                                   '2026-10-01 00:00+00', '2026-10-03 00:00+00'), 6) AS uptime_from_rollups;
SELECT granularity, count(*) FROM alert_grouping.uptime_rollups
 WHERE project_id = '00000000-0000-0000-0000-000000000171' GROUP BY 1 ORDER BY 1;

-- The periods are settings: hourly rollups kept one day, notifications and history aged out.
SET alert_grouping.hourly_rollups_retention_days = 1;
SELECT cleanup ->> 'hourly_rollups_deleted' AS hourly_deleted, cleanup -> 'check_partitions_dropped' AS dropped
  FROM alert_grouping.cleanup('2026-11-03 12:00+00') AS cleanup;
RESET alert_grouping.hourly_rollups_retention_days;
SELECT granularity, count(*) FROM alert_grouping.uptime_rollups
 WHERE project_id = '00000000-0000-0000-0000-000000000171' GROUP BY 1 ORDER BY 1;
INSERT INTO alert_grouping.worker_runs (started_at, ok) VALUES ('2026-07-01', true), ('2026-10-30', true);
SELECT alert_grouping.cleanup('2026-11-03 12:00+00') ->> 'worker_runs_deleted' AS history_deleted;
SELECT count(*) FROM alert_grouping.worker_runs;
DELETE FROM alert_grouping.worker_runs;
\set VERBOSITY terse
SELECT alert_grouping.cleanup('-infinity');
\set VERBOSITY default
