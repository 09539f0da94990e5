-- Status page components: their status from their monitors (worst, majority, any_failure),
-- maintenance, the history written on every change, and component uptime.
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000181', 'status page');
INSERT INTO alert_grouping.status_page_components (project_id, id, name, aggregation) VALUES
    ('00000000-0000-0000-0000-000000000181', '00000000-0000-0000-0000-0000000018c1', 'API', 'worst'),
    ('00000000-0000-0000-0000-000000000181', '00000000-0000-0000-0000-0000000018c2', 'Web', 'majority'),
    ('00000000-0000-0000-0000-000000000181', '00000000-0000-0000-0000-0000000018c3', 'Search', 'any_failure');
INSERT INTO alert_grouping.monitors (project_id, id, name, alert_after_failures, auto_create_alerts, component_id)
SELECT '00000000-0000-0000-0000-000000000181', ('00000000-0000-0000-0000-0000000018' || v.n)::uuid, 'probe ' || v.n, 1, false, v.c::uuid
  FROM (VALUES ('a1', '00000000-0000-0000-0000-0000000018c1'), ('a2', '00000000-0000-0000-0000-0000000018c1'),
               ('b1', '00000000-0000-0000-0000-0000000018c2'), ('b2', '00000000-0000-0000-0000-0000000018c2'),
               ('b3', '00000000-0000-0000-0000-0000000018c2'),
               ('d1', '00000000-0000-0000-0000-0000000018c3'), ('d2', '00000000-0000-0000-0000-0000000018c3')) AS v(n, c);
CREATE VIEW public.components AS
SELECT name, aggregation, status, status_since FROM alert_grouping.status_page_components
 WHERE project_id = '00000000-0000-0000-0000-000000000181' ORDER BY name;
CREATE FUNCTION public.check(monitor text, at timestamptz, ok boolean) RETURNS void LANGUAGE sql AS $$
    INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
    VALUES ('00000000-0000-0000-0000-000000000181', ('00000000-0000-0000-0000-0000000018' || monitor)::uuid, at, ok);
$$;
-- Everything up: operational (the first check of each monitor changes nothing: up is the start).
SELECT alert_grouping.run_maintenance('2026-11-21 09:00+00') ->> 'components_changed' AS changed;
SELECT * FROM public.components;
-- One monitor of each down: API (worst) is in a major outage, Web (majority: 1 of 3) and
-- Search (any_failure: 1 of 2) in a partial one.
SELECT public.check(m, '2026-11-21 10:00+00', false) FROM unnest(ARRAY['a1', 'b1', 'd1']) AS m;
SELECT * FROM public.components;
-- A second of Web's (2 of 3: a majority) and Search's last (all): major outages.
SELECT public.check(m, '2026-11-21 10:10+00', false) FROM unnest(ARRAY['b2', 'd2']) AS m;
SELECT * FROM public.components;
-- Recovery.
SELECT public.check(m, '2026-11-21 10:30+00', true) FROM unnest(ARRAY['a1', 'b1', 'b2', 'd1', 'd2']) AS m;
SELECT * FROM public.components;
-- Search's monitors in maintenance: under maintenance while the window runs (the maintenance
-- pass sees it start and end).
INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at, monitor_ids) VALUES
    ('00000000-0000-0000-0000-000000000181', '2026-11-21 11:00+00', '2026-11-21 12:00+00',
     ARRAY['00000000-0000-0000-0000-0000000018d1', '00000000-0000-0000-0000-0000000018d2']::uuid[]);
SELECT alert_grouping.run_maintenance('2026-11-21 11:00+00') ->> 'components_changed' AS changed;
SELECT alert_grouping.run_maintenance('2026-11-21 11:30+00') ->> 'components_changed' AS changed;
SELECT alert_grouping.run_maintenance('2026-11-21 12:00+00') ->> 'components_changed' AS changed;
SELECT * FROM public.components;
-- The history: every change, with what it was made of.
SELECT c.name, h.status, h.since, h.monitors_down, h.monitors_in_maintenance, h.monitors
  FROM alert_grouping.status_page_component_history h
  JOIN alert_grouping.status_page_components c ON c.project_id = h.project_id AND c.id = h.component_id
 WHERE h.project_id = '00000000-0000-0000-0000-000000000181' ORDER BY c.name, h.since, h.id;
-- Component uptime, 09:00 to 13:00: operational over operational and outage time.
SELECT c.name, round(alert_grouping.component_uptime('00000000-0000-0000-0000-000000000181', c.id::uuid,
                                                     '2026-11-21 09:00+00', '2026-11-21 13:00+00'), 6) AS uptime
  FROM (VALUES ('API', '00000000-0000-0000-0000-0000000018c1'), ('Search', '00000000-0000-0000-0000-0000000018c3'),
               ('Web', '00000000-0000-0000-0000-0000000018c2')) AS c(name, id);
-- Short outages inside one statement of check results (a checker's batch): each change of a
-- monitor is a change of its component, in time order, though the monitor ends up as it began.
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
SELECT '00000000-0000-0000-0000-000000000181', ('00000000-0000-0000-0000-0000000018' || v.m)::uuid, v.at::timestamptz, v.ok
  FROM (VALUES ('a2', '2026-11-21 13:00+00', false), ('a2', '2026-11-21 13:05+00', true),
               ('b3', '2026-11-21 13:02+00', false), ('b3', '2026-11-21 13:03+00', true),
               ('b1', '2026-11-21 13:02+00', false), ('b1', '2026-11-21 13:04+00', true),
               ('a1', '2026-11-21 13:01+00', true)) AS v(m, at, ok);
SELECT c.name, h.status, h.since, h.monitors_down
  FROM alert_grouping.status_page_component_history h
  JOIN alert_grouping.status_page_components c ON c.project_id = h.project_id AND c.id = h.component_id
 WHERE h.project_id = '00000000-0000-0000-0000-000000000181' AND h.since >= '2026-11-21 13:00+00'
 ORDER BY h.since, c.name;
SELECT * FROM public.components;
\set VERBOSITY terse
INSERT INTO alert_grouping.status_page_components (project_id, name, aggregation) VALUES ('00000000-0000-0000-0000-000000000181', 'x', 'average');
SELECT alert_grouping.component_uptime('00000000-0000-0000-0000-000000000181', '00000000-0000-0000-0000-0000000018ff', now() - interval '1 day', now());
\set VERBOSITY default
DROP VIEW public.components;
DROP FUNCTION public.check(text, timestamptz, boolean);
