-- Deduplication: an active alert with the same fingerprint absorbs the new event.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-0000000000d1', 'dedup');
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d1', 'API latency', 'low', '{"service":"api"}', '2026-03-01 10:00+00');
-- Same content later, at a higher severity: no new row, count and severity go up.
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d1', 'api latency', 'high', '{"service":"api"}', '2026-03-01 10:05+00');
SELECT title, severity, duplicate_count, last_duplicate_at FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-0000000000d1';
-- Duplicates inside one multi-row statement collapse onto the first row; a lower severity
-- never lowers the alert's.
INSERT INTO alert_grouping.alerts (project_id, title, severity, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d1', 'Queue backlog', 'medium', 'queue-1', '2026-03-01 11:00+00'),
    ('00000000-0000-0000-0000-0000000000d1', 'Queue backlog again', 'low', 'queue-1', '2026-03-01 11:01+00'),
    ('00000000-0000-0000-0000-0000000000d1', 'Queue backlog', 'critical', 'queue-1', '2026-03-01 11:02+00'),
    ('00000000-0000-0000-0000-0000000000d1', 'Other', 'low', 'queue-2', '2026-03-01 11:03+00');
SELECT title, dedup_key, severity, duplicate_count, last_duplicate_at FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-0000000000d1' AND dedup_key IS NOT NULL ORDER BY dedup_key;
-- An acknowledged alert still absorbs; a resolved one does not: the next event is a new alert.
UPDATE alert_grouping.alerts SET state = 'acknowledged' WHERE dedup_key = 'queue-1';
INSERT INTO alert_grouping.alerts (project_id, title, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d1', 'Queue backlog', 'queue-1', '2026-03-01 11:10+00');
UPDATE alert_grouping.alerts SET state = 'resolved', resolved_at = '2026-03-01 11:20+00' WHERE dedup_key = 'queue-1';
INSERT INTO alert_grouping.alerts (project_id, title, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d1', 'Queue backlog', 'queue-1', '2026-03-01 11:30+00');
SELECT state, duplicate_count, created_at FROM alert_grouping.alerts
 WHERE dedup_key = 'queue-1' ORDER BY created_at;
-- Dedup is per project: the same key in another project is another alert.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-0000000000d2', 'dedup 2');
INSERT INTO alert_grouping.alerts (project_id, title, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d2', 'Queue backlog', 'queue-1', '2026-03-01 11:31+00');
SELECT p.name, count(*) AS alerts, sum(a.duplicate_count) AS duplicates
  FROM alert_grouping.alerts a JOIN alert_grouping.projects p ON p.id = a.project_id
 WHERE a.dedup_key = 'queue-1' GROUP BY p.name ORDER BY 1;
-- COPY runs the same pipeline.
COPY alert_grouping.alerts (project_id, title, dedup_key, created_at) FROM stdin;
00000000-0000-0000-0000-0000000000d2	Queue backlog	queue-1	2026-03-01 11:32+00
00000000-0000-0000-0000-0000000000d2	Queue backlog	queue-1	2026-03-01 11:33+00
\.
SELECT count(*) AS alerts, sum(duplicate_count) AS duplicates FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-0000000000d2';
-- A duplicate keeps its episode active whether it arrives in the same INSERT or its own:
-- the same events give the same episodes however they were batched.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-0000000000d3', 'batching');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-0000000000d3', 'by service', '{"group_by": ["labels.service"], "time_window_minutes": 30}');
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d3', 'CPU high', '{"service": "a"}', '2026-03-01 10:00+00'),
    ('00000000-0000-0000-0000-0000000000d3', 'CPU high', '{"service": "a"}', '2026-03-01 10:20+00');
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d3', 'CPU high', '{"service": "b"}', '2026-03-01 10:00+00');
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d3', 'CPU high', '{"service": "b"}', '2026-03-01 10:20+00');
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000d3', 'Disk full', '{"service": "a"}', '2026-03-01 10:45+00'),
    ('00000000-0000-0000-0000-0000000000d3', 'Disk full', '{"service": "b"}', '2026-03-01 10:45+00');
SELECT group_key, count(*) AS episodes, sum(alert_count) AS alerts, max(last_activity_at) AS last_activity
  FROM alert_grouping.episodes WHERE project_id = '00000000-0000-0000-0000-0000000000d3'
 GROUP BY group_key ORDER BY group_key;
