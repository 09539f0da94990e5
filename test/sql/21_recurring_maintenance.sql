-- Recurring maintenance windows (version 0.8): a weekly recurrence in a time zone, written
-- ahead as maintenance windows, DST-correct, honoured by alert suppression and by uptime.
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000211', 'recurring');
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures, check_interval) VALUES
    ('00000000-0000-0000-0000-000000000211', '00000000-0000-0000-0000-0000000002d1', 'billing', 1, '1 minute');

-- Refused when written (22023), naming the field.
SELECT public.try($$INSERT INTO alert_grouping.maintenance_schedules (project_id, days, local_from, local_to)
    VALUES ('00000000-0000-0000-0000-000000000211', '{}', '01:00', '02:00')$$) AS no_days;
SELECT public.try($$INSERT INTO alert_grouping.maintenance_schedules (project_id, days, local_from, local_to)
    VALUES ('00000000-0000-0000-0000-000000000211', '{1,8}', '01:00', '02:00')$$) AS day_8;
SELECT public.try($$INSERT INTO alert_grouping.maintenance_schedules (project_id, days, local_from, local_to, time_zone)
    VALUES ('00000000-0000-0000-0000-000000000211', '{7}', '01:00', '02:00', 'Mars/Olympus')$$) AS bad_zone;
SELECT public.try($$INSERT INTO alert_grouping.maintenance_schedules (project_id, days, local_from, local_to, starts_at, ends_at)
    VALUES ('00000000-0000-0000-0000-000000000211', '{7}', '01:00', '02:00', '2026-03-01', '2026-02-01')$$) AS ends_first;
SELECT public.try($$INSERT INTO alert_grouping.maintenance_schedules (project_id, days, local_from, local_to, monitor_ids)
    VALUES ('00000000-0000-0000-0000-000000000211', '{7}', '01:00', '02:00', '{00000000-0000-0000-0000-0000000002ff}')$$) AS unknown_monitor;

-- Sundays 01:00-04:00 in Berlin around both DST changes of 2026 (29 March, 25 October): three
-- hours, two on the night the clocks go forward, four on the night they go back.
INSERT INTO alert_grouping.maintenance_schedules
    (project_id, id, title, days, local_from, local_to, time_zone, starts_at, ends_at, monitor_ids) VALUES
    ('00000000-0000-0000-0000-000000000211', '00000000-0000-0000-0000-0000000002e1', 'db patching', '{7}',
     '01:00', '04:00', 'Europe/Berlin', '2026-03-20', '2026-04-10', '{00000000-0000-0000-0000-0000000002d1}'),
    ('00000000-0000-0000-0000-000000000211', '00000000-0000-0000-0000-0000000002e2', 'autumn', '{7}',
     '01:00', '04:00', 'Europe/Berlin', '2026-10-15', '2026-11-05', '{00000000-0000-0000-0000-0000000002d1}'),
-- Fridays and Saturdays past midnight, 22:00-02:00 UTC.
    ('00000000-0000-0000-0000-000000000211', '00000000-0000-0000-0000-0000000002e3', 'backups', '{6,5,5}',
     '22:00', '02:00', 'UTC', '2026-06-01', '2026-06-08', '{00000000-0000-0000-0000-0000000002d1}');
SELECT s.title, s.days, w.starts_at, w.ends_at, w.ends_at - w.starts_at AS lasts
  FROM alert_grouping.maintenance_windows AS w
  JOIN alert_grouping.maintenance_schedules AS s ON s.project_id = w.project_id AND s.id = w.schedule_id
 WHERE w.project_id = '00000000-0000-0000-0000-000000000211'
 ORDER BY w.starts_at;

-- Suppression: failures inside the occurrence of 29 March (00:00-02:00 UTC) open no alert;
-- the monitor, still down after it, opens one at its next failure.
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok, message)
SELECT '00000000-0000-0000-0000-000000000211', '00000000-0000-0000-0000-0000000002d1', t, t < '2026-03-29 00:10' OR t >= '2026-03-29 02:03', 'x'
  FROM pg_catalog.generate_series(timestamptz '2026-03-28 23:55', '2026-03-29 02:05', '1 minute') AS t;
SELECT a.created_at, a.state FROM alert_grouping.alerts AS a
 WHERE a.project_id = '00000000-0000-0000-0000-000000000211' ORDER BY a.created_at;
-- Uptime: the two hours of maintenance are neither up nor down.
SELECT u.up_seconds, u.down_seconds, u.maintenance_seconds, u.unknown_seconds
  FROM alert_grouping.uptime_seconds('00000000-0000-0000-0000-000000000211', '00000000-0000-0000-0000-0000000002d1',
                                     '2026-03-28 23:56', '2026-03-29 02:05') AS u;

-- Planned ahead by the maintenance pass: a schedule that starts later writes nothing yet.
INSERT INTO alert_grouping.maintenance_schedules
    (project_id, id, days, local_from, local_to, time_zone, starts_at) VALUES
    ('00000000-0000-0000-0000-000000000211', '00000000-0000-0000-0000-0000000002e4', '{1}', '09:00', '09:30',
     'America/New_York', '2027-06-01');
SELECT count(*) AS written FROM alert_grouping.maintenance_windows WHERE schedule_id = '00000000-0000-0000-0000-0000000002e4';
SELECT (alert_grouping.run_maintenance('2027-06-01') ->> 'maintenance_occurrences_planned')::int AS planned;
SELECT (alert_grouping.run_maintenance('2027-06-01') ->> 'maintenance_occurrences_planned')::int AS planned_again;
SELECT w.starts_at, w.ends_at FROM alert_grouping.maintenance_windows AS w
 WHERE w.schedule_id = '00000000-0000-0000-0000-0000000002e4' ORDER BY w.starts_at;
-- One occurrence skipped (deleted) stays skipped.
DELETE FROM alert_grouping.maintenance_windows
 WHERE schedule_id = '00000000-0000-0000-0000-0000000002e4' AND starts_at = '2027-06-14 13:00+00';
SELECT (alert_grouping.run_maintenance('2027-06-08') ->> 'maintenance_occurrences_planned')::int AS planned_a_week_on;
SELECT pg_catalog.count(*) AS occurrences, pg_catalog.bool_or(starts_at = '2027-06-14 13:00+00') AS skipped_back
  FROM alert_grouping.maintenance_windows WHERE schedule_id = '00000000-0000-0000-0000-0000000002e4';
-- Changed: the occurrences not started yet go, and are written again as it says now.
UPDATE alert_grouping.maintenance_schedules SET local_to = '10:00'
 WHERE id = '00000000-0000-0000-0000-0000000002e4';
SELECT count(*) AS after_change FROM alert_grouping.maintenance_windows WHERE schedule_id = '00000000-0000-0000-0000-0000000002e4';
SELECT (alert_grouping.run_maintenance('2027-06-01') ->> 'maintenance_occurrences_planned')::int AS replanned;
SELECT pg_catalog.min(ends_at - starts_at) AS lasts FROM alert_grouping.maintenance_windows
 WHERE schedule_id = '00000000-0000-0000-0000-0000000002e4';
-- Deleted: the future occurrences go, the past ones stay as plain windows.
DELETE FROM alert_grouping.maintenance_schedules
 WHERE id IN ('00000000-0000-0000-0000-0000000002e1', '00000000-0000-0000-0000-0000000002e4');
SELECT w.title, w.schedule_id, w.starts_at FROM alert_grouping.maintenance_windows AS w
 WHERE w.project_id = '00000000-0000-0000-0000-000000000211' AND w.title IN ('db patching') OR w.schedule_id = '00000000-0000-0000-0000-0000000002e4'
 ORDER BY w.starts_at;
