-- Grouping into episodes by rule and key, with a rolling window on event time.
INSERT INTO alert_grouping.projects (id, name, default_time_window, episode_number_prefix)
VALUES ('00000000-0000-0000-0000-0000000000a1', 'shop', '30 minutes', 'SHOP-');
-- Lower priority number first: the first matching enabled rule wins.
INSERT INTO alert_grouping.grouping_rules (project_id, id, name, priority, match_criteria, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-00000000aa01', 'prod by service', 10,
     '{"labels": ["env=\"prod\""]}',
     '{"group_by": ["labels.service"], "time_window_minutes": 60}',
     '{"title_template": "{{labels.service}}: {{title}} ({{alert_count}} alerts)"}'),
    ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-00000000aa02', 'critical anywhere', 20,
     '{"min_severity": "critical"}', '{"group_by": ["severity"]}', '{}'),
    ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-00000000aa03', 'disabled', 1,
     '{}', '{}', '{}');
UPDATE alert_grouping.grouping_rules SET enabled = false WHERE name = 'disabled';

INSERT INTO alert_grouping.alerts (project_id, monitor_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1', 'Checkout 500s', 'high',    '{"env":"prod","service":"checkout"}', '2026-03-02 09:00+00'),
    ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b2', 'Checkout slow', 'medium',  '{"env":"prod","service":"checkout"}', '2026-03-02 09:10+00'),
    ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b2', 'Search down',   'high',    '{"env":"prod","service":"search"}',   '2026-03-02 09:11+00'),
    ('00000000-0000-0000-0000-0000000000a1', NULL,                                  'Staging broke', 'critical','{"env":"staging"}',                   '2026-03-02 09:12+00'),
    ('00000000-0000-0000-0000-0000000000a1', NULL,                                  'Staging meh',   'low',     '{"env":"staging"}',                   '2026-03-02 09:13+00');
SELECT e.episode_number, r.name AS rule, e.group_key, e.title, e.severity, e.alert_count,
       e.unique_monitor_count, e.started_at, e.last_activity_at
  FROM alert_grouping.episodes e LEFT JOIN alert_grouping.grouping_rules r ON r.project_id = e.project_id AND r.id = e.rule_id
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000a1' ORDER BY e.episode_number;
-- Alerts no rule matches stay ungrouped.
SELECT title, episode_id IS NULL AS ungrouped FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-0000000000a1' AND title LIKE 'Staging%' ORDER BY title;
-- Rolling window: each alert within 60 minutes of the episode's last one joins, even when
-- the episode as a whole is older than the window; severity only rises and says so.
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000a1', 'Checkout errors', 'critical', '{"env":"prod","service":"checkout"}', '2026-03-02 10:05+00');
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000a1', 'Checkout flaky', 'low', '{"env":"prod","service":"checkout"}', '2026-03-02 11:00+00');
-- After a quiet gap longer than the window a new episode starts.
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000a1', 'Checkout down', 'high', '{"env":"prod","service":"checkout"}', '2026-03-02 12:30+00');
SELECT e.episode_number, e.title, e.severity, e.alert_count, e.started_at, e.last_activity_at
  FROM alert_grouping.episodes e
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000a1' AND e.group_key = 'labels.service:checkout'
 ORDER BY e.episode_number;
SELECT e.episode_number, v.kind, v.detail - 'rule_id' - 'first_alert_id' AS detail
  FROM alert_grouping.episode_events v JOIN alert_grouping.episodes e ON e.project_id = v.project_id AND e.id = v.episode_id
 WHERE v.project_id = '00000000-0000-0000-0000-0000000000a1' ORDER BY e.episode_number, v.id;
-- Membership: one row per grouped alert, by rule, and alerts.episode_id mirrors it.
SELECT e.episode_number, m.added_by, count(*) AS members, bool_and(a.episode_id = m.episode_id) AS mirrored,
       bool_and(m.rule_id = e.rule_id) AS same_rule
  FROM alert_grouping.episode_members m
  JOIN alert_grouping.episodes e ON e.project_id = m.project_id AND e.id = m.episode_id
  JOIN alert_grouping.alerts a ON a.project_id = m.project_id AND a.id = m.alert_id
 WHERE m.project_id = '00000000-0000-0000-0000-0000000000a1' GROUP BY 1, 2 ORDER BY 1;
SELECT count(*) AS count_mismatches FROM alert_grouping.episodes e
 WHERE e.alert_count <> (SELECT count(*) FROM alert_grouping.episode_members m
                          WHERE m.project_id = e.project_id AND m.episode_id = e.id);
-- Group keys: title normalisation (lower case, digit runs as X), monitor, several fields.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-0000000000a2', 'keys');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-0000000000a2', 'by title and monitor', '{"type": "field", "group_by": ["title", "monitor"]}');
INSERT INTO alert_grouping.alerts (project_id, monitor_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-0000000000c1', 'Disk 91% on db-7', '2026-03-02 09:00+00'),
    ('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-0000000000c1', 'disk 97% on DB-12', '2026-03-02 09:01+00'),
    ('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-0000000000c2', 'Disk 99% on db-7', '2026-03-02 09:02+00');
SELECT episode_number, group_key, alert_count FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000a2' ORDER BY episode_number;
-- Episode numbers count per project from 1 without gaps.
SELECT p.name, array_agg(e.episode_number ORDER BY e.episode_number) AS numbers
  FROM alert_grouping.episodes e JOIN alert_grouping.projects p ON p.id = e.project_id
 WHERE p.name IN ('shop', 'keys') GROUP BY p.name ORDER BY 1;
-- A rolled-back insert gives its episode number back.
BEGIN;
INSERT INTO alert_grouping.alerts (project_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000a2', 'Something new', '2026-03-02 09:30+00');
ROLLBACK;
INSERT INTO alert_grouping.alerts (project_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000a2', 'Something else', '2026-03-02 09:31+00');
SELECT max(episode_number) AS last_number, count(*) AS episodes FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000a2';
