-- Silences (version 0.8): Alertmanager's semantics. A silenced alert is stored and
-- deduplicated but joins no episode, opens no incident and pages nobody; once the silence
-- ends, the maintenance pass groups its still-firing alerts.
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000201', 'silences');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000201', 'by service', '{"group_by": ["labels.service"]}',
     '{"create_incident": true}');

-- Refused when written, naming the field (22023), as Alertmanager refuses them.
SELECT public.try($$INSERT INTO alert_grouping.silences (project_id, matchers, ends_at)
    VALUES ('00000000-0000-0000-0000-000000000201', '{}', now() + interval '1 hour')$$) AS no_matchers;
SELECT public.try($$INSERT INTO alert_grouping.silences (project_id, matchers, ends_at)
    VALUES ('00000000-0000-0000-0000-000000000201', '{"team=", "env=~.*"}', now() + interval '1 hour')$$) AS all_match_empty;
SELECT public.try($$INSERT INTO alert_grouping.silences (project_id, matchers, ends_at)
    VALUES ('00000000-0000-0000-0000-000000000201', '{"service=db", "bad name=x"}', now() + interval '1 hour')$$) AS bad_name;
SELECT public.try($$INSERT INTO alert_grouping.silences (project_id, matchers, ends_at)
    VALUES ('00000000-0000-0000-0000-000000000201', '{"service=~(db"}', now() + interval '1 hour')$$) AS bad_regex;
SELECT public.try($$INSERT INTO alert_grouping.silences (project_id, matchers, ends_at)
    VALUES ('00000000-0000-0000-0000-000000000201', ARRAY['service=db', NULL], now() + interval '1 hour')$$) AS null_matcher;
SELECT public.try($$INSERT INTO alert_grouping.silences (project_id, matchers, starts_at, ends_at)
    VALUES ('00000000-0000-0000-0000-000000000201', '{"service=db"}', now(), now())$$) AS no_duration;
SELECT public.try($$INSERT INTO alert_grouping.silences (project_id, matchers, ends_at)
    VALUES ('00000000-0000-0000-0000-000000000201', '{"service=db"}', 'infinity')$$) AS infinite;
SELECT count(*) AS silences_stored FROM alert_grouping.silences;

-- Active: service=db in any env but dev, written as amtool writes it (unquoted values).
INSERT INTO alert_grouping.silences (project_id, id, matchers, starts_at, ends_at, comment) VALUES
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002a1',
     '{"service=db", "env!=dev"}', now() - interval '5 minutes', now() + interval '1 hour', 'db failover');
-- Pending: it starts in an hour, so it holds nothing yet.
INSERT INTO alert_grouping.silences (project_id, id, matchers, starts_at, ends_at) VALUES
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002a2',
     '{"service=\"web\""}', now() + interval '1 hour', now() + interval '2 hours');
SELECT created_by = current_user AS created_by_the_role FROM alert_grouping.silences
 WHERE id = '00000000-0000-0000-0000-0000000002a1';

-- One row at a time (decided before it is stored) and several at once (after).
INSERT INTO alert_grouping.alerts (project_id, id, title, labels, dedup_key) VALUES
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002b1', 'db down',
     '{"service": "db", "env": "prod"}', 'db-prod');
INSERT INTO alert_grouping.alerts (project_id, id, title, labels, dedup_key) VALUES
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002b2', 'db replica lag',
     '{"service": "db", "env": "staging"}', 'db-staging'),
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002b3', 'db dev down',
     '{"service": "db", "env": "dev"}', 'db-dev'),
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002b4', 'web 500s',
     '{"service": "web", "env": "prod"}', 'web-prod');
-- A duplicate of a silenced alert is absorbed by it, as any duplicate.
INSERT INTO alert_grouping.alerts (project_id, title, labels, dedup_key) VALUES
    ('00000000-0000-0000-0000-000000000201', 'db down', '{"service": "db", "env": "prod"}', 'db-prod');
-- Alertmanager's webhook takes the same path.
SELECT action FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000201', '{
  "version": "4", "status": "firing", "alerts": [
    {"status": "firing", "labels": {"alertname": "DiskFull", "service": "db", "env": "prod"},
     "annotations": {"summary": "disk 95% full"}, "startsAt": "2026-12-01T10:00:00Z",
     "fingerprint": "d1d1d1d1d1d1d1d1"}]}');

SELECT a.title, a.silenced_by IS NOT NULL AS silenced, a.episode_id IS NOT NULL AS grouped,
       a.duplicate_count, a.silence_released_at IS NOT NULL AS released
  FROM alert_grouping.alerts AS a
 WHERE a.project_id = '00000000-0000-0000-0000-000000000201' ORDER BY a.title;
SELECT count(*) AS incidents FROM alert_grouping.incidents
 WHERE project_id = '00000000-0000-0000-0000-000000000201';

-- While the silence lasts, maintenance releases nothing.
SELECT (alert_grouping.run_maintenance() ->> 'silenced_alerts_released')::int AS released;

-- One held alert resolves while silenced: released with the others, grouped into nothing.
UPDATE alert_grouping.alerts SET state = 'resolved', resolved_at = now()
 WHERE id = '00000000-0000-0000-0000-0000000002b2';
-- A second silence for prod db alerts that lasts longer takes the held ones over.
INSERT INTO alert_grouping.silences (project_id, id, matchers, starts_at, ends_at) VALUES
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002a3',
     '{"alertname=DiskFull"}', now() - interval '1 minute', now() + interval '3 hours');

-- Expired (by a responder, or its end passing): the next maintenance pass groups its alerts.
SELECT alert_grouping.expire_silence('00000000-0000-0000-0000-000000000201',
                                     '00000000-0000-0000-0000-0000000002a1') <= now() AS expired;
SELECT starts_at <= ends_at AS ordered, ends_at <= now() AS ended FROM alert_grouping.silences
 WHERE id = '00000000-0000-0000-0000-0000000002a1';
SELECT (alert_grouping.run_maintenance() ->> 'silenced_alerts_released')::int AS released;
SELECT a.title, a.silenced_by AS held_by, a.episode_id IS NOT NULL AS grouped,
       a.silence_released_at IS NOT NULL AS released, a.state
  FROM alert_grouping.alerts AS a
 WHERE a.project_id = '00000000-0000-0000-0000-000000000201' ORDER BY a.title;
SELECT i.title, i.status FROM alert_grouping.incidents AS i
 WHERE i.project_id = '00000000-0000-0000-0000-000000000201' ORDER BY i.title;
SELECT (alert_grouping.run_maintenance() ->> 'silenced_alerts_released')::int AS released_again;

-- A pending silence expired ends before it starts; expiring twice changes nothing.
SELECT alert_grouping.expire_silence('00000000-0000-0000-0000-000000000201',
                                     '00000000-0000-0000-0000-0000000002a2') IS NOT NULL AS expired;
SELECT alert_grouping.expire_silence('00000000-0000-0000-0000-000000000201',
                                     '00000000-0000-0000-0000-0000000002a2') IS NOT NULL AS expired_again;
SELECT starts_at = ends_at AS never_active FROM alert_grouping.silences
 WHERE id = '00000000-0000-0000-0000-0000000002a2';
SELECT public.try($$SELECT alert_grouping.expire_silence('00000000-0000-0000-0000-000000000201',
                                     '00000000-0000-0000-0000-0000000002ff')$$) AS unknown_silence;

-- A monitor's alert that a silence holds opens its incident (auto_create_incident) only once
-- released.
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures, auto_create_incident, labels) VALUES
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002c1', 'checkout', 1, true,
     '{"service": "checkout"}');
INSERT INTO alert_grouping.silences (project_id, id, matchers, starts_at, ends_at) VALUES
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002a4',
     '{"service=checkout"}', now() - interval '1 minute', now() + interval '1 hour');
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok, message) VALUES
    ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-0000000002c1', now(), false, 'HTTP 502');
SELECT count(*) AS checkout_incidents FROM alert_grouping.incidents
 WHERE project_id = '00000000-0000-0000-0000-000000000201' AND monitor_id = '00000000-0000-0000-0000-0000000002c1';
SELECT (alert_grouping.run_maintenance(now() + interval '2 hours') ->> 'silenced_alerts_released')::int AS released;
SELECT count(*) AS checkout_incidents FROM alert_grouping.incidents
 WHERE project_id = '00000000-0000-0000-0000-000000000201' AND monitor_id = '00000000-0000-0000-0000-0000000002c1';
