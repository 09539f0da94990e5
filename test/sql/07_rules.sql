-- Rules are validated when written (SQLSTATE 22023, message names the key) and the cached
-- compiled rules follow every change.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000031', 'rules');
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, match_criteria) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"label": ["a=\"b\""]}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, match_criteria) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"labels": ["env=prod\""]}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, match_criteria) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"labels": ["env=\"prod\"", "host=~\"web-(\""]}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, match_criteria) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"title_pattern": "(unclosed"}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, match_criteria) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"min_severity": "sev1"}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"time_window_minutes": "60"}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"time_window_minutes": 0}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"type": "smart", "similarity_threshold": 1.5}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"group_by": ["hostname"]}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"title_template": "{{host}} is down"}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '{"owner_user_ids": ["nope"]}')$$);
SELECT public.try($$INSERT INTO alert_grouping.grouping_rules (project_id, name, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'bad', '[]')$$);
SELECT public.try($$SELECT alert_grouping.validate_rule('{}', '{"type": "fuzzy"}', '{}')$$);
SELECT public.try($$SELECT alert_grouping.validate_rule('{"labels": ["env=\"prod\""]}', '{"group_by": ["labels.service"]}', '{"reopen_window_minutes": 30}')$$);
SELECT count(*) AS rules_written FROM alert_grouping.grouping_rules WHERE project_id = '00000000-0000-0000-0000-000000000031';

-- Regexes run through RE2: a pattern that backtracks exponentially elsewhere is linear here.
INSERT INTO alert_grouping.grouping_rules (project_id, name, priority, match_criteria, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'nasty regex', 5, '{"title_pattern": "^(a+)+$"}', '{"group_by": ["title"]}');
INSERT INTO alert_grouping.alerts (project_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-000000000031', repeat('a', 5000) || 'b', '2026-03-06 08:00+00');
SELECT episode_id IS NULL AS not_matched FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-000000000031';

-- Matchers: anchored regexes, != and !~, a missing label equals "".
INSERT INTO alert_grouping.grouping_rules (project_id, name, priority, match_criteria, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'prod web', 10,
     '{"labels": ["env=~\"prod\"", "host!~\"db-.*\"", "team!=\"\""], "severities": ["high", "critical"]}',
     '{"group_by": ["labels.team"]}');
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000031', 'm1', 'high', '{"env":"prod","host":"web-1","team":"web"}', '2026-03-06 09:00+00'),
    ('00000000-0000-0000-0000-000000000031', 'm2', 'high', '{"env":"production","host":"web-1","team":"web"}', '2026-03-06 09:00+00'),
    ('00000000-0000-0000-0000-000000000031', 'm3', 'high', '{"env":"prod","host":"db-1","team":"web"}', '2026-03-06 09:00+00'),
    ('00000000-0000-0000-0000-000000000031', 'm4', 'high', '{"env":"prod","host":"web-2"}', '2026-03-06 09:00+00'),
    ('00000000-0000-0000-0000-000000000031', 'm5', 'medium', '{"env":"prod","host":"web-3","team":"web"}', '2026-03-06 09:00+00'),
    ('00000000-0000-0000-0000-000000000031', 'm6', 'critical', '{"env":"prod","team":"web"}', '2026-03-06 09:00+00');
SELECT title, episode_id IS NOT NULL AS grouped FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000031' AND title LIKE 'm_' ORDER BY title;

-- The compiled-rule cache follows changes in the same session and transaction.
UPDATE alert_grouping.grouping_rules SET match_criteria = '{"labels": ["env=\"production\""]}'
 WHERE name = 'prod web';
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000031', 'm7', 'high', '{"env":"production","team":"web"}', '2026-03-06 09:01+00');
BEGIN;
UPDATE alert_grouping.grouping_rules SET enabled = false WHERE name = 'prod web';
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000031', 'm8', 'high', '{"env":"production","team":"web"}', '2026-03-06 09:02+00');
ROLLBACK;
INSERT INTO alert_grouping.alerts (project_id, title, severity, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000031', 'm9', 'high', '{"env":"production","team":"web"}', '2026-03-06 09:03+00');
SELECT title, episode_id IS NOT NULL AS grouped FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000031' AND title IN ('m7', 'm8', 'm9') ORDER BY title;

-- Deleting a rule keeps its episodes, detached from the rule.
DELETE FROM alert_grouping.grouping_rules WHERE name = 'prod web';
SELECT count(*) AS episodes, count(rule_id) AS with_rule FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-000000000031';

-- Matchers as Alertmanager and amtool write them: unquoted values, the empty value, and an
-- operator followed by the value's own "~".
INSERT INTO alert_grouping.grouping_rules (project_id, name, priority, match_criteria, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000031', 'alertmanager style', 1,
     '{"labels": ["env=staging", "team=~ops|sre", "region!=eu", "canary=", "tricky=~~~"]}', '{"group_by": ["labels.team"]}');
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000031', 'am1', '{"env":"staging","team":"sre","tricky":"~~"}', '2026-03-06 10:00+00'),
    ('00000000-0000-0000-0000-000000000031', 'am2', '{"env":"staging","team":"sre","tricky":"~"}', '2026-03-06 10:01+00'),
    ('00000000-0000-0000-0000-000000000031', 'am3', '{"env":"staging","team":"sre","tricky":"~~","canary":"yes"}', '2026-03-06 10:02+00');
SELECT a.title, r.name AS rule FROM alert_grouping.alerts a LEFT JOIN alert_grouping.grouping_rules r ON r.project_id = a.project_id AND r.id = a.rule_id
 WHERE a.project_id = '00000000-0000-0000-0000-000000000031' AND a.title LIKE 'am%' ORDER BY a.title;
