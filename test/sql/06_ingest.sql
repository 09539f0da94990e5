-- ingest(): PagerDuty Events v2-shaped events.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000021', 'ingest');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000021', 'by source', '{"group_by": ["labels.team"]}');
CREATE TEMP TABLE ids (name text, id uuid);
INSERT INTO ids SELECT 'first', alert_grouping.ingest('00000000-0000-0000-0000-000000000021',
  '{"event_action": "trigger", "dedup_key": "web-1/cpu",
    "payload": {"summary": "CPU high on web-1", "severity": "warning", "source": "web-1",
                "timestamp": "2026-03-05T10:00:00Z", "custom_details": {"cpu": 97}},
    "labels": {"team": "web"}}');
-- The same dedup_key again: the first alert absorbs it and is returned.
INSERT INTO ids SELECT 'again', alert_grouping.ingest('00000000-0000-0000-0000-000000000021',
  '{"dedup_key": "web-1/cpu", "payload": {"summary": "CPU high on web-1", "severity": "critical",
    "timestamp": "2026-03-05T10:01:00Z"}, "labels": {"team": "web"}}');
SELECT (SELECT id FROM ids WHERE name = 'first') = (SELECT id FROM ids WHERE name = 'again') AS same_alert;
SELECT title, severity, source, details, duplicate_count, state, episode_id IS NOT NULL AS grouped
  FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-000000000021';
-- acknowledge and resolve act on the active alert with that dedup_key.
SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021',
  '{"event_action": "acknowledge", "dedup_key": "web-1/cpu"}') = (SELECT id FROM ids WHERE name = 'first') AS acked_same;
SELECT state FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-000000000021';
SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021',
  '{"event_action": "resolve", "dedup_key": "web-1/cpu"}') = (SELECT id FROM ids WHERE name = 'first') AS resolved_same;
SELECT a.state AS alert_state, e.state AS episode_state FROM alert_grouping.alerts a
  JOIN alert_grouping.episodes e ON e.project_id = a.project_id AND e.id = a.episode_id
 WHERE a.project_id = '00000000-0000-0000-0000-000000000021';
-- Nothing active with that key: resolve returns NULL and changes nothing.
SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021',
  '{"event_action": "resolve", "dedup_key": "web-1/cpu"}') IS NULL AS nothing_to_resolve;

-- ingest_batch(): one statement for consecutive triggers, actions applied in sequence.
SELECT b.action, b.alert_id IS NOT NULL AS has_id
  FROM alert_grouping.ingest_batch('00000000-0000-0000-0000-000000000021', '[
    {"dedup_key": "db-1/disk", "payload": {"summary": "Disk 91% on db-1", "severity": "error", "timestamp": "2026-03-05T11:00:00Z"}, "labels": {"team": "db"}},
    {"dedup_key": "db-2/disk", "payload": {"summary": "Disk 95% on db-2", "severity": "error", "timestamp": "2026-03-05T11:00:30Z"}, "labels": {"team": "db"}},
    {"dedup_key": "db-1/disk", "payload": {"summary": "Disk 92% on db-1", "severity": "error", "timestamp": "2026-03-05T11:01:00Z"}, "labels": {"team": "db"}},
    {"event_action": "resolve", "dedup_key": "db-2/disk"},
    {"dedup_key": "db-2/disk", "payload": {"summary": "Disk 96% on db-2", "severity": "critical", "timestamp": "2026-03-05T11:02:00Z"}, "labels": {"team": "db"}}
  ]') AS b;
SELECT dedup_key, title, severity, duplicate_count, state FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000021' AND dedup_key LIKE 'db-%' ORDER BY created_at;
SELECT group_key, alert_count, active_alert_count, state FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-000000000021' ORDER BY started_at;

-- Bad input: a clear error naming the field, SQLSTATE 22023, and nothing is written.
SELECT count(*) AS alerts_before FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-000000000021';
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021', '{"payload": {}}')$$);
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021', '{"payload": {"summary": "x", "severity": "urgent"}}')$$);
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021', '{"event_action": "snooze", "dedup_key": "a"}')$$);
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021', '{"event_action": "resolve"}')$$);
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021', '{"payload": {"summary": "x"}, "monitor_id": "not-a-uuid"}')$$);
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021', '{"payload": {"summary": "x"}, "labels": ["a"]}')$$);
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021', '{"payload": {"summary": "x", "timestamp": "yesterday-ish"}}')$$);
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021', '{"payload": {"summary": "x"}, "dedup_key": ""}')$$);
SELECT public.try($$SELECT alert_grouping.ingest(NULL, '{"payload": {"summary": "x"}}')$$);
SELECT public.try($$SELECT * FROM alert_grouping.ingest_batch('00000000-0000-0000-0000-000000000021', '{"not": "an array"}')$$);
SELECT public.try($$SELECT * FROM alert_grouping.ingest_batch('00000000-0000-0000-0000-000000000021',
    '[{"payload": {"summary": "fine"}}, {"payload": {"summary": "bad", "severity": "sev1"}}]')$$);
SELECT public.try($$SELECT * FROM alert_grouping.ingest_batch('00000000-0000-0000-0000-000000000021',
    '[{"payload": {"summary": "fine"}}, 42]')$$);
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-0000000000ff', '{"payload": {"summary": "x"}}')$$) AS unknown_project;
SELECT count(*) AS alerts_after FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-000000000021';
-- Replays: acknowledge and resolve take payload.timestamp too, so durations and the reopen
-- window follow the events, not the time of the replay.
INSERT INTO alert_grouping.grouping_rules (project_id, name, priority, match_criteria, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000021', 'replay', 1, '{"labels": ["team=\"replay\""]}',
     '{"group_by": ["labels.team"]}', '{"reopen_window_minutes": 60}');
SELECT b.action FROM alert_grouping.ingest_batch('00000000-0000-0000-0000-000000000021', '[
    {"dedup_key": "r-1", "payload": {"summary": "Replayed", "timestamp": "2024-05-01T10:00:00Z"}, "labels": {"team": "replay"}},
    {"event_action": "resolve", "dedup_key": "r-1", "payload": {"timestamp": "2024-05-01T10:02:00Z"}},
    {"dedup_key": "r-1", "payload": {"summary": "Replayed", "timestamp": "2024-05-01T10:05:00Z"}, "labels": {"team": "replay"}}
  ]') AS b;
SELECT created_at, state, resolved_at FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000021' AND dedup_key = 'r-1' ORDER BY created_at;
SELECT episode_number, alert_count, reopen_count, state FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-000000000021' AND group_key = 'labels.team:replay';
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000021',
    '{"event_action": "resolve", "dedup_key": "r-1", "payload": {"timestamp": "soon"}}')$$) AS bad_action_time;
