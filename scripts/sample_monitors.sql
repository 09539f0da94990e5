-- Sample uptime checks for scripts/demo (after scripts/sample.sql): the last 6 hours of
-- one-minute checks of five monitors, sent in 10-minute batches (one multi-row INSERT per
-- batch) the way a checker would. Minutes below count from 6 hours ago.
--
--   HTTPS checkout (Acme Shop): 12 failed checks at minute 60, alert after 2, recovery after
--       2 successes; auto_create_incident opens an incident that closes with it.
--   Search API (Acme Shop): single and double failures that never reach its threshold of 3
--       (hysteresis at work), then 5 in a row at minute 200.
--   Login (Acme Shop): fails for 16 minutes inside a maintenance window: results stored, no
--       alert.
--   CDN edge (Acme Shop): failing since minute 340, still down: an open incident.
--   Stripe webhooks (Payments): up all along.
-- Three status page components group them: Storefront (checkout, search, login; majority),
-- Edge network (the CDN; worst) and Webhooks (Stripe; any_failure).
-- Needs scripts/sample.sql (the demo schema's clock and monitor ids).

SET client_min_messages = warning;

CREATE TABLE demo.monitor_plan (project_id uuid, monitor text, name text, labels jsonb,
                                after_failures int, after_successes int,
                                severity alert_grouping.severity, incident boolean,
                                failing int4range[]);
INSERT INTO demo.monitor_plan VALUES
('a11ce000-0000-4000-8000-000000000001', 'probe-checkout', 'HTTPS checkout.acme.test',
 '{"env": "prod", "service": "checkout", "probe": "https"}', 2, 2, 'critical', true,
 ARRAY[int4range(60, 72)]),
('a11ce000-0000-4000-8000-000000000001', 'probe-search', 'Search API',
 '{"env": "prod", "service": "search", "probe": "http"}', 3, 1, 'high', false,
 ARRAY[int4range(30, 31), int4range(95, 96), int4range(150, 152), int4range(200, 205)]),
('a11ce000-0000-4000-8000-000000000001', 'probe-login', 'Login page',
 '{"env": "prod", "service": "login", "probe": "https"}', 2, 1, 'high', false,
 ARRAY[int4range(240, 256)]),
('a11ce000-0000-4000-8000-000000000001', 'probe-cdn', 'CDN edge (fra1)',
 '{"env": "prod", "service": "cdn", "probe": "tcp"}', 2, 1, 'critical', true,
 ARRAY[int4range(340, 360)]),
('a11ce000-0000-4000-8000-000000000002', 'probe-stripe', 'Stripe webhooks',
 '{"env": "prod", "service": "webhooks", "probe": "http"}', 2, 1, 'high', false,
 '{}');

-- A status page, opened when the sample starts: Acme's storefront (a majority of its three
-- monitors down is a major outage) and edge network (its one monitor), Payments' webhooks
-- (any failure is a partial outage).
INSERT INTO alert_grouping.status_page_components (project_id, name, description, aggregation) VALUES
    ('a11ce000-0000-4000-8000-000000000001', 'Storefront', 'Checkout, search and login', 'majority'),
    ('a11ce000-0000-4000-8000-000000000001', 'Edge network', 'The CDN in front of the shop', 'worst'),
    ('a11ce000-0000-4000-8000-000000000002', 'Webhooks', 'Payment provider callbacks', 'any_failure');

INSERT INTO alert_grouping.monitors (project_id, id, name, labels, alert_after_failures,
                                     recover_after_successes, severity, auto_create_incident,
                                     component_id)
SELECT p.project_id, demo.monitor_id(p.project_id, p.monitor), p.name, p.labels,
       p.after_failures, p.after_successes, p.severity, p.incident,
       (SELECT c.id FROM alert_grouping.status_page_components AS c
         WHERE c.project_id = p.project_id
           AND c.name = CASE p.monitor WHEN 'probe-cdn' THEN 'Edge network'
                                       WHEN 'probe-stripe' THEN 'Webhooks' ELSE 'Storefront' END)
  FROM demo.monitor_plan AS p;
SELECT alert_grouping.refresh_component_status(pr.id, NULL, c.day_start + interval '18 hours')
  FROM alert_grouping.projects AS pr, demo.clock AS c;

INSERT INTO alert_grouping.maintenance_windows (project_id, title, starts_at, ends_at, monitor_ids)
SELECT 'a11ce000-0000-4000-8000-000000000001', 'Login service database upgrade',
       c.day_start + interval '18 hours' + interval '235 minutes',
       c.day_start + interval '18 hours' + interval '265 minutes',
       ARRAY[demo.monitor_id('a11ce000-0000-4000-8000-000000000001', 'probe-login')]
  FROM demo.clock AS c;

DO $$
DECLARE
    start timestamptz := (SELECT day_start + interval '18 hours' FROM demo.clock);
    batch int;
BEGIN
    FOR batch IN 0..35 LOOP
        INSERT INTO alert_grouping.check_results
            (project_id, monitor_id, checked_at, ok, response_time_ms, status_code, message)
        SELECT p.project_id, demo.monitor_id(p.project_id, p.monitor),
               start + m * interval '1 minute' + interval '7 seconds',
               NOT f.down, CASE WHEN f.down THEN 10000 ELSE 80 + (m * 37) % 60 END,
               CASE WHEN f.down THEN 503 ELSE 200 END,
               CASE WHEN f.down THEN 'HTTP 503 after 10 s' END
          FROM demo.monitor_plan AS p,
               generate_series(batch * 10, batch * 10 + 9) AS m,
               LATERAL (SELECT m <@ ANY (p.failing) AS down) AS f;
    END LOOP;
END
$$;

-- What a scheduler (pg_cron) runs every minute: delayed resolves, inactivity, partitions.
SELECT alert_grouping.run_maintenance();
