-- 0.3: an alert row is written once, with its episode already decided. pg_stat_xact_*
-- counts row writes not yet reported (this transaction's and earlier ones'), so each check
-- takes the difference over one transaction.
INSERT INTO alert_grouping.projects (id, name, default_time_window)
VALUES ('00000000-0000-0000-0000-0000000000f1', 'one write', '30 minutes');
INSERT INTO alert_grouping.grouping_rules (project_id, id, name, priority, match_criteria, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-00000000ff01', 'by service', 10,
     '{"labels": ["env=\"prod\""]}', '{"group_by": ["labels.service"], "time_window_minutes": 60}',
     '{"title_template": "{{labels.service}} ({{alert_count}} alerts)"}'),
    ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-00000000ff02', 'similar', 20,
     '{"labels": ["env=\"staging\""]}',
     '{"type": "smart", "group_by": ["labels.service"], "similarity_threshold": 0.5}', '{}');

CREATE TEMP TABLE write_base (ins bigint, upd bigint, del bigint);
CREATE FUNCTION pg_temp.count_writes() RETURNS void LANGUAGE sql AS $$
    DELETE FROM write_base;
    INSERT INTO write_base SELECT n_tup_ins, n_tup_upd, n_tup_del
      FROM pg_catalog.pg_stat_xact_user_tables WHERE relid = 'alert_grouping.alerts'::regclass;
$$;
CREATE FUNCTION pg_temp.alert_writes() RETURNS TABLE (inserted bigint, updated bigint, deleted bigint)
LANGUAGE sql AS $$
    SELECT s.n_tup_ins - b.ins, s.n_tup_upd - b.upd, s.n_tup_del - b.del
      FROM pg_catalog.pg_stat_xact_user_tables AS s, write_base AS b
     WHERE s.relid = 'alert_grouping.alerts'::regclass
$$;

-- A single-row INSERT: stored with its episode and membership, no second write; RETURNING
-- sees the stored row.
BEGIN;
SELECT pg_temp.count_writes();
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at)
VALUES ('00000000-0000-0000-0000-0000000000f1', 'api down', '{"env":"prod","service":"api"}', '2026-05-01 10:00+00')
RETURNING title, episode_id IS NOT NULL AS grouped, added_by, rule_id, similarity_score;
SELECT * FROM pg_temp.alert_writes();
COMMIT;
BEGIN;
SELECT pg_temp.count_writes();
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at)
VALUES ('00000000-0000-0000-0000-0000000000f1', 'api slow', '{"env":"prod","service":"api"}', '2026-05-01 10:05+00');
SELECT * FROM pg_temp.alert_writes();
COMMIT;
SELECT e.title, e.alert_count, m.n AS members
  FROM alert_grouping.episodes e,
       LATERAL (SELECT count(*) AS n FROM alert_grouping.episode_members m
                 WHERE m.project_id = e.project_id AND m.episode_id = e.id) AS m
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000f1';

-- A single-row duplicate: the command tag and RETURNING are what the client inserted; the
-- row is absorbed by its holder and removed (its only writes: the insert and the delete).
BEGIN;
SELECT pg_temp.count_writes();
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at)
VALUES ('00000000-0000-0000-0000-0000000000f1', 'api down', '{"env":"prod","service":"api"}', '2026-05-01 10:06+00')
RETURNING title, episode_id IS NULL AS not_a_member;
SELECT * FROM pg_temp.alert_writes();
COMMIT;
SELECT title, duplicate_count FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-0000000000f1' AND title = 'api down';

-- A multi-row INSERT: rows whose rule and key this session placed before are stored with that
-- episode; only the others (a new key, a smart rule's key not seen yet) are written again.
BEGIN;
SELECT pg_temp.count_writes();
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'api 500s', '{"env":"prod","service":"api"}', '2026-05-01 10:10+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'api 502s', '{"env":"prod","service":"api"}', '2026-05-01 10:11+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'db down', '{"env":"prod","service":"db"}', '2026-05-01 10:12+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'cache miss rate high', '{"env":"staging","service":"cache"}', '2026-05-01 10:13+00');
SELECT * FROM pg_temp.alert_writes();
COMMIT;
-- The next statement guesses the db episode too, and the smart rule's placement (its planner
-- run against the cache episode as the last statement left it, score included): no row is
-- written twice.
BEGIN;
SELECT pg_temp.count_writes();
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'db slow', '{"env":"prod","service":"db"}', '2026-05-01 10:20+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'api 503s', '{"env":"prod","service":"api"}', '2026-05-01 10:21+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'cache miss rate higher', '{"env":"staging","service":"cache"}', '2026-05-01 10:22+00');
SELECT * FROM pg_temp.alert_writes();
COMMIT;
SELECT e.group_key, e.title, e.alert_count, m.n AS members, m.scored
  FROM alert_grouping.episodes e,
       LATERAL (SELECT count(*) AS n, count(m.similarity_score) AS scored
                  FROM alert_grouping.episode_members m
                 WHERE m.project_id = e.project_id AND m.episode_id = e.id) AS m
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000f1' ORDER BY e.episode_number;

-- A guess that no longer holds is corrected: the api episode is resolved by hand, so the
-- next api alert opens a new episode (its row is written again), and is counted there only.
SELECT (alert_grouping.resolve_episode(e.project_id, e.id)).state
  FROM alert_grouping.episodes e
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000f1' AND e.group_key = 'labels.service:api';
BEGIN;
SELECT pg_temp.count_writes();
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'api down again', '{"env":"prod","service":"api"}', '2026-05-01 10:30+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'db slower', '{"env":"prod","service":"db"}', '2026-05-01 10:31+00');
SELECT * FROM pg_temp.alert_writes();
COMMIT;
SELECT e.episode_number, e.group_key, e.state, e.alert_count,
       (SELECT count(*) FROM alert_grouping.episode_members m
         WHERE m.project_id = e.project_id AND m.episode_id = e.id) AS members
  FROM alert_grouping.episodes e
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000f1' ORDER BY e.episode_number;

-- Deleting an episode makes every backend forget guesses of it: the next statement does not
-- point a row at the deleted episode (which the foreign key would refuse).
DELETE FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-0000000000f1' AND group_key = 'labels.service:db';
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'db gone', '{"env":"prod","service":"db"}', '2026-05-01 10:40+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'db still gone', '{"env":"prod","service":"db"}', '2026-05-01 10:41+00');
SELECT e.group_key, e.alert_count FROM alert_grouping.episodes e
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000f1' AND e.group_key = 'labels.service:db';

-- A rolled-back statement's new episode is never guessed afterwards.
BEGIN;
SELECT pg_temp.count_writes();
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'queue stuck', '{"env":"prod","service":"queue"}', '2026-05-01 10:50+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'queue stuck 2', '{"env":"prod","service":"queue"}', '2026-05-01 10:50+00');
ROLLBACK;
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'queue stuck', '{"env":"prod","service":"queue"}', '2026-05-01 10:51+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'queue stuck 2', '{"env":"prod","service":"queue"}', '2026-05-01 10:51+00');
SELECT e.group_key, e.alert_count FROM alert_grouping.episodes e
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000f1' AND e.group_key = 'labels.service:queue';

-- COPY counts what the client sent; the rows are grouped.
COPY alert_grouping.alerts (project_id, title, labels, created_at) FROM STDIN;
00000000-0000-0000-0000-0000000000f1	queue slow	{"env":"prod","service":"queue"}	2026-05-01 10:52+00
00000000-0000-0000-0000-0000000000f1	queue slower	{"env":"prod","service":"queue"}	2026-05-01 10:53+00
\.
SELECT e.group_key, e.alert_count FROM alert_grouping.episodes e
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000f1' AND e.group_key = 'labels.service:queue';

-- ingest() of one event stores its alert with one write as well.
BEGIN;
SELECT pg_temp.count_writes();
SELECT alert_grouping.ingest('00000000-0000-0000-0000-0000000000f1',
    '{"payload": {"summary": "api on fire", "severity": "error", "source": "api-1",
                  "timestamp": "2026-05-01T10:55:00Z"},
      "labels": {"env": "prod", "service": "api"}}') IS NOT NULL AS ingested;
SELECT * FROM pg_temp.alert_writes();
COMMIT;

-- With the statement-level trigger disabled, nothing is decided or guessed ahead of it: the
-- alerts are stored ungrouped, as every alert was before 0.3 in that case.
ALTER TABLE alert_grouping.alerts DISABLE TRIGGER alerts_after_insert;
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'untriggered 1', '{"env":"prod","service":"api"}', '2026-05-01 10:56+00');
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'untriggered 2', '{"env":"prod","service":"api"}', '2026-05-01 10:57+00'),
    ('00000000-0000-0000-0000-0000000000f1', 'untriggered 3', '{"env":"prod","service":"queue"}', '2026-05-01 10:57+00');
ALTER TABLE alert_grouping.alerts ENABLE TRIGGER alerts_after_insert;
SELECT title, episode_id IS NULL AS ungrouped, added_by FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-0000000000f1' AND title LIKE 'untriggered%' ORDER BY title;

-- Every alert of an episode is counted by it, and every member says how it joined.
SELECT count(*) AS miscounted FROM alert_grouping.episodes e
 WHERE e.project_id = '00000000-0000-0000-0000-0000000000f1'
   AND e.alert_count <> (SELECT count(*) FROM alert_grouping.alerts a
                          WHERE a.project_id = e.project_id AND a.episode_id = e.id);
SELECT added_by, count(*) FROM alert_grouping.episode_members
 WHERE project_id = '00000000-0000-0000-0000-0000000000f1' GROUP BY added_by;

-- The engine times itself: every statement above was recorded.
SELECT statements > 0 AS timed, rows >= statements AS rows_counted, p50_ms <= p99_ms AS ordered,
       p99_ms <= max_ms * 1.2 AS bounded
  FROM alert_grouping.engine_latency();

-- alerts_membership_check (membership_is_valid): membership facts exist exactly when the alert
-- belongs to an episode, with the contract's added_by values and a score between 0 and 1.
-- Each change is tried and rolled back.
CREATE FUNCTION pg_temp.try_membership(assignments text, grouped boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    refused_by text;
BEGIN
    EXECUTE format('UPDATE alert_grouping.alerts SET %s WHERE project_id = %L AND id = %L',
                   assignments, '00000000-0000-0000-0000-0000000000f1',
                   (SELECT a.id FROM alert_grouping.alerts a
                     WHERE a.project_id = '00000000-0000-0000-0000-0000000000f1'
                       AND (a.episode_id IS NOT NULL) = grouped
                     ORDER BY a.created_at, a.title LIMIT 1));
    RAISE SQLSTATE 'P0001';
EXCEPTION
    WHEN check_violation THEN
        GET STACKED DIAGNOSTICS refused_by = CONSTRAINT_NAME;
        RETURN 'refused by ' || refused_by;
    WHEN SQLSTATE 'P0001' THEN
        RETURN 'accepted';
END
$$;
SELECT t.grouped, t.assignments, pg_temp.try_membership(t.assignments, t.grouped) AS result
  FROM (VALUES
    (true, $$added_by = 'bogus'$$),
    (true, 'added_by = NULL'),
    (true, 'added_at = NULL'),
    (true, 'similarity_score = 1.5'),
    (true, 'similarity_score = -0.1'),
    (true, $$similarity_score = 'NaN'$$),
    (true, 'episode_id = NULL'),
    (true, $$added_by = 'manual', similarity_score = 0.5$$),
    (true, $$similarity_score = 1, rule_id = NULL$$),
    (true, 'episode_id = NULL, added_by = NULL, added_at = NULL, rule_id = NULL, similarity_score = NULL'),
    (false, $$added_by = 'rule'$$),
    (false, $$rule_id = '00000000-0000-0000-0000-0000000000f1'$$),
    (false, 'similarity_score = 0.5'),
    (false, 'added_at = now()'),
    (false, 'title = title')) AS t(grouped, assignments);

-- A single row's holder and candidate reads (straight through their indexes) see what the
-- transaction's earlier statements wrote, under either isolation level: the repeat is
-- absorbed by the alert stored just before it, and the second alert joins the episode opened
-- just before it.
PREPARE own_write(text, text, timestamptz) AS
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at)
VALUES ('00000000-0000-0000-0000-0000000000f1', $1, jsonb_build_object('env', 'prod', 'service', $2), $3);
BEGIN ISOLATION LEVEL READ COMMITTED;
EXECUTE own_write('own writes', 'own-rc', '2026-05-01 11:00+00');
EXECUTE own_write('own writes', 'own-rc', '2026-05-01 11:01+00');
EXECUTE own_write('own writes too', 'own-rc', '2026-05-01 11:02+00');
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) > 0 AS snapshot_taken FROM alert_grouping.alerts;
EXECUTE own_write('own writes', 'own-rr', '2026-05-01 11:00+00');
EXECUTE own_write('own writes', 'own-rr', '2026-05-01 11:01+00');
EXECUTE own_write('own writes too', 'own-rr', '2026-05-01 11:02+00');
COMMIT;
SELECT a.labels ->> 'service' AS service, a.title, a.duplicate_count, e.alert_count AS episode_alerts,
       count(*) OVER (PARTITION BY a.labels ->> 'service', a.episode_id) AS alerts_in_its_episode
  FROM alert_grouping.alerts AS a
  JOIN alert_grouping.episodes AS e ON e.project_id = a.project_id AND e.id = a.episode_id
 WHERE a.project_id = '00000000-0000-0000-0000-0000000000f1' AND a.title LIKE 'own writes%'
 ORDER BY 1, 2;
