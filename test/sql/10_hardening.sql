-- Version 0.2 hardening: bad input is refused clearly, no value can cost an alert, keys are
-- unambiguous, restored rows are kept as they are. (Roles, policies and concurrency are in
-- test/pgtap/05_hardening.sql and test/hardening/run.)
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000071', 'hardening');
INSERT INTO alert_grouping.grouping_rules (project_id, name, priority, match_criteria, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000071', 'by blob', 10, '{"labels": ["kind=\"blob\""]}',
     '{"group_by": ["labels.blob"]}'),
    ('00000000-0000-0000-0000-000000000071', 'by a and b', 20, '{"labels": ["kind=\"ab\""]}',
     '{"group_by": ["labels.a", "labels.b"]}');

-- A composite value does not enforce NOT NULL: the engine checks every datum it reads
-- (0.1 crashed the server on this call). Internal functions are not granted to anyone.
SELECT public.try($$SELECT alert_grouping.lock_for_batch('00000000-0000-0000-0000-000000000071',
    ARRAY[ROW('00000000-0000-0000-0000-000000000071', gen_random_uuid(), NULL, 'info', NULL, NULL,
              '{}', NULL, NULL, NULL, 'fp', 0, NULL, NULL, 'firing', now(), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::alert_grouping.alerts],
    '{}')$$) AS null_title;

-- A grouped-on label longer than a B-tree entry (0.1: "index row size exceeds btree
-- maximum", the alert was not stored): the key is indexed by its hash.
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at)
SELECT '00000000-0000-0000-0000-000000000071', 'big ' || i,
       jsonb_build_object('kind', 'blob', 'blob', repeat('x', 3200)), '2026-03-09 10:00+00'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 10) AS i;
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000071', 'big again',
     jsonb_build_object('kind', 'blob', 'blob', repeat('x', 3200)), '2026-03-09 10:30+00');
SELECT count(*) AS alerts, count(DISTINCT episode_id) AS episodes, bool_and(episode_id IS NOT NULL) AS all_grouped
  FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-000000000071' AND title LIKE 'big%';
SELECT alert_count, length(group_key) AS key_length FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-000000000071';

-- Unambiguous encodings: one label holding the separators is not two labels.
SELECT alert_grouping.fingerprint(NULL, 't', '{"env": "prod,host=a"}')
       <> alert_grouping.fingerprint(NULL, 't', '{"env": "prod", "host": "a"}') AS fingerprints_differ;
SELECT alert_grouping.fingerprint(NULL, 'Disk full', '{"env": "prod", "host": "a"}')
       = encode(sha256(convert_to('monitor:|title:disk full|labels:env=prod,host=a', 'UTF8')), 'hex')
       AS ordinary_fingerprint_unchanged;
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000071', 'ab one', '{"kind": "ab", "a": "x|labels.b:y"}', '2026-03-09 11:00+00'),
    ('00000000-0000-0000-0000-000000000071', 'ab two', '{"kind": "ab", "a": "x", "b": "y"}', '2026-03-09 11:01+00');
SELECT title, (SELECT group_key FROM alert_grouping.episodes e
                WHERE e.project_id = a.project_id AND e.id = a.episode_id) AS group_key
  FROM alert_grouping.alerts a
 WHERE project_id = '00000000-0000-0000-0000-000000000071' AND title LIKE 'ab %' ORDER BY title;

-- Event times are finite: an infinite one would absorb every later alert.
SELECT public.try($$INSERT INTO alert_grouping.alerts (project_id, title, created_at)
    VALUES ('00000000-0000-0000-0000-000000000071', 'forever', 'infinity')$$) AS infinite_insert;
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071',
    '{"payload": {"summary": "x", "timestamp": "-infinity"}}')$$) AS infinite_event;
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071',
    '{"payload": {"summary": "x", "timestamp": 1700000000}}')$$) AS numeric_timestamp;

-- Fields have the JSON type they need (0.1 took a number or an object as text).
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071',
    '{"payload": {"summary": 42}}')$$) AS numeric_summary;
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071',
    '{"dedup_key": {"k": 1}, "payload": {"summary": "x"}}')$$) AS object_dedup_key;
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071', '1e400')$$) AS numeric_event;
-- A resolve names what is wrong with its key (0.1 returned NULL silently).
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071',
    '{"event_action": "resolve", "dedup_key": ""}')$$) AS empty_key;
SELECT public.try(format($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071',
    '{"event_action": "resolve", "dedup_key": "%s"}')$$, repeat('k', 300))) AS long_key;
SELECT public.try($$SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071',
    '{"event_action": "resolve"}')$$) AS missing_key;

-- A rule number out of range names its key (0.1: "must be a JSON object").
SELECT public.try($$SELECT alert_grouping.validate_rule('{}', '{"time_window_minutes": 1e400}', '{}')$$) AS huge_number;

-- Arguments are named when NULL.
SELECT public.try($$SELECT * FROM alert_grouping.preview_rule('00000000-0000-0000-0000-000000000071',
    NULL, '{}', now() - interval '1 day', now())$$) AS null_match_criteria;
SELECT public.try($$SELECT alert_grouping.regroup('00000000-0000-0000-0000-000000000071',
    NULL, now() - interval '1 day', now())$$) AS null_rule_id;

-- ingest_batch is capped, and linear in resolves (0.1: 8,000 events took 5.8 s).
SELECT public.try(format($$SELECT count(*) FROM alert_grouping.ingest_batch('00000000-0000-0000-0000-000000000071', %L)$$,
    (SELECT jsonb_agg(jsonb_build_object('payload', jsonb_build_object('summary', 'e' || i)))
       FROM generate_series(1, 10001) AS i)::text)) AS too_many;
SELECT count(*) AS events, count(*) FILTER (WHERE b.action = 'resolve' AND b.alert_id IS NOT NULL) AS resolved
  FROM alert_grouping.ingest_batch('00000000-0000-0000-0000-000000000071',
       (SELECT jsonb_agg(CASE WHEN i % 2 = 0
                              THEN jsonb_build_object('event_action', 'resolve', 'dedup_key', 'k' || (i - 1))
                              ELSE jsonb_build_object('dedup_key', 'k' || i,
                                                      'payload', jsonb_build_object('summary', 'batch ' || i,
                                                                 'timestamp', '2026-03-09T12:00:00Z'))
                         END ORDER BY i)
          FROM generate_series(1, 8000) AS i)) AS b;

-- A resolve acts on every active alert with the key (0.1: "query returned more than one
-- row"): two can exist when they came while grouping was off.
UPDATE alert_grouping.projects SET grouping_enabled = false WHERE id = '00000000-0000-0000-0000-000000000071';
INSERT INTO alert_grouping.alerts (project_id, title, dedup_key, created_at) VALUES
    ('00000000-0000-0000-0000-000000000071', 'twin', 'twin-key', '2026-03-09 13:00+00'),
    ('00000000-0000-0000-0000-000000000071', 'twin', 'twin-key', '2026-03-09 13:01+00');
UPDATE alert_grouping.projects SET grouping_enabled = true WHERE id = '00000000-0000-0000-0000-000000000071';
SELECT alert_grouping.ingest('00000000-0000-0000-0000-000000000071',
    '{"event_action": "resolve", "dedup_key": "twin-key"}') =
       (SELECT id FROM alert_grouping.alerts WHERE dedup_key = 'twin-key' ORDER BY created_at LIMIT 1) AS oldest_returned;
SELECT state, count(*) FROM alert_grouping.alerts WHERE dedup_key = 'twin-key' GROUP BY state;

-- A row that arrives already grouped (a restore) is stored as it is: not deduplicated
-- against the active alert with its key, not counted by its episode again. Its membership
-- is what the row says (0.3: on the alert row; added_by 'api' when it says nothing).
SELECT id AS blob_episode, alert_count AS count_before FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-000000000071' AND group_key LIKE 'labels.blob:%' \gset
INSERT INTO alert_grouping.alerts (project_id, id, title, labels, fingerprint, episode_id, created_at)
SELECT project_id, '00000000-0000-0000-0000-0000000000e1', title, labels, fingerprint, episode_id, created_at
  FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-000000000071' AND title = 'big again';
SELECT count(*) AS kept FROM alert_grouping.alerts WHERE id = '00000000-0000-0000-0000-0000000000e1';
SELECT e.alert_count = :count_before AS count_unchanged,
       (SELECT m.added_by FROM alert_grouping.episode_members m
         WHERE m.project_id = e.project_id AND m.alert_id = '00000000-0000-0000-0000-0000000000e1') AS membership
  FROM alert_grouping.episodes e
 WHERE e.project_id = '00000000-0000-0000-0000-000000000071' AND e.id = :'blob_episode';

-- Restoring is for superusers: an ordinary role cannot switch the pipeline off.
CREATE ROLE ag_regress_plain LOGIN;
SET ROLE ag_regress_plain;
SELECT public.try($$SET alert_grouping.restoring = on$$) AS plain_role_restoring;
RESET ROLE;
DROP ROLE ag_regress_plain;

SELECT count(*) AS engine_errors FROM alert_grouping.engine_errors
 WHERE project_id = '00000000-0000-0000-0000-000000000071';
