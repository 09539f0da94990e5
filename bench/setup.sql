-- Schema for scripts/bench: ten projects with three rules each, a copy of the alerts table
-- without the grouping trigger (the "plain INSERT" baseline), and the generator every side
-- shares: batch() for INSERTs, events() for ingest and ingest_batch (the same rows as
-- PagerDuty Events v2-shaped JSON). Needs CREATE EXTENSION alert_grouping; reference.sql
-- adds the PL/pgSQL peer.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS alert_grouping_bench CASCADE;
CREATE SCHEMA alert_grouping_bench;

-- Same columns, defaults, checks and indexes as alert_grouping.alerts; no trigger, no foreign key.
CREATE TABLE alert_grouping_bench.alerts_plain (LIKE alert_grouping.alerts INCLUDING ALL);

-- Event time: every generated alert takes the next tick; one tick is 100 ms.
CREATE SEQUENCE alert_grouping_bench.clock CACHE 1000;

INSERT INTO alert_grouping.projects (id, name, default_time_window)
SELECT ('b0000000-0000-4000-8000-' || lpad(p::text, 12, '0'))::uuid, 'bench project ' || p,
       '30 minutes'
  FROM generate_series(1, 10) AS p;

INSERT INTO alert_grouping.grouping_rules
    (project_id, name, priority, match_criteria, grouping_config, episode_config)
SELECT p.id, r.name, r.priority, r.m::jsonb, r.g::jsonb, r.e::jsonb
  FROM alert_grouping.projects AS p,
       (VALUES
        ('prod incidents by service', 10,
         '{"labels": ["env=\"prod\""], "min_severity": "high"}',
         '{"type": "time_window", "group_by": ["labels.service"], "time_window_minutes": 15}',
         '{"title_template": "{{labels.service}}: {{title}} ({{alert_count}} alerts)", "reopen_window_minutes": 30}'),
        ('similar warnings', 20,
         '{"labels": ["env=~\"prod|staging\"", "service!=\"\""], "severities": ["low", "medium"]}',
         '{"type": "smart", "group_by": ["labels.service"], "similarity_threshold": 0.6, "time_window_minutes": 30}',
         '{"title_template": "{{labels.service}} warnings: {{title}} ({{alert_count}} alerts)"}'),
        ('everything else per monitor and region', 100,
         '{}',
         '{"type": "field", "group_by": ["monitor", "labels.region"], "time_window_minutes": 60}',
         '{}')) AS r(name, priority, m, g, e)
 WHERE p.name LIKE 'bench project %';

-- A uniform number in [0, 1), a pure function of (seed, row, stream).
CREATE FUNCTION alert_grouping_bench.u(seed bigint, g bigint, k int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashint8extended(seed * 100003 + g, k) & 2147483647)::float8 / 2147483648
$$;

-- n alerts for projects p_lo..p_hi, a pure function of seed apart from the event-time ticks.
-- Half the alerts come from the 3 "hot" services of the moment (the hot set moves every
-- 10 minutes of event time, so each service bursts, then stays quiet for about an hour and
-- its episodes' windows expire); they are mostly high or critical and in prod. The rest are
-- spread over 20 services, lower severities, prod, staging and dev. About 10% repeat one of
-- 60 recurring alerts per project (3 titles x 20 services: deduplicated once the first is
-- stored, as every alert here stays firing); the rest carry a unique number.
-- The fingerprint is computed here, so the trigger-less copy gets the same value.
CREATE FUNCTION alert_grouping_bench.batch(seed bigint, n int, p_lo int DEFAULT 1, p_hi int DEFAULT 10)
RETURNS TABLE (project_id uuid, monitor_id uuid, severity alert_grouping.severity, title text,
               labels jsonb, fingerprint text, created_at timestamptz)
LANGUAGE sql VOLATILE AS $$
SELECT x.project_id, x.monitor_id, x.severity, x.title, x.labels,
       alert_grouping.fingerprint(x.monitor_id, x.title, x.labels), x.created_at
  FROM (SELECT ('b0000000-0000-4000-8000-' || lpad(v.p::text, 12, '0'))::uuid AS project_id,
               md5(v.p || '/' || v.s || '/' || v.kind)::uuid AS monitor_id,
               v.severity::alert_grouping.severity AS severity,
               CASE WHEN v.recurring THEN
                   format((ARRAY['Error rate above 5%% on svc-%s', 'Health check failing for svc-%s',
                                 'Certificate for svc-%s expires soon'])[1 + v.kind], v.s)
               ELSE CASE v.kind
                   WHEN 0 THEN format('High latency on svc-%s endpoint /api/v%s/orders (request %s)', v.s, 1 + v.s % 3, v.t)
                   WHEN 1 THEN format('Pod svc-%s-%s restarting', v.s, v.t)
                   WHEN 2 THEN format('Queue depth %s on svc-%s consumer', v.t, v.s)
                   ELSE format('Disk usage %s%% on node n-%s', 80 + (v.t % 20), v.t) END
               END AS title,
               jsonb_build_object('env', v.env, 'service', 'svc-' || v.s, 'region', v.region,
                                  'team', 'team-' || (v.s % 5)) AS labels,
               timestamptz '2024-01-01 00:00:00+00' + v.t * interval '100 milliseconds' AS created_at
          FROM (SELECT r.t, r.p, r.hot, r.recurring,
                       CASE WHEN r.recurring THEN r.kind % 3 ELSE r.kind END AS kind,
                       CASE WHEN r.hot THEN ((r.t / 6000) * 3 + floor(r.u3 * 3)::int) % 20
                            ELSE floor(r.u3 * 20)::int END AS s,
                       CASE WHEN r.hot OR r.recurring OR r.u5 < 0.7 THEN 'prod'
                            WHEN r.u5 < 0.95 THEN 'staging' ELSE 'dev' END AS env,
                       CASE WHEN r.hot THEN CASE WHEN r.u4 < 0.15 THEN 'critical' WHEN r.u4 < 0.6 THEN 'high'
                                                 WHEN r.u4 < 0.85 THEN 'medium' ELSE 'low' END
                            ELSE CASE WHEN r.u4 < 0.3 THEN 'medium' WHEN r.u4 < 0.75 THEN 'low'
                                      ELSE 'info' END END AS severity,
                       CASE WHEN r.recurring THEN 'eu-west'
                            ELSE (ARRAY['eu-west', 'us-east', 'ap-south'])[1 + floor(r.u6 * 3)::int]
                       END AS region
                  FROM (SELECT q.t,
                               p_lo + floor(alert_grouping_bench.u(seed, q.g, 1) * (p_hi - p_lo + 1))::int AS p,
                               alert_grouping_bench.u(seed, q.g, 2) < 0.5 AS hot,
                               alert_grouping_bench.u(seed, q.g, 3) AS u3,
                               alert_grouping_bench.u(seed, q.g, 4) AS u4,
                               alert_grouping_bench.u(seed, q.g, 5) AS u5,
                               alert_grouping_bench.u(seed, q.g, 6) AS u6,
                               floor(alert_grouping_bench.u(seed, q.g, 7) * 4)::int AS kind,
                               alert_grouping_bench.u(seed, q.g, 8) < 0.1 AS recurring
                          FROM (SELECT nextval('alert_grouping_bench.clock') AS t, g
                                  FROM generate_series(1, n) AS g OFFSET 0) AS q
                        OFFSET 0) AS r
                OFFSET 0) AS v
        OFFSET 0) AS x
$$;

-- The same alerts as batch(seed, n, p_lo, p_hi), as ingest() events: summary, severity and
-- timestamp in the payload, monitor_id and labels beside it (no dedup_key, so the fingerprint
-- is the one the INSERT sides get).
CREATE FUNCTION alert_grouping_bench.events(seed bigint, n int, p_lo int DEFAULT 1, p_hi int DEFAULT 10)
RETURNS TABLE (project_id uuid, event jsonb)
LANGUAGE sql VOLATILE AS $$
SELECT b.project_id,
       jsonb_build_object('event_action', 'trigger',
                          'payload', jsonb_build_object('summary', b.title, 'severity', b.severity,
                                                        'timestamp', b.created_at),
                          'monitor_id', b.monitor_id,
                          'labels', b.labels)
  FROM alert_grouping_bench.batch(seed, n, p_lo, p_hi) AS b
$$;

-- Bench project p (1..10).
CREATE FUNCTION alert_grouping_bench.project(p int) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
SELECT ('b0000000-0000-4000-8000-' || lpad(p::text, 12, '0'))::uuid
$$;

-- Single rows and single events come from a stream generated once, ahead of the runs: a
-- client sends one alert as INSERT ... VALUES of one row (or one ingest() call), and every
-- side pays the same small read of the next stream row, not the generator (whose cost,
-- a SQL function planned per call, would flatten every ratio). Each run walks the stream
-- from its start (stream_position, reset with the side's tables); its event times follow
-- the 10 thousand generated rows every side starts from.
CREATE TABLE alert_grouping_bench.stream (
    n bigint PRIMARY KEY,
    project_id uuid NOT NULL,
    monitor_id uuid,
    severity alert_grouping.severity NOT NULL,
    title text NOT NULL,
    labels jsonb NOT NULL,
    fingerprint text NOT NULL,
    created_at timestamptz NOT NULL);
SELECT setval('alert_grouping_bench.clock', 10000);
INSERT INTO alert_grouping_bench.stream
SELECT row_number() OVER (ORDER BY b.created_at), b.*
  FROM alert_grouping_bench.batch(11, 200000) AS b;
SELECT setval('alert_grouping_bench.clock', 1, false);
CREATE SEQUENCE alert_grouping_bench.stream_position;
ANALYZE alert_grouping_bench.stream;
