-- Feature flags: project override > rollout percentage (stable hash) > global value.
INSERT INTO alert_grouping.projects (id, name) VALUES
    ('00000000-0000-0000-0000-000000000051', 'flags a'),
    ('00000000-0000-0000-0000-000000000052', 'flags b');
SELECT alert_grouping.flag_enabled('grouping', '00000000-0000-0000-0000-000000000051') AS grouping_default,
       alert_grouping.flag_enabled('new_ui', '00000000-0000-0000-0000-000000000051') AS unknown_flag;
INSERT INTO alert_grouping.feature_flags (flag, enabled) VALUES ('new_ui', true);
SELECT alert_grouping.flag_enabled('new_ui', '00000000-0000-0000-0000-000000000051') AS global_on;
INSERT INTO alert_grouping.project_flag_overrides (project_id, flag, enabled) VALUES
    ('00000000-0000-0000-0000-000000000051', 'new_ui', false);
SELECT alert_grouping.flag_enabled('new_ui', '00000000-0000-0000-0000-000000000051') AS overridden_off,
       alert_grouping.flag_enabled('new_ui', '00000000-0000-0000-0000-000000000052') AS other_project_global;
-- Rollout: a stable bucket per (flag, project); 0% is nobody, 100% everybody.
SELECT alert_grouping.rollout_bucket('new_ui', '00000000-0000-0000-0000-000000000052')
     = alert_grouping.rollout_bucket('new_ui', '00000000-0000-0000-0000-000000000052') AS stable,
       alert_grouping.rollout_bucket('new_ui', '00000000-0000-0000-0000-000000000052') BETWEEN 0 AND 99 AS in_range;
UPDATE alert_grouping.feature_flags SET rollout_percent = 0 WHERE flag = 'new_ui';
SELECT alert_grouping.flag_enabled('new_ui', '00000000-0000-0000-0000-000000000052') AS rollout_0;
UPDATE alert_grouping.feature_flags SET rollout_percent = 100 WHERE flag = 'new_ui';
SELECT alert_grouping.flag_enabled('new_ui', '00000000-0000-0000-0000-000000000052') AS rollout_100;
-- About half of many projects fall in a 50% rollout.
UPDATE alert_grouping.feature_flags SET rollout_percent = 50 WHERE flag = 'new_ui';
SELECT count(*) FILTER (WHERE alert_grouping.rollout_bucket('new_ui', gen_random_uuid()) < 50) BETWEEN 400 AND 600 AS about_half
  FROM generate_series(1, 1000);
-- flag_enabled computes the bucket inline (it may call nothing internal): the same bucket.
SELECT count(*) AS bucket_disagreements FROM (SELECT gen_random_uuid() AS p FROM generate_series(1, 1000)) AS r
 WHERE alert_grouping.flag_enabled('new_ui', r.p) <> (alert_grouping.rollout_bucket('new_ui', r.p) < 50);

-- The grouping flag gates the pipeline per project; alerts are still stored.
INSERT INTO alert_grouping.grouping_rules (project_id, name) VALUES
    ('00000000-0000-0000-0000-000000000051', 'all'), ('00000000-0000-0000-0000-000000000052', 'all');
INSERT INTO alert_grouping.project_flag_overrides (project_id, flag, enabled) VALUES
    ('00000000-0000-0000-0000-000000000051', 'grouping', false);
INSERT INTO alert_grouping.alerts (project_id, title, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-000000000051', 'A', 'k', '2026-03-08 10:00+00'),
    ('00000000-0000-0000-0000-000000000051', 'A', 'k', '2026-03-08 10:01+00'),
    ('00000000-0000-0000-0000-000000000052', 'B', 'k', '2026-03-08 10:00+00'),
    ('00000000-0000-0000-0000-000000000052', 'B', 'k', '2026-03-08 10:01+00');
SELECT p.name, count(*) AS stored, count(a.episode_id) AS grouped, sum(a.duplicate_count) AS duplicates
  FROM alert_grouping.alerts a JOIN alert_grouping.projects p ON p.id = a.project_id
 WHERE p.name LIKE 'flags%' GROUP BY 1 ORDER BY 1;
-- projects.grouping_enabled = false does the same.
UPDATE alert_grouping.projects SET grouping_enabled = false WHERE name = 'flags b';
INSERT INTO alert_grouping.alerts (project_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-000000000052', 'C', '2026-03-08 10:02+00');
SELECT title, episode_id IS NOT NULL AS grouped FROM alert_grouping.alerts WHERE title = 'C';
UPDATE alert_grouping.projects SET grouping_enabled = true WHERE name = 'flags b';
-- The server-wide kill switch: alerts are stored, not deduplicated, not grouped. (Set for
-- one transaction here: on Citus, SET LOCAL travels to the workers with the transaction.)
BEGIN;
SET LOCAL alert_grouping.enabled = off;
INSERT INTO alert_grouping.alerts (project_id, title, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-000000000052', 'B', 'k', '2026-03-08 10:03+00');
COMMIT;
SELECT count(*) AS stored, count(episode_id) AS grouped FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000052' AND dedup_key = 'k';

-- An alert the engine cannot group is still stored, and the failure is counted.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000061', 'engine errors');
INSERT INTO alert_grouping.grouping_rules (project_id, name) VALUES ('00000000-0000-0000-0000-000000000061', 'all');
-- Simulate a failure while the engine decides (here its read of the project's rules fails:
-- a column it reads is renamed away): the alerts are stored ungrouped and the failure is
-- recorded.
ALTER TABLE alert_grouping.grouping_rules RENAME COLUMN priority TO priority_saved;
-- (The WARNING it raises names generated ids; the recorded error is checked below.)
SET client_min_messages = error;
INSERT INTO alert_grouping.alerts (project_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-000000000061', 'poison', '2026-03-08 11:00+00'),
    ('00000000-0000-0000-0000-000000000061', 'fine', '2026-03-08 11:00+00');
RESET client_min_messages;
ALTER TABLE alert_grouping.grouping_rules RENAME COLUMN priority_saved TO priority;
SELECT title, episode_id IS NULL AS ungrouped FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000061' ORDER BY title;
SELECT cardinality(alert_ids) AS alerts, sqlstate, message FROM alert_grouping.engine_errors
 WHERE project_id = '00000000-0000-0000-0000-000000000061';
-- The decided writes run in the statement itself (no subtransaction, so no transaction id of
-- their own): if the database refuses one, the insert fails as a whole and the client sees it.
ALTER TABLE alert_grouping.episodes ADD CONSTRAINT test_refuse CHECK (title <> 'refused');
SELECT public.try($$INSERT INTO alert_grouping.alerts (project_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-000000000061', 'refused', '2026-03-08 11:30+00')$$) AS refused;
ALTER TABLE alert_grouping.episodes DROP CONSTRAINT test_refuse;
SELECT count(*) AS refused_stored FROM alert_grouping.alerts WHERE title = 'refused';
-- The next insert groups normally again.
INSERT INTO alert_grouping.alerts (project_id, title, created_at) VALUES
    ('00000000-0000-0000-0000-000000000061', 'later', '2026-03-08 11:05+00');
SELECT title, episode_id IS NOT NULL AS grouped FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000061' AND title = 'later';
