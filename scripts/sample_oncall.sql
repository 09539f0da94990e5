-- On-call for the demo (scripts/demo), after scripts/sample.sql: the Payments team's people,
-- a weekly primary rotation in Berlin with a night layer for the weekend, the database team,
-- and an escalation policy that pages the primary, then the database team and the team
-- lead, then starts again once. Three incidents: one that started 12 minutes ago (levels 1
-- and 2 are due; the background worker catches up on both), one that starts now, and one
-- acknowledged after its first page. The worker (alert_grouping in shared_preload_libraries)
-- does the paging; nothing here calls process_escalations.
CREATE TABLE demo.people (user_id uuid PRIMARY KEY, name text NOT NULL);
INSERT INTO demo.people VALUES
    ('a11ce000-0000-4000-8000-0000000000a1', 'Ana (primary)'),
    ('a11ce000-0000-4000-8000-0000000000a2', 'Ben (primary)'),
    ('a11ce000-0000-4000-8000-0000000000a3', 'Chloe (weekend nights)'),
    ('a11ce000-0000-4000-8000-0000000000a4', 'Dev (database)'),
    ('a11ce000-0000-4000-8000-0000000000a5', 'Eli (database)'),
    ('a11ce000-0000-4000-8000-0000000000a6', 'Fay (team lead)');
INSERT INTO alert_grouping.project_members (project_id, user_id, role)
SELECT 'a11ce000-0000-4000-8000-000000000002', user_id,
       CASE WHEN name LIKE 'Fay%' THEN 'admin' ELSE 'responder' END
  FROM demo.people;
INSERT INTO alert_grouping.teams (project_id, id, name) VALUES
    ('a11ce000-0000-4000-8000-000000000002', 'a11ce000-0000-4000-8000-0000000000d0', 'database');
INSERT INTO alert_grouping.team_members (project_id, team_id, user_id) VALUES
    ('a11ce000-0000-4000-8000-000000000002', 'a11ce000-0000-4000-8000-0000000000d0', 'a11ce000-0000-4000-8000-0000000000a4'),
    ('a11ce000-0000-4000-8000-000000000002', 'a11ce000-0000-4000-8000-0000000000d0', 'a11ce000-0000-4000-8000-0000000000a5');
-- Weekly turns handing off on Mondays at 09:00 Berlin time (the same wall-clock time in
-- summer and winter); Chloe takes Friday and Saturday nights, 22:00 to 07:00.
INSERT INTO alert_grouping.on_call_schedules (project_id, id, name, time_zone, layers) VALUES
    ('a11ce000-0000-4000-8000-000000000002', 'a11ce000-0000-4000-8000-0000000000c0', 'payments primary', 'Europe/Berlin',
     '[{"name": "weekly", "rotation_start": "2026-01-05 09:00", "turn_length_hours": 168,
        "members": ["a11ce000-0000-4000-8000-0000000000a1", "a11ce000-0000-4000-8000-0000000000a2"]},
       {"name": "weekend nights", "rotation_start": "2026-01-05 09:00", "turn_length_hours": 168,
        "members": ["a11ce000-0000-4000-8000-0000000000a3"],
        "restrictions": [{"days": [5, 6], "from": "22:00", "to": "07:00"}]}]');
INSERT INTO alert_grouping.escalation_policies (project_id, id, name, levels, repeat_count) VALUES
    ('a11ce000-0000-4000-8000-000000000002', 'a11ce000-0000-4000-8000-0000000000e0', 'payments standard',
     '[{"delay_minutes": 5, "targets": [{"type": "schedule", "id": "a11ce000-0000-4000-8000-0000000000c0"}]},
       {"delay_minutes": 10, "targets": [{"type": "team", "id": "a11ce000-0000-4000-8000-0000000000d0"},
                                         {"type": "user", "id": "a11ce000-0000-4000-8000-0000000000a6", "channel": "sms"}]}]',
     1);
INSERT INTO alert_grouping.incidents (project_id, title, severity, started_at, escalation_policy_id) VALUES
    ('a11ce000-0000-4000-8000-000000000002', 'Card authorisations failing at the PSP', 'critical',
     now() - interval '12 minutes', 'a11ce000-0000-4000-8000-0000000000e0'),
    ('a11ce000-0000-4000-8000-000000000002', 'Refund queue backing up', 'high',
     now(), 'a11ce000-0000-4000-8000-0000000000e0'),
    ('a11ce000-0000-4000-8000-000000000002', 'Payout report delayed', 'medium',
     now() - interval '3 minutes', 'a11ce000-0000-4000-8000-0000000000e0');
