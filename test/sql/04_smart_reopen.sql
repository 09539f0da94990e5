-- smart grouping: an alert joins the open episode whose first title is most similar.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-0000000000e1', 'smart');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-0000000000e1', 'similar titles', '{"type": "smart", "similarity_threshold": 0.6, "time_window_minutes": 30}');
INSERT INTO alert_grouping.alerts (project_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000e1', 'Database connection pool exhausted on db-1', '2026-03-03 08:00+00'),
    ('00000000-0000-0000-0000-0000000000e1', 'Certificate expires in 3 days', '2026-03-03 08:01+00'),
    ('00000000-0000-0000-0000-0000000000e1', 'Database connection pool exhausted on db-2', '2026-03-03 08:02+00'),
    ('00000000-0000-0000-0000-0000000000e1', 'Certificate expires in 2 days', '2026-03-03 08:03+00'),
    ('00000000-0000-0000-0000-0000000000e1', 'Database connections slow', '2026-03-03 08:04+00'),
    ('00000000-0000-0000-0000-0000000000e1', 'Database connection pool exhausted on replica db-3', '2026-03-03 08:05+00');
SELECT e.episode_number, a.title, m.similarity_score
  FROM alert_grouping.episode_members m
  JOIN alert_grouping.episodes e ON e.project_id = m.project_id AND e.id = m.episode_id
  JOIN alert_grouping.alerts a ON a.project_id = m.project_id AND a.id = m.alert_id
 WHERE m.project_id = '00000000-0000-0000-0000-0000000000e1' ORDER BY a.created_at;

-- Auto-resolve: when the last active member resolves, the episode resolves (no delay).
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-0000000000e2', 'reopen');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-0000000000e2', 'by service', '{"group_by": ["labels.service"], "time_window_minutes": 10}',
     '{"reopen_window_minutes": 60}');
INSERT INTO alert_grouping.alerts (project_id, title, labels, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000e2', 'Payments 502', '{"service":"payments"}', 'p-1', '2026-03-03 09:00+00'),
    ('00000000-0000-0000-0000-0000000000e2', 'Payments slow', '{"service":"payments"}', 'p-2', '2026-03-03 09:01+00');
UPDATE alert_grouping.alerts SET state = 'resolved', resolved_at = '2026-03-03 09:05+00' WHERE dedup_key = 'p-1';
SELECT episode_number, state, alert_count, active_alert_count, all_alerts_resolved_at FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000e2';
UPDATE alert_grouping.alerts SET state = 'resolved', resolved_at = '2026-03-03 09:06+00' WHERE dedup_key = 'p-2';
SELECT episode_number, state, active_alert_count, resolved_at, all_alerts_resolved_at FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000e2';
-- A new alert within the reopen window (but after the grouping window) reopens it.
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000e2', 'Payments 502 again', '{"service":"payments"}', '2026-03-03 09:40+00');
SELECT episode_number, state, alert_count, active_alert_count, reopen_count, resolved_at FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000e2' ORDER BY episode_number;
-- Resolved again, and a new alert after the reopen window starts a new episode.
UPDATE alert_grouping.alerts SET state = 'resolved', resolved_at = '2026-03-03 09:45+00'
 WHERE project_id = '00000000-0000-0000-0000-0000000000e2' AND state <> 'resolved';
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000e2', 'Payments 502 once more', '{"service":"payments"}', '2026-03-03 11:00+00');
SELECT episode_number, state, alert_count, reopen_count FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000e2' ORDER BY episode_number;
SELECT e.episode_number, v.kind, v.detail ->> 'reason' AS reason
  FROM alert_grouping.episode_events v JOIN alert_grouping.episodes e ON e.project_id = v.project_id AND e.id = v.episode_id
 WHERE v.project_id = '00000000-0000-0000-0000-0000000000e2' ORDER BY v.id;

-- With a resolve delay the episode only records when its alerts all resolved (flap protection);
-- a new firing alert clears that mark.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-0000000000e3', 'delay');
INSERT INTO alert_grouping.grouping_rules (project_id, name, episode_config) VALUES
    ('00000000-0000-0000-0000-0000000000e3', 'everything', '{"resolve_delay_minutes": 15}');
INSERT INTO alert_grouping.alerts (project_id, title, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000e3', 'Flappy', 'f-1', '2026-03-03 10:00+00');
UPDATE alert_grouping.alerts SET state = 'resolved', resolved_at = '2026-03-03 10:01+00' WHERE dedup_key = 'f-1';
SELECT state, active_alert_count, all_alerts_resolved_at FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000e3';
INSERT INTO alert_grouping.alerts (project_id, title, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000e3', 'Flappy', 'f-1', '2026-03-03 10:02+00');
SELECT state, alert_count, active_alert_count, all_alerts_resolved_at FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000e3';
