-- Escalation policies: level timing, rounds, late passes catching up, acknowledgement and
-- resolution stopping it, user/team/schedule targets, incidents opened by hand, by rules and
-- by monitors, the timeline of every step, and what happens when targets or policies go away.
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000141', 'escalation');
INSERT INTO alert_grouping.project_members (project_id, user_id, role)
SELECT '00000000-0000-0000-0000-000000000141', u, r
  FROM (VALUES ('00000000-0000-0000-0000-0000000014a1'::uuid, 'responder'), ('00000000-0000-0000-0000-0000000014b2', 'responder'),
               ('00000000-0000-0000-0000-0000000014c3', 'responder'), ('00000000-0000-0000-0000-0000000014d4', 'admin')) AS v(u, r);
CREATE FUNCTION public.who(u uuid) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE u WHEN '00000000-0000-0000-0000-0000000014a1' THEN 'ann' WHEN '00000000-0000-0000-0000-0000000014b2' THEN 'bob'
                  WHEN '00000000-0000-0000-0000-0000000014c3' THEN 'cid' WHEN '00000000-0000-0000-0000-0000000014d4' THEN 'dee'
                  ELSE u::text END
$$;
INSERT INTO alert_grouping.teams (project_id, id, name) VALUES
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-0000000014e1', 'database');
INSERT INTO alert_grouping.team_members (project_id, team_id, user_id) VALUES
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-0000000014e1', '00000000-0000-0000-0000-0000000014c3'),
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-0000000014e1', '00000000-0000-0000-0000-0000000014d4');
-- Weekly turns from Monday 2026-11-02 09:00 Berlin: ann, then bob from 2026-11-09.
INSERT INTO alert_grouping.on_call_schedules (project_id, id, name, time_zone, layers) VALUES
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-0000000014f1', 'primary', 'Europe/Berlin',
     '[{"rotation_start": "2026-11-02 09:00", "turn_length_hours": 168,
        "members": ["00000000-0000-0000-0000-0000000014a1", "00000000-0000-0000-0000-0000000014b2"]}]'),
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-0000000014f2', 'not started', 'UTC',
     '[{"rotation_start": "2027-01-01 00:00", "turn_length_hours": 24,
        "members": ["00000000-0000-0000-0000-0000000014a1"]}]');
-- standard: the schedule; 5 minutes later the database team and ann; 10 minutes later it
-- starts again, once more (two rounds).
INSERT INTO alert_grouping.escalation_policies (project_id, id, name, levels, repeat_count) VALUES
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-000000014001', 'standard',
     '[{"delay_minutes": 5, "targets": [{"type": "schedule", "id": "00000000-0000-0000-0000-0000000014f1"}]},
       {"delay_minutes": 10, "targets": [{"type": "team", "id": "00000000-0000-0000-0000-0000000014e1"},
                                         {"type": "user", "id": "00000000-0000-0000-0000-0000000014a1", "channel": "sms"}]}]', 1),
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-000000014002', 'bob only',
     '[{"delay_minutes": 15, "targets": [{"type": "user", "id": "00000000-0000-0000-0000-0000000014b2"}]}]', 0),
    -- dee is in the team and named too: one page, for the first target that reached her.
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-000000014003', 'overlapping',
     '[{"delay_minutes": 0, "targets": [{"type": "team", "id": "00000000-0000-0000-0000-0000000014e1"},
                                        {"type": "user", "id": "00000000-0000-0000-0000-0000000014d4"},
                                        {"type": "schedule", "id": "00000000-0000-0000-0000-0000000014f2"}]}]', 0);

CREATE FUNCTION public.names(message text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(replace(replace(replace(message, '00000000-0000-0000-0000-0000000014a1', 'ann'),
        '00000000-0000-0000-0000-0000000014b2', 'bob'), '00000000-0000-0000-0000-0000000014c3', 'cid'),
        '00000000-0000-0000-0000-0000000014d4', 'dee')
$$;
CREATE VIEW public.esc AS
SELECT i.incident_number AS n, i.title, i.status, i.escalation_level AS level, i.escalation_round AS round,
       i.next_escalation_at
  FROM alert_grouping.incidents i WHERE i.project_id = '00000000-0000-0000-0000-000000000141'
 ORDER BY i.incident_number;
CREATE VIEW public.pages AS
SELECT i.incident_number AS n, p.level, p.round, public.who(p.user_id) AS who, p.channel, p.reason, p.due_at
  FROM alert_grouping.notifications p
  JOIN alert_grouping.incidents i ON i.project_id = p.project_id AND i.id = p.incident_id
 WHERE p.project_id = '00000000-0000-0000-0000-000000000141'
 ORDER BY i.incident_number, p.round, p.level, who;

-- An incident opened by hand with a policy is due when it starts.
INSERT INTO alert_grouping.incidents (project_id, title, started_at, escalation_policy_id) VALUES
    ('00000000-0000-0000-0000-000000000141', 'database down', '2026-11-10 10:00', '00000000-0000-0000-0000-000000014001');
SELECT * FROM public.esc;
-- Level 1 at the start, level 2 five minutes later, round 2 ten minutes after that.
SELECT t, alert_grouping.process_escalations(t) AS notified
  FROM unnest(ARRAY['2026-11-10 09:59', '2026-11-10 10:00', '2026-11-10 10:04:59', '2026-11-10 10:05',
                    '2026-11-10 10:05', '2026-11-10 10:14', '2026-11-10 10:15']::timestamptz[]) AS t;
SELECT * FROM public.esc;
-- The last level of the last round waited for, nothing is due any more.
SELECT alert_grouping.process_escalations('2026-11-10 12:00') AS notified;
SELECT * FROM public.esc;
SELECT * FROM public.pages;
-- Every step in the timeline: who was paged, and why.
SELECT u.at, u.kind, public.names(u.message) AS message
  FROM alert_grouping.incident_updates u JOIN alert_grouping.incidents i ON i.project_id = u.project_id AND i.id = u.incident_id
 WHERE i.incident_number = 1 AND i.project_id = '00000000-0000-0000-0000-000000000141'
 ORDER BY u.at, u.kind <> 'opened', u.id;

-- A late pass catches up on every step that became due, in one go.
INSERT INTO alert_grouping.incidents (project_id, title, started_at, escalation_policy_id) VALUES
    ('00000000-0000-0000-0000-000000000141', 'queue stuck', '2026-11-10 09:00', '00000000-0000-0000-0000-000000014001');
SELECT alert_grouping.process_escalations('2026-11-10 09:17') AS notified;
SELECT * FROM public.esc WHERE n = 2;
SELECT * FROM public.pages WHERE n = 2;

-- Acknowledging stops the escalation; so does resolving.
INSERT INTO alert_grouping.incidents (project_id, title, started_at, escalation_policy_id) VALUES
    ('00000000-0000-0000-0000-000000000141', 'disk full', '2026-11-10 11:00', '00000000-0000-0000-0000-000000014001'),
    ('00000000-0000-0000-0000-000000000141', 'cert expiring', '2026-11-10 11:00', '00000000-0000-0000-0000-000000014001');
SELECT alert_grouping.process_escalations('2026-11-10 11:00') AS notified;
SELECT (alert_grouping.acknowledge_incident('00000000-0000-0000-0000-000000000141', id)).status
  FROM alert_grouping.incidents WHERE title = 'disk full';
SELECT (alert_grouping.resolve_incident('00000000-0000-0000-0000-000000000141', id)).status
  FROM alert_grouping.incidents WHERE title = 'cert expiring';
SELECT alert_grouping.process_escalations('2026-11-10 13:00') AS notified;
SELECT * FROM public.esc WHERE n IN (3, 4);
SELECT n, count(*) AS pages FROM public.pages WHERE n IN (3, 4) GROUP BY n ORDER BY n;
-- An incident opened acknowledged or without a policy never escalates.
INSERT INTO alert_grouping.incidents (project_id, title, status, started_at, escalation_policy_id) VALUES
    ('00000000-0000-0000-0000-000000000141', 'known issue', 'investigating', '2026-11-10 11:00', '00000000-0000-0000-0000-000000014001'),
    ('00000000-0000-0000-0000-000000000141', 'no policy', 'open', '2026-11-10 11:00', NULL);
SELECT * FROM public.esc WHERE n IN (5, 6);

-- One page per person and step: dee is in the team and named; a schedule with nobody on call
-- pages nobody, and the timeline says so.
INSERT INTO alert_grouping.incidents (project_id, title, started_at, escalation_policy_id) VALUES
    ('00000000-0000-0000-0000-000000000141', 'replica lag', '2026-11-10 11:00', '00000000-0000-0000-0000-000000014003');
SELECT alert_grouping.process_escalations('2026-11-10 11:00') AS notified;
SELECT * FROM public.pages WHERE n = 7;
SELECT public.names(u.message) AS message
  FROM alert_grouping.incident_updates u JOIN alert_grouping.incidents i ON i.project_id = u.project_id AND i.id = u.incident_id
 WHERE i.incident_number = 7 AND u.kind = 'escalated';

-- Incidents opened by a rule (its escalation_policy_id) and by a monitor escalate too.
INSERT INTO alert_grouping.grouping_rules (project_id, name, priority, match_criteria, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000141', 'paging', 10, '{"labels": ["team=\"db\""]}', '{"group_by": ["labels.service"]}',
     '{"create_incident": true, "escalation_policy_id": "00000000-0000-0000-0000-000000014002"}');
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000141', 'primary unreachable', 'critical', '{"team":"db","service":"pg"}', '2026-11-10 14:00');
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures, auto_create_incident, escalation_policy_id) VALUES
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-0000000014aa', 'api health', 1, true,
     '00000000-0000-0000-0000-000000014002');
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok, message) VALUES
    ('00000000-0000-0000-0000-000000000141', '00000000-0000-0000-0000-0000000014aa', '2026-11-10 14:02', false, 'HTTP 503');
SELECT e.*, (SELECT i.source FROM alert_grouping.incidents i
               WHERE i.project_id = '00000000-0000-0000-0000-000000000141' AND i.incident_number = e.n) AS source
  FROM public.esc e WHERE e.n >= 8;
SELECT alert_grouping.process_escalations('2026-11-10 14:05') AS notified;
SELECT * FROM public.pages WHERE n >= 8;

-- run_maintenance runs the escalations (after its resolves); the same "at" again does nothing.
INSERT INTO alert_grouping.incidents (project_id, title, started_at, escalation_policy_id) VALUES
    ('00000000-0000-0000-0000-000000000141', 'cache cold', '2026-11-10 15:00', '00000000-0000-0000-0000-000000014002');
SELECT alert_grouping.run_maintenance('2026-11-10 15:00') ->> 'notifications' AS notified;
SELECT alert_grouping.run_maintenance('2026-11-10 15:00') ->> 'notifications' AS notified;

-- Targets that went away: cid left the project (and so the team); the team's other member is
-- still paged. A policy that no longer exists stops the escalation, and the timeline says so.
INSERT INTO alert_grouping.incidents (project_id, title, started_at, escalation_policy_id) VALUES
    ('00000000-0000-0000-0000-000000000141', 'slow queries', '2026-11-10 16:00', '00000000-0000-0000-0000-000000014003'),
    ('00000000-0000-0000-0000-000000000141', 'orphaned', '2026-11-10 16:00', '00000000-0000-0000-0000-000000014002');
DELETE FROM alert_grouping.project_members
 WHERE project_id = '00000000-0000-0000-0000-000000000141' AND user_id = '00000000-0000-0000-0000-0000000014c3';
DELETE FROM alert_grouping.escalation_policies
 WHERE project_id = '00000000-0000-0000-0000-000000000141' AND id = '00000000-0000-0000-0000-000000014002';
SELECT alert_grouping.process_escalations('2026-11-10 16:00') AS notified;
SELECT * FROM public.pages WHERE n >= 11;
SELECT * FROM public.esc WHERE n >= 11;
SELECT i.incident_number AS n, u.kind, u.message FROM alert_grouping.incident_updates u
  JOIN alert_grouping.incidents i ON i.project_id = u.project_id AND i.id = u.incident_id
 WHERE i.incident_number = 12 AND i.project_id = '00000000-0000-0000-0000-000000000141' AND u.kind <> 'opened';

-- A policy given to an open incident later starts it from level 1, now; taking it away stops it.
UPDATE alert_grouping.incidents SET escalation_policy_id = '00000000-0000-0000-0000-000000014001'
 WHERE project_id = '00000000-0000-0000-0000-000000000141' AND title = 'no policy';
SELECT level, round, next_escalation_at IS NOT NULL AS due, next_escalation_at <= now() AS due_now
  FROM public.esc WHERE title = 'no policy';
UPDATE alert_grouping.incidents SET escalation_policy_id = NULL
 WHERE project_id = '00000000-0000-0000-0000-000000000141' AND title = 'no policy';
SELECT level, round, next_escalation_at FROM public.esc WHERE title = 'no policy';

-- No notification twice: the unique key holds even against a hand-made copy.
\set VERBOSITY terse
INSERT INTO alert_grouping.notifications (project_id, incident_id, user_id, level, round, reason, due_at)
SELECT project_id, incident_id, user_id, level, round, reason, due_at FROM alert_grouping.notifications
 WHERE project_id = '00000000-0000-0000-0000-000000000141' LIMIT 1;
\set VERBOSITY default
SELECT count(*) AS notifications, count(DISTINCT (incident_id, level, round, user_id)) AS distinct_steps
  FROM alert_grouping.notifications WHERE project_id = '00000000-0000-0000-0000-000000000141';

-- The worker's pass keeps its run history: a pass that acted is written, rows older than the
-- history's days are pruned, a failure is recorded with its backoff.
INSERT INTO alert_grouping.worker_runs (started_at, ok, result) VALUES
    (now() - interval '91 days', true, '{}'), (now() - interval '89 days', true, '{}');
SELECT alert_grouping.worker_pass(now(), 90) ? 'notifications' AS passed;
SELECT count(*) FILTER (WHERE started_at < now() - interval '90 days') AS older_than_90_days,
       count(*) FILTER (WHERE started_at < now() - interval '1 day') AS kept
  FROM alert_grouping.worker_runs;
SELECT alert_grouping.record_worker_failure(now(), '57014', 'canceling statement due to user request', 3, '8 seconds');
SELECT ok, sqlstate, error, consecutive_failures, retry_after FROM alert_grouping.worker_runs WHERE NOT ok;
DELETE FROM alert_grouping.worker_runs;

DROP VIEW public.esc, public.pages;
DROP FUNCTION public.who(uuid), public.names(text);
