-- Episode auto-resolve (resolve delay, flap protection, inactivity), incidents from rules,
-- from monitors and by hand, their timeline, and run_maintenance().
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000131', 'incidents');
INSERT INTO alert_grouping.grouping_rules (project_id, id, name, priority, match_criteria, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000131', '00000000-0000-0000-0000-0000000013a1', 'delayed', 10,
     '{"labels": ["team=\"delay\""]}', '{"group_by": ["labels.service"]}', '{"resolve_delay_minutes": 10}'),
    ('00000000-0000-0000-0000-000000000131', '00000000-0000-0000-0000-0000000013a2', 'inactive', 20,
     '{"labels": ["team=\"idle\""]}', '{"group_by": ["labels.service"], "time_window_minutes": 600}',
     '{"inactivity_timeout_minutes": 30}'),
    ('00000000-0000-0000-0000-000000000131', '00000000-0000-0000-0000-0000000013a3', 'paging', 30,
     '{"labels": ["team=\"page\""]}', '{"group_by": ["labels.service"]}',
     '{"create_incident": true, "incident_min_alerts": 3, "incident_min_severity": "high"}');

CREATE VIEW public.eps AS
SELECT r.name AS rule, e.episode_number, e.state, e.alert_count, e.active_alert_count,
       e.all_alerts_resolved_at, e.resolve_due_at, e.resolved_at, e.reopen_count,
       e.incident_id IS NOT NULL AS has_incident
  FROM alert_grouping.episodes e JOIN alert_grouping.grouping_rules r ON r.project_id = e.project_id AND r.id = e.rule_id
 WHERE e.project_id = '00000000-0000-0000-0000-000000000131' ORDER BY e.episode_number;

-- Resolve delay: every member resolved starts the delay; the episode stays open until
-- run_maintenance() passes its due time.
INSERT INTO alert_grouping.alerts (project_id, title, labels, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'api 500', '{"team":"delay","service":"api"}', 'd1', '2026-11-03 10:00'),
    ('00000000-0000-0000-0000-000000000131', 'api slow', '{"team":"delay","service":"api"}', 'd2', '2026-11-03 10:01');
SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000131',
    '{"event_action": "resolve", "dedup_key": "d1", "payload": {"timestamp": "2026-11-03 10:05+00"}}') IS NOT NULL;
SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000131',
    '{"event_action": "resolve", "dedup_key": "d2", "payload": {"timestamp": "2026-11-03 10:06+00"}}') IS NOT NULL;
SELECT * FROM public.eps;
SELECT alert_grouping.run_maintenance('2026-11-03 10:15') - 'check_partitions_created';
SELECT state FROM public.eps WHERE rule = 'delayed';
-- Flap protection: a new firing member before the due time clears it.
INSERT INTO alert_grouping.alerts (project_id, title, labels, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'api 500 again', '{"team":"delay","service":"api"}', 'd3', '2026-11-03 10:12');
SELECT * FROM public.eps;
SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000131',
    '{"event_action": "resolve", "dedup_key": "d3", "payload": {"timestamp": "2026-11-03 10:20+00"}}') IS NOT NULL;
SELECT alert_grouping.run_maintenance('2026-11-03 10:29:59') ->> 'episodes_resolved_after_delay' AS resolved;
SELECT alert_grouping.run_maintenance('2026-11-03 10:30') ->> 'episodes_resolved_after_delay' AS resolved;
SELECT * FROM public.eps;
-- The same "at" again does nothing more.
SELECT alert_grouping.run_maintenance('2026-11-03 10:30') - 'check_partitions_created';
SELECT kind, at, detail - 'first_alert_id' AS detail FROM alert_grouping.episode_events
 WHERE project_id = '00000000-0000-0000-0000-000000000131' ORDER BY at, id;

-- Inactivity: no new alert for 30 minutes resolves the episode and its alerts, as of the
-- moment it became inactive; an alert that came meanwhile moves the check.
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'queue lag', '{"team":"idle","service":"queue"}', '2026-11-03 11:00');
SELECT alert_grouping.run_maintenance('2026-11-03 11:20') ->> 'episodes_resolved_inactive' AS resolved;
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'queue lag 2', '{"team":"idle","service":"queue"}', '2026-11-03 11:20');
SELECT alert_grouping.run_maintenance('2026-11-03 11:40') - 'check_partitions_created';
SELECT alert_grouping.run_maintenance('2026-11-03 11:49') ->> 'episodes_resolved_inactive' AS resolved;
SELECT alert_grouping.run_maintenance('2026-11-03 11:50') - 'check_partitions_created';
SELECT rule, state, resolved_at FROM public.eps WHERE rule = 'inactive';
SELECT title, state, resolved_at FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND labels ->> 'team' = 'idle' ORDER BY title;
SELECT detail FROM alert_grouping.episode_events
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND detail ->> 'reason' = 'inactivity_timeout';
-- A rule that gains a timeout checks its open episodes.
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'cache miss', '{"team":"delay","service":"cache"}', '2026-11-03 12:00');
UPDATE alert_grouping.grouping_rules SET episode_config = '{"resolve_delay_minutes": 10, "inactivity_timeout_minutes": 5}'
 WHERE name = 'delayed';
SELECT alert_grouping.run_maintenance('2026-11-03 12:10') ->> 'episodes_resolved_inactive' AS resolved;

-- Incidents from a rule: three firing members at or above high. Resolved and low ones do
-- not count.
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'pay 1', 'high', '{"team":"page","service":"pay"}', 'p1', '2026-11-03 13:00'),
    ('00000000-0000-0000-0000-000000000131', 'pay 2', 'critical', '{"team":"page","service":"pay"}', 'p2', '2026-11-03 13:01'),
    ('00000000-0000-0000-0000-000000000131', 'pay low', 'low', '{"team":"page","service":"pay"}', 'p3', '2026-11-03 13:02');
SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000131',
    '{"event_action": "resolve", "dedup_key": "p1", "payload": {"timestamp": "2026-11-03 13:03+00"}}') IS NOT NULL;
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'pay 4', 'high', '{"team":"page","service":"pay"}', '2026-11-03 13:04');
SELECT rule, alert_count, active_alert_count, has_incident FROM public.eps WHERE rule = 'paging';
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'pay 5', 'critical', '{"team":"page","service":"pay"}', '2026-11-03 13:05');
SELECT rule, alert_count, active_alert_count, has_incident FROM public.eps WHERE rule = 'paging';
CREATE VIEW public.incs AS
SELECT i.incident_number, i.title, i.severity, i.status, i.source, e.episode_number, i.started_at,
       i.acknowledged_at IS NOT NULL AS acked, i.resolved_at
  FROM alert_grouping.incidents i
  LEFT JOIN alert_grouping.episodes e ON e.project_id = i.project_id AND e.id = i.episode_id
 WHERE i.project_id = '00000000-0000-0000-0000-000000000131' ORDER BY i.incident_number;
SELECT * FROM public.incs;
-- More alerts join the same incident's episode; no second incident.
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'pay 6', 'critical', '{"team":"page","service":"pay"}', '2026-11-03 13:06');
SELECT count(*) AS incidents FROM alert_grouping.incidents WHERE project_id = '00000000-0000-0000-0000-000000000131';

-- acknowledge_incident cascades to the episode and its alerts; resolve_incident too.
SELECT (alert_grouping.acknowledge_incident('00000000-0000-0000-0000-000000000131', id)).status
  FROM alert_grouping.incidents WHERE project_id = '00000000-0000-0000-0000-000000000131' AND incident_number = 1;
SELECT state, count(*) FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND labels ->> 'team' = 'page' GROUP BY 1 ORDER BY 1;
SELECT rule, state FROM public.eps WHERE rule = 'paging';
-- Transitions that make no sense are refused, and change nothing.
SELECT public.try(format($$SELECT alert_grouping.acknowledge_incident(%L, %L)$$,
    '00000000-0000-0000-0000-000000000131', id)) FROM alert_grouping.incidents
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND incident_number = 1;
SELECT (alert_grouping.resolve_incident('00000000-0000-0000-0000-000000000131', id, 'rolled back the deploy')).status
  FROM alert_grouping.incidents WHERE project_id = '00000000-0000-0000-0000-000000000131' AND incident_number = 1;
SELECT public.try(format($$SELECT alert_grouping.resolve_incident(%L, %L)$$,
    '00000000-0000-0000-0000-000000000131', id)) FROM alert_grouping.incidents
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND incident_number = 1;
SELECT public.try(format($$SELECT alert_grouping.acknowledge_incident(%L, %L)$$,
    '00000000-0000-0000-0000-000000000131', id)) FROM alert_grouping.incidents
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND incident_number = 1;
SELECT public.try($$SELECT alert_grouping.resolve_incident('00000000-0000-0000-0000-000000000131',
    '00000000-0000-0000-0000-0000000013ff')$$);
SELECT state, count(*) FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND labels ->> 'team' = 'page' GROUP BY 1 ORDER BY 1;
SELECT rule, state, has_incident FROM public.eps WHERE rule = 'paging';

-- By hand: a first-class incident, numbered on; the number is the extension's to give.
INSERT INTO alert_grouping.incidents (project_id, title, severity, started_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'Status page down', 'critical', '2026-11-03 14:00');
SELECT public.try($$INSERT INTO alert_grouping.incidents (project_id, incident_number, title) VALUES
    ('00000000-0000-0000-0000-000000000131', 99, 'numbered')$$);
BEGIN;
INSERT INTO alert_grouping.incidents (project_id, title) VALUES ('00000000-0000-0000-0000-000000000131', 'rolled back');
ROLLBACK;
INSERT INTO alert_grouping.incidents (project_id, title, started_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'Slow logins', '2026-11-03 14:30');
SELECT incident_number, title, status, source FROM public.incs;
-- A plain UPDATE is a change like any other: timeline, and the reason a client gives.
BEGIN;
SET LOCAL alert_grouping.incident_reason = 'CDN provider confirmed the outage';
UPDATE alert_grouping.incidents SET status = 'identified'
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND incident_number = 2;
COMMIT;
UPDATE alert_grouping.incidents SET status = 'resolved', resolved_at = '2026-11-03 15:00'
 WHERE project_id = '00000000-0000-0000-0000-000000000131' AND incident_number = 2;
SELECT i.incident_number, u.status, u.kind, u.message
  FROM alert_grouping.incident_updates u
  JOIN alert_grouping.incidents i ON i.project_id = u.project_id AND i.id = u.incident_id
 WHERE u.project_id = '00000000-0000-0000-0000-000000000131' ORDER BY i.incident_number, u.at, u.id;

-- A monitor with auto_create_incident opens one straight from its alert, whatever the rules
-- say, and it resolves when the monitor recovers.
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures, auto_create_incident, labels) VALUES
    ('00000000-0000-0000-0000-000000000131', '00000000-0000-0000-0000-0000000013c1', 'checkout', 2, true, '{"service":"checkout"}');
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok, message) VALUES
    ('00000000-0000-0000-0000-000000000131', '00000000-0000-0000-0000-0000000013c1', '2026-11-03 16:00', false, 'HTTP 502'),
    ('00000000-0000-0000-0000-000000000131', '00000000-0000-0000-0000-0000000013c1', '2026-11-03 16:01', false, 'HTTP 502');
SELECT incident_number, title, severity, status, source, started_at FROM public.incs WHERE source = 'monitor';
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok) VALUES
    ('00000000-0000-0000-0000-000000000131', '00000000-0000-0000-0000-0000000013c1', '2026-11-03 16:02', true);
SELECT incident_number, status, resolved_at FROM public.incs WHERE source = 'monitor';
SELECT u.kind, u.message FROM alert_grouping.incident_updates u
  JOIN alert_grouping.incidents i ON i.project_id = u.project_id AND i.id = u.incident_id
 WHERE i.source = 'monitor' ORDER BY u.at, u.id;

-- Reopen within the rule's window counts in reopen_count, and lets a new incident open
-- (resolve_incident resolved the episode just now).
UPDATE alert_grouping.grouping_rules SET episode_config = episode_config || '{"reopen_window_minutes": 60, "incident_min_alerts": 1}'
 WHERE name = 'paging';
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'pay 7', 'critical', '{"team":"page","service":"pay"}', now() + interval '1 minute');
SELECT rule, state, reopen_count, has_incident FROM public.eps WHERE rule = 'paging';
SELECT incident_number, status, episode_number FROM public.incs WHERE source = 'rule';

-- A duplicate that raises an alert to the rule's minimum severity counts: the alert it raised
-- is firing at that severity now.
INSERT INTO alert_grouping.grouping_rules (project_id, name, priority, match_criteria, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000131', 'critical only', 25, '{"labels": ["team=\"crit\""]}',
     '{"group_by": ["labels.service"]}', '{"create_incident": true, "incident_min_severity": "critical"}');
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'disk filling', 'high', '{"team":"crit","service":"disk"}', 'c1', '2026-11-03 13:10');
SELECT count(*) AS incidents_of_crit FROM alert_grouping.incidents i
  JOIN alert_grouping.grouping_rules r ON r.project_id = i.project_id AND r.id = i.rule_id WHERE r.name = 'critical only';
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-000000000131', 'disk filling', 'critical', '{"team":"crit","service":"disk"}', 'c1', '2026-11-03 13:11');
SELECT i.title, i.severity, i.status FROM alert_grouping.incidents i
  JOIN alert_grouping.grouping_rules r ON r.project_id = i.project_id AND r.id = i.rule_id WHERE r.name = 'critical only';

-- Per project and day.
SELECT day::text, alerts, duplicates, episodes, incidents, noise_reduction,
       mean_time_to_acknowledge IS NOT NULL AS has_mtta, mean_time_to_resolve IS NOT NULL AS has_mttr
  FROM alert_grouping.daily_stats WHERE project_id = '00000000-0000-0000-0000-000000000131' AND day = '2026-11-03';
DROP VIEW public.eps, public.incs;
