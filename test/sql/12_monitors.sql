-- Monitors: check results open an alert after alert_after_failures consecutive failures and
-- resolve it after recover_after_successes consecutive successes, in checked_at order.
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000121', 'monitors');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000121', 'per monitor', '{"group_by": ["monitor"]}');
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures, recover_after_successes, severity) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c001', 'one', 1, 1, 'critical'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', 'two', 2, 1, 'high'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', 'five', 5, 2, 'medium');
SELECT name, alert_after_failures, recover_after_successes, severity, check_interval, auto_create_alerts,
       auto_create_incident, status FROM alert_grouping.monitors ORDER BY alert_after_failures;

CREATE VIEW public.monitor_alerts AS
SELECT m.name, a.state, a.created_at, a.resolved_at, a.severity, a.source,
       e.episode_number
  FROM alert_grouping.alerts a
  JOIN alert_grouping.monitors m ON m.project_id = a.project_id AND m.id = a.monitor_id
  LEFT JOIN alert_grouping.episodes e ON e.project_id = a.project_id AND e.id = a.episode_id
 WHERE a.project_id = '00000000-0000-0000-0000-000000000121'
 ORDER BY m.name, a.created_at;

-- Threshold 1: the first failure opens. Threshold 2: a success between two failures breaks
-- the streak; the next two failures open. Threshold 5: four failures open nothing.
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok, status_code, message) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c001', '2026-11-02 10:00', false, 500, 'HTTP 500'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', '2026-11-02 10:00', false, 503, 'HTTP 503'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', '2026-11-02 10:01', true, 200, NULL),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', '2026-11-02 10:02', false, 503, 'HTTP 503'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:00', false, NULL, 'timeout'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:01', false, NULL, 'timeout'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:02', false, NULL, 'timeout'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:03', false, NULL, 'timeout');
SELECT * FROM public.monitor_alerts;
SELECT name, status, status_changed_at FROM alert_grouping.monitors ORDER BY alert_after_failures;

INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok, message) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', '2026-11-02 10:03', false, 'HTTP 503'),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:04', false, 'timeout');
SELECT * FROM public.monitor_alerts;

-- Hysteresis: with recover_after_successes = 2, one success inside the failures resolves
-- nothing; two in a row do. Threshold 1 recovers at the first success.
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:05', true),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:06', false),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:07', true),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c001', '2026-11-02 10:07', true);
SELECT * FROM public.monitor_alerts;
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:08', true);
SELECT * FROM public.monitor_alerts;
-- A failure while up after recovery is a new streak: five more are needed.
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c005', '2026-11-02 10:09', false);
SELECT name, status FROM alert_grouping.monitors WHERE name = 'five';

-- One statement can resolve, open again and resolve again (in checked_at order, whatever
-- the order of its rows): each down period gets its own alert.
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', '2026-11-02 11:03', false),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', '2026-11-02 11:00', true),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', '2026-11-02 11:02', false),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c002', '2026-11-02 11:04', true);
SELECT * FROM public.monitor_alerts WHERE name = 'two';

-- A late result that completes a streak (threshold 3): failures at 12:00 and 12:02, then a late
-- success at 11:59 (before the streak: nothing changes), then the missing 12:01 arrives late
-- as a failure and makes three in a row. The alert opens at the third failure in checked_at
-- order.
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c003', 'three', 3);
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c003', '2026-11-02 12:00', false),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c003', '2026-11-02 12:02', false);
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c003', '2026-11-02 11:59', true);
SELECT count(*) AS alerts_of_three FROM public.monitor_alerts WHERE name = 'three';
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c003', '2026-11-02 12:01', false);
SELECT * FROM public.monitor_alerts WHERE name = 'three';

-- COPY runs the same trigger.
COPY alert_grouping.check_results (project_id, monitor_id, checked_at, ok, message) FROM stdin;
00000000-0000-0000-0000-000000000121	00000000-0000-0000-0000-00000000c001	2026-11-02 13:00+00	f	down again
00000000-0000-0000-0000-000000000121	00000000-0000-0000-0000-00000000c003	2026-11-02 13:00+00	t	\N
\.
SELECT * FROM public.monitor_alerts WHERE name IN ('one', 'three');

-- Maintenance windows: a covered monitor opens no alert while the window lasts, its results
-- are stored; still down after the window, its next failure opens the alert.
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c004', 'maint', 1),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c006', 'uncovered', 1);
INSERT INTO alert_grouping.maintenance_windows (project_id, title, starts_at, ends_at, monitor_ids) VALUES
    ('00000000-0000-0000-0000-000000000121', 'db upgrade', '2026-11-02 14:00', '2026-11-02 15:00',
     ARRAY['00000000-0000-0000-0000-00000000c004']::uuid[]);
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c004', '2026-11-02 14:10', false),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c004', '2026-11-02 14:20', false),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c006', '2026-11-02 14:20', false);
SELECT * FROM public.monitor_alerts WHERE name IN ('maint', 'uncovered');
SELECT name, status, alert_id IS NULL AS alert_held_back FROM alert_grouping.monitors WHERE name = 'maint';
SELECT count(*) AS stored_results FROM alert_grouping.check_results
 WHERE monitor_id = '00000000-0000-0000-0000-00000000c004';
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c004', '2026-11-02 15:05', false);
SELECT * FROM public.monitor_alerts WHERE name = 'maint';
-- A window without monitor_ids covers every monitor of its project.
INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at) VALUES
    ('00000000-0000-0000-0000-000000000121', '2026-11-02 16:00', '2026-11-02 17:00');
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c001', '2026-11-02 15:59', true),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c001', '2026-11-02 16:30', false);
SELECT name, status, alert_id IS NULL AS alert_held_back FROM alert_grouping.monitors WHERE name = 'one';
SELECT count(*) FILTER (WHERE state <> 'resolved') AS open_alerts_of_one FROM public.monitor_alerts WHERE name = 'one';

-- auto_create_alerts = false: the monitor goes down, and opens nothing.
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures, auto_create_alerts) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c007', 'silent', 1, false);
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c007', '2026-11-02 18:00', false);
SELECT name, status, (SELECT count(*) FROM public.monitor_alerts WHERE name = 'silent') AS alerts
  FROM alert_grouping.monitors WHERE name = 'silent';

-- Bad input: refused with a message that names what is wrong; nothing stored changes.
SELECT count(*) AS results_before FROM alert_grouping.check_results;
SELECT public.try($$INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c001', '2026-11-02 19:00', false),
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000cfff', '2026-11-02 19:00', false)$$);
SELECT count(*) AS results_after FROM alert_grouping.check_results;
SELECT public.try($$INSERT INTO alert_grouping.monitors (project_id, name, alert_after_failures) VALUES
    ('00000000-0000-0000-0000-000000000121', 'zero', 0)$$);
SELECT public.try($$UPDATE alert_grouping.monitors SET recover_after_successes = -1 WHERE name = 'one'$$);
SELECT public.try($$INSERT INTO alert_grouping.monitors (project_id, name, check_interval) VALUES
    ('00000000-0000-0000-0000-000000000121', 'never', '0 seconds')$$);
SELECT public.try($$INSERT INTO alert_grouping.monitors (project_id, name, labels) VALUES
    ('00000000-0000-0000-0000-000000000121', 'list', '[1]')$$);
SELECT public.try($$INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at) VALUES
    ('00000000-0000-0000-0000-000000000121', '2026-11-02 10:00', '2026-11-02 09:00')$$);
SELECT public.try($$INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at, monitor_ids) VALUES
    ('00000000-0000-0000-0000-000000000121', '2026-11-02 10:00', '2026-11-02 11:00',
     ARRAY['00000000-0000-0000-0000-00000000cfff']::uuid[])$$);
SELECT public.try($$INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000121', '00000000-0000-0000-0000-00000000c001', 'infinity', false)$$);
SELECT name, alert_after_failures, recover_after_successes FROM alert_grouping.monitors
 WHERE name = 'one';
-- Deleting a monitor deletes its results.
DELETE FROM alert_grouping.monitors WHERE name = 'silent';
SELECT count(*) AS results_of_deleted FROM alert_grouping.check_results
 WHERE monitor_id = '00000000-0000-0000-0000-00000000c007';

-- Results of any time are accepted: the default partition holds what no daily one does.
SELECT count(*) AS in_default FROM alert_grouping.check_results_default;
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'alert_grouping.check_results'::regclass ORDER BY 1;
DROP VIEW public.monitor_alerts;
