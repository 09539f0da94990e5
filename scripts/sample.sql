-- Sample data for scripts/demo: three teams' alert streams over the last 24 hours, replayed
-- into alert_grouping the way an ingester would, so the episodes can be looked at.
-- (+3h10 below means 3 hours 10 minutes into the replayed day.)
--
--   Acme Shop      (episodes SHOP-n): a search degradation at +3h10, a checkout outage at
--                  +14h05 cascading to other services, with a second wave; a staging health
--                  check flapping for hours from +8h.
--   Payments       (PAY-n): an Adyen degradation at +9h20; in the last 20 minutes a Stripe
--                  incident arriving through the PagerDuty-style API (ingest_batch), with
--                  resolve events.
--   Data Platform  (DATA-n): nightly pipelines failing and retrying from +1h (smart grouping
--                  of similar titles), a Kafka consumer-lag storm at +18h.
--   Each project also has small problems scattered over the day, with quiet gaps between.
--
-- Deterministic: setseed() fixes every random choice; times are relative to the start of the
-- replayed day, now() - 24 hours to the minute. Needs CREATE EXTENSION alert_grouping.
-- The generator and the log of what was sent (demo.events) live in the schema "demo".

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS demo CASCADE;
CREATE SCHEMA demo;

------------------------------------------------------------------------------------------
-- Projects and grouping rules
------------------------------------------------------------------------------------------
INSERT INTO alert_grouping.projects (id, name, episode_number_prefix, default_time_window) VALUES
    ('a11ce000-0000-4000-8000-000000000001', 'Acme Shop',     'SHOP-', '30 minutes'),
    ('a11ce000-0000-4000-8000-000000000002', 'Payments',      'PAY-',  '30 minutes'),
    ('a11ce000-0000-4000-8000-000000000003', 'Data Platform', 'DATA-', '60 minutes');

INSERT INTO alert_grouping.grouping_rules
    (project_id, name, priority, match_criteria, grouping_config, episode_config) VALUES
-- Acme Shop
('a11ce000-0000-4000-8000-000000000001', 'Prod incidents by service', 10,
 '{"labels": ["env=\"prod\""], "min_severity": "high"}',
 '{"type": "time_window", "group_by": ["labels.service"], "time_window_minutes": 15}',
 '{"title_template": "{{labels.service}}: {{title}} ({{alert_count}} alerts)", "reopen_window_minutes": 30,
   "create_incident": true, "incident_min_alerts": 3, "incident_min_severity": "critical"}'),
('a11ce000-0000-4000-8000-000000000001', 'Similar prod warnings', 20,
 '{"labels": ["env=\"prod\""], "severities": ["info", "low", "medium"]}',
 '{"type": "smart", "group_by": ["labels.service"], "similarity_threshold": 0.6, "time_window_minutes": 30}',
 '{"title_template": "{{labels.service}} warnings: {{title}} ({{alert_count}} alerts)"}'),
('a11ce000-0000-4000-8000-000000000001', 'Everything else, per monitor', 100,
 '{}',
 '{"type": "field", "group_by": ["monitor"], "time_window_minutes": 60}',
 '{"title_template": "{{title}} ({{alert_count}} alerts)", "reopen_window_minutes": 60}'),
-- Payments
('a11ce000-0000-4000-8000-000000000002', 'Card processor degradation', 10,
 '{"labels": ["provider=~\"stripe|adyen\""], "min_severity": "medium"}',
 '{"type": "time_window", "group_by": ["labels.provider"], "time_window_minutes": 10}',
 '{"title_template": "{{labels.provider}}: {{title}} ({{alert_count}} alerts)", "reopen_window_minutes": 20,
   "create_incident": true, "incident_min_alerts": 2, "resolve_delay_minutes": 5}'),
('a11ce000-0000-4000-8000-000000000002', 'Prod by service', 20,
 '{"labels": ["env=\"prod\""]}',
 '{"type": "time_window", "group_by": ["labels.service"], "time_window_minutes": 30}',
 '{"title_template": "{{labels.service}}: {{title}} ({{alert_count}} alerts)"}'),
('a11ce000-0000-4000-8000-000000000002', 'Everything else, per monitor', 100,
 '{}',
 '{"type": "field", "group_by": ["monitor"], "time_window_minutes": 60}',
 '{}'),
-- Data Platform
('a11ce000-0000-4000-8000-000000000003', 'Failed pipelines, similar titles', 10,
 '{"title_pattern": "(dag|job|task) .*fail"}',
 '{"type": "smart", "group_by": ["labels.team"], "similarity_threshold": 0.6, "time_window_minutes": 45}',
 '{"title_template": "{{labels.team}} pipelines: {{title}} ({{alert_count}} alerts)"}'),
('a11ce000-0000-4000-8000-000000000003', 'Streaming cluster health', 20,
 '{"labels": ["cluster=~\"kafka-.*\""], "min_severity": "medium"}',
 '{"type": "time_window", "group_by": ["labels.cluster"], "time_window_minutes": 20}',
 '{"title_template": "{{labels.cluster}}: {{title}} ({{alert_count}} alerts)", "reopen_window_minutes": 60}'),
('a11ce000-0000-4000-8000-000000000003', 'Everything else, per monitor', 100,
 '{}',
 '{"type": "field", "group_by": ["monitor"], "time_window_minutes": 120}',
 '{"title_template": "{{title}} ({{alert_count}} alerts)"}');

------------------------------------------------------------------------------------------
-- Generator
------------------------------------------------------------------------------------------
CREATE TABLE demo.clock AS
    SELECT date_trunc('minute', now()) - interval '24 hours' AS day_start;

-- Everything sent, in the order of event time: trigger events (inserted with INSERT, or
-- through ingest_batch when via = 'pagerduty') and PagerDuty resolve events.
CREATE TABLE demo.events (
    seq int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id uuid NOT NULL,
    at timestamptz NOT NULL,
    action text NOT NULL DEFAULT 'trigger',
    via text NOT NULL DEFAULT 'insert',
    monitor text,
    severity alert_grouping.severity,
    title text,
    labels jsonb,
    dedup_key text
);
-- A monitor recovering resolves its firing alerts (at a 15-minute check boundary).
CREATE TABLE demo.recoveries (project_id uuid NOT NULL, monitor text NOT NULL, at timestamptz NOT NULL);

CREATE FUNCTION demo.monitor_id(project_id uuid, monitor text) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$ SELECT md5(project_id::text || '/' || monitor)::uuid $$;

CREATE FUNCTION demo.fill(template text, svc text, n int, v int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(replace(replace(template, '{svc}', svc), '{n}', n::text), '{v}', v::text)
$$;

-- Repeated events from one monitor between two minutes of the day, about every every_s
-- seconds (jittered). {n} in title, labels and dedup key is drawn from 1..n_max per event,
-- {v} from v_min..v_max. recover_min: the monitor recovers that long after the last event.
CREATE FUNCTION demo.emit(project uuid, monitor text, title text, severity text, labels jsonb,
                          from_min float8, to_min float8, every_s float8,
                          n_max int DEFAULT 1, v_min int DEFAULT 0, v_max int DEFAULT 0,
                          recover_min float8 DEFAULT NULL, dedup_key text DEFAULT NULL,
                          via text DEFAULT 'insert', svc text DEFAULT '')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d timestamptz := (SELECT day_start FROM demo.clock);
    s float8 := from_min * 60;
    n int;
    v int;
BEGIN
    WHILE s <= to_min * 60 LOOP
        n := 1 + floor(random() * n_max)::int;
        v := v_min + floor(random() * (v_max - v_min + 1))::int;
        INSERT INTO demo.events (project_id, at, via, monitor, severity, title, labels, dedup_key)
        VALUES (project, d + s * interval '1 second', via, demo.fill(monitor, svc, n, v),
                severity::alert_grouping.severity, demo.fill(title, svc, n, v),
                demo.fill(labels::text, svc, n, v)::jsonb, demo.fill(dedup_key, svc, n, v));
        s := s + greatest(1, round(every_s * (0.5 + random())));
    END LOOP;
    IF recover_min IS NOT NULL THEN
        INSERT INTO demo.recoveries (project_id, monitor, at)
        VALUES (project, demo.fill(monitor, svc, 0, 0),
                d + ceil((to_min + recover_min) / 15) * interval '15 minutes');
    END IF;
END
$$;

-- Small problems scattered over the day: n short bursts, each of one kind on one service.
CREATE FUNCTION demo.noise(project uuid, n int, services text[], kinds jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k jsonb;
    start float8;
BEGIN
    FOR i IN 1 .. n LOOP
        k := kinds -> floor(random() * jsonb_array_length(kinds))::int;
        start := floor(random() * 1380);
        PERFORM demo.emit(project, k ->> 'monitor', k ->> 'title', k ->> 'severity', k -> 'labels',
                          start, start + 4 + floor(random() * 20), 60 + floor(random() * 120),
                          COALESCE((k ->> 'n')::int, 1), COALESCE((k ->> 'v_min')::int, 0),
                          COALESCE((k ->> 'v_max')::int, 0), 5 + floor(random() * 30),
                          svc => services[1 + floor(random() * cardinality(services))::int]);
    END LOOP;
END
$$;

SELECT setseed(0.2024);

-- Acme Shop --------------------------------------------------------------------------------
SELECT demo.noise('a11ce000-0000-4000-8000-000000000001', 45,
    ARRAY['frontend', 'checkout', 'cart', 'search', 'catalog', 'auth'], $$[
    {"title": "High memory usage on pod {svc}-{n}", "monitor": "{svc} pods", "severity": "medium",
     "labels": {"env": "prod", "service": "{svc}", "pod": "{svc}-{n}"}, "n": 4},
    {"title": "p99 latency {v}ms above 800ms threshold", "monitor": "{svc} latency", "severity": "low",
     "labels": {"env": "prod", "service": "{svc}"}, "v_min": 801, "v_max": 1400},
    {"title": "[staging] {svc} health check failed", "monitor": "{svc} staging health", "severity": "medium",
     "labels": {"env": "staging", "service": "{svc}"}},
    {"title": "Error budget burn rate {v}x on {svc}", "monitor": "{svc} slo", "severity": "medium",
     "labels": {"env": "prod", "service": "{svc}"}, "v_min": 2, "v_max": 6}]$$);

-- +3h10 search degradation
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'search latency', 'Search p99 latency above 2s',
                 'high', '{"env": "prod", "service": "search"}', 190, 214, 30, recover_min => 5);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'search cluster',
                 'Elasticsearch shard search-{n} unassigned', 'critical',
                 '{"env": "prod", "service": "search", "shard": "search-{n}"}', 193, 208, 20,
                 n_max => 8, recover_min => 10);
-- +8h to +11h30 a staging health check flapping every half hour
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'checkout staging health',
                 '[staging] checkout health check failed', 'high',
                 '{"env": "staging", "service": "checkout"}', m, m + 6, 45, recover_min => 1)
  FROM generate_series(480, 690, 30) AS m;
-- +14h05 checkout outage, cascading to frontend and cart; a second wave at +14h53
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'checkout error rate',
                 'Checkout 5xx rate above 5%', 'critical',
                 '{"env": "prod", "service": "checkout"}', 845, 880, 20, recover_min => 2);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'checkout pods',
                 'Pod checkout-api-{n} CrashLoopBackOff', 'high',
                 '{"env": "prod", "service": "checkout", "pod": "checkout-api-{n}"}', 847, 878, 6,
                 n_max => 12, recover_min => 2);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'checkout latency',
                 'Payment gateway timeout (3000ms)', 'high',
                 '{"env": "prod", "service": "checkout"}', 846, 876, 15, recover_min => 3);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'frontend error rate',
                 'Upstream checkout unavailable (HTTP 503)', 'high',
                 '{"env": "prod", "service": "frontend"}', 848, 878, 20, recover_min => 2);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'cart dependencies',
                 'Cart: checkout dependency degraded', 'medium',
                 '{"env": "prod", "service": "cart"}', 850, 875, 30, recover_min => 2);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000001', 'checkout error rate',
                 'Checkout 5xx rate above 5%', 'critical',
                 '{"env": "prod", "service": "checkout"}', 893, 899, 20, recover_min => 2);

-- Payments ---------------------------------------------------------------------------------
SELECT demo.noise('a11ce000-0000-4000-8000-000000000002', 35,
    ARRAY['ledger', 'payouts', 'fraud', 'gateway'], $$[
    {"title": "Payout batch {v} delayed", "monitor": "payouts scheduler", "severity": "medium",
     "labels": {"env": "prod", "service": "payouts"}, "v_min": 7000, "v_max": 7400},
    {"title": "Reconciliation mismatch in account {n}", "monitor": "ledger reconciliation", "severity": "high",
     "labels": {"env": "prod", "service": "ledger"}, "n": 30},
    {"title": "Fraud model score drift {v}%", "monitor": "fraud model", "severity": "low",
     "labels": {"env": "prod", "service": "fraud"}, "v_min": 3, "v_max": 9},
    {"title": "Settlement file from acquirer {n} missing", "monitor": "settlement import", "severity": "medium",
     "labels": {"env": "prod", "service": "ledger"}, "n": 3},
    {"title": "{svc} sandbox deploy failed", "monitor": "{svc} sandbox", "severity": "low",
     "labels": {"env": "sandbox", "service": "{svc}"}}]$$);

-- +9h20 Adyen authorisations time out
SELECT demo.emit('a11ce000-0000-4000-8000-000000000002', 'adyen auth',
                 'Adyen authorisation timeouts at {v}%', 'critical',
                 '{"env": "prod", "service": "gateway", "provider": "adyen"}', 560, 590, 10,
                 v_min => 5, v_max => 12, recover_min => 3);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000002', 'adyen webhooks',
                 'Adyen webhook delivery failing', 'high',
                 '{"env": "prod", "service": "gateway", "provider": "adyen"}', 565, 588, 30,
                 recover_min => 3);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000002', 'card success rate',
                 'Card payment success rate below 90%', 'high',
                 '{"env": "prod", "service": "gateway"}', 562, 590, 20, recover_min => 5);

-- The last 20 minutes arrive live through the PagerDuty-style API: a Stripe incident.
SELECT demo.emit('a11ce000-0000-4000-8000-000000000002', 'stripe api', 'Stripe API latency above 2s',
                 'critical', '{"env": "prod", "service": "gateway", "provider": "stripe"}',
                 1420, 1431, 15, dedup_key => 'stripe/api-latency', via => 'pagerduty');
SELECT demo.emit('a11ce000-0000-4000-8000-000000000002', 'stripe webhooks',
                 'Stripe webhook backlog: {v} events', 'high',
                 '{"env": "prod", "service": "gateway", "provider": "stripe"}', 1421, 1433, 20,
                 v_min => 500, v_max => 5000, dedup_key => 'stripe/webhook-backlog', via => 'pagerduty');
SELECT demo.emit('a11ce000-0000-4000-8000-000000000002', 'merchant payments',
                 'Payment intents failing for merchant m-{n}', 'high',
                 '{"env": "prod", "service": "gateway", "provider": "stripe"}', 1422, 1434, 25,
                 n_max => 9, dedup_key => 'stripe/pi-failures/m-{n}', via => 'pagerduty');
SELECT demo.emit('a11ce000-0000-4000-8000-000000000002', 'ledger writer',
                 'Ledger write latency above 500ms', 'high', '{"env": "prod", "service": "ledger"}',
                 1424, 1436, 30, dedup_key => 'ledger/write-latency', via => 'pagerduty');
INSERT INTO demo.events (project_id, at, action, via, dedup_key)
SELECT 'a11ce000-0000-4000-8000-000000000002', c.day_start + m * interval '1 minute', 'resolve',
       'pagerduty', k
  FROM demo.clock AS c,
       (VALUES (1432.5, 'stripe/api-latency'), (1435, 'stripe/webhook-backlog')) AS r(m, k);
INSERT INTO demo.events (project_id, at, action, via, dedup_key)
SELECT DISTINCT ON (e.dedup_key) e.project_id, e.at + interval '2 minutes', 'resolve', 'pagerduty',
       e.dedup_key
  FROM demo.events AS e
 WHERE e.dedup_key LIKE 'stripe/pi-failures/%' AND e.dedup_key <> 'stripe/pi-failures/m-1'
 ORDER BY e.dedup_key, e.at DESC;

-- Data Platform ----------------------------------------------------------------------------
SELECT demo.noise('a11ce000-0000-4000-8000-000000000003', 35,
    ARRAY['orders', 'payments', 'marketing', 'inventory', 'customers'], $$[
    {"title": "Freshness SLA missed for table {svc}_facts ({v} min late)", "monitor": "freshness {svc}",
     "severity": "low", "labels": {"team": "analytics", "table": "{svc}_facts"}, "v_min": 10, "v_max": 90},
    {"title": "Disk usage {v}% on warehouse node wh-{n}", "monitor": "warehouse disk", "severity": "medium",
     "labels": {"cluster": "warehouse", "team": "platform", "node": "wh-{n}"}, "n": 6, "v_min": 85, "v_max": 97},
    {"title": "Consumer group {svc}-sink lag above 5000", "monitor": "kafka-b lag", "severity": "medium",
     "labels": {"cluster": "kafka-b", "team": "ingestion"}},
    {"title": "Job {svc}_export failed with exit code {v}", "monitor": "batch jobs", "severity": "high",
     "labels": {"team": "analytics", "job": "{svc}_export"}, "v_min": 1, "v_max": 2}]$$);

-- +1h to +4h30 the nightly pipelines fail and retry
SELECT demo.emit('a11ce000-0000-4000-8000-000000000003', 'airflow orders_daily',
                 'DAG orders_daily task load_partition_{n} failed', 'high',
                 '{"team": "ingestion", "dag": "orders_daily"}', 62, 150, 120, n_max => 20,
                 recover_min => 150);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000003', 'airflow orders_daily',
                 'DAG orders_daily task load_partition_{n} failed after 3 retries', 'critical',
                 '{"team": "ingestion", "dag": "orders_daily"}', 100, 160, 150, n_max => 20,
                 recover_min => 140);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000003', 'airflow marketing_attribution',
                 'DAG marketing_attribution task export_{n} failed', 'high',
                 '{"team": "analytics", "dag": "marketing_attribution"}', 180, 260, 180, n_max => 6,
                 recover_min => 40);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000003', 'spark sessionize',
                 'Spark job sessionize_{v} failed: executor lost (OOM)', 'high',
                 '{"team": "analytics", "job": "sessionize"}', 200, 245, 300, v_min => 1, v_max => 3,
                 recover_min => 30);
-- +18h consumer lag storm on kafka-a
SELECT demo.emit('a11ce000-0000-4000-8000-000000000003', 'kafka-a lag',
                 'Consumer lag on orders partition {n} above 10000', 'high',
                 '{"cluster": "kafka-a", "team": "ingestion", "topic": "orders", "partition": "{n}"}',
                 1080, 1118, 4, n_max => 24, recover_min => 5);
SELECT demo.emit('a11ce000-0000-4000-8000-000000000003', 'kafka-a brokers',
                 'Broker kafka-a-{n} has under-replicated partitions', 'critical',
                 '{"cluster": "kafka-a", "team": "platform"}', 1083, 1110, 30, n_max => 3,
                 recover_min => 5);

------------------------------------------------------------------------------------------
-- Replay
------------------------------------------------------------------------------------------
-- The day in 15-minute slices, as an importer catching up would: first the monitors that
-- recovered at the slice boundary resolve their alerts, then the slice's trigger events go in
-- with plain INSERTs of at most 400 rows (several projects per statement, duplicates and all).
DO $$
DECLARE
    d timestamptz := (SELECT day_start FROM demo.clock);
    lo timestamptz;
    hi timestamptz;
    n int;
BEGIN
    FOR s IN 0 .. 95 LOOP
        lo := d + s * interval '15 minutes';
        hi := lo + interval '15 minutes';
        UPDATE alert_grouping.alerts AS a
           SET state = 'resolved', resolved_at = lo
          FROM demo.recoveries AS r
         WHERE r.at = lo AND a.project_id = r.project_id
           AND a.monitor_id = demo.monitor_id(r.project_id, r.monitor) AND a.state <> 'resolved';
        SELECT count(*) INTO n FROM demo.events AS e
         WHERE e.via = 'insert' AND e.at >= lo AND e.at < hi;
        FOR c IN 0 .. (n - 1) / 400 LOOP
            INSERT INTO alert_grouping.alerts
                (project_id, monitor_id, severity, title, labels, dedup_key, created_at)
            SELECT e.project_id, demo.monitor_id(e.project_id, e.monitor), e.severity, e.title,
                   e.labels, e.dedup_key, e.at
              FROM demo.events AS e
             WHERE e.via = 'insert' AND e.at >= lo AND e.at < hi
             ORDER BY e.at, e.seq
            OFFSET c * 400 LIMIT 400;
        END LOOP;
    END LOOP;
END
$$;

-- The live part: PagerDuty Events v2-shaped calls, one ingest_batch per 3 minutes of events.
-- (acknowledge and resolve events take effect when they arrive, i.e. now.)
CREATE TABLE demo.pagerduty_calls AS
SELECT e.project_id, floor(extract(epoch FROM e.at - c.day_start) / 180) AS call,
       jsonb_agg(CASE e.action
           WHEN 'trigger' THEN jsonb_build_object(
               'event_action', 'trigger',
               'dedup_key', e.dedup_key,
               'monitor_id', demo.monitor_id(e.project_id, e.monitor),
               'labels', e.labels,
               'payload', jsonb_build_object(
                   'summary', e.title,
                   'severity', CASE e.severity WHEN 'high' THEN 'error' WHEN 'medium' THEN 'warning'
                                               ELSE e.severity::text END,
                   'source', e.monitor,
                   'timestamp', e.at,
                   'custom_details', jsonb_build_object('runbook', 'https://runbooks.example/' || replace(e.monitor, ' ', '-'))))
           ELSE jsonb_build_object('event_action', e.action, 'dedup_key', e.dedup_key) END
           ORDER BY e.at, e.seq) AS events
  FROM demo.events AS e, demo.clock AS c
 WHERE e.via = 'pagerduty'
 GROUP BY 1, 2;

DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM demo.pagerduty_calls ORDER BY call, project_id LOOP
        PERFORM alert_grouping.ingest_batch(p.project_id, p.events);
    END LOOP;
END
$$;

ANALYZE;
