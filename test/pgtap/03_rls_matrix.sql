-- The row-level security matrix, exercised as ordinary login roles (NOSUPERUSER NOBYPASSRLS,
-- not table owners), in two modes:
--   mapped: each persona is its own database role, mapped to its member row by db_role;
--   app:    one unmapped application role acts for each persona with
--           SET LOCAL alert_grouping.user_id = '<uuid>'.
-- The same assertions run in both modes (pg_temp.matrix(mode)), so a failure in one mode
-- only points at the identity mechanism, and a failure in both at the policies.
--
-- pgTAP 1.2 grants its temp tables and sequences to PUBLIC, and the session's temp schema is
-- usable by any role holding TEMP on the database, so pgTAP's functions work after SET ROLE:
-- each statement under test runs as the role it names, inside throws_ok / lives_ok / set_eq.
BEGIN;
SELECT plan(174);

------------------------------------------------------------------------------------------
-- Constants, roles, helpers
------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.k(what text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE what
        WHEN 'p1' THEN 'a1000000-0000-0000-0000-000000000001'
        WHEN 'p2' THEN 'a2000000-0000-0000-0000-000000000002'
        WHEN 'admin1' THEN 'b0000000-0000-0000-0000-000000000011'
        WHEN 'resp1' THEN 'b0000000-0000-0000-0000-000000000012'
        WHEN 'view1' THEN 'b0000000-0000-0000-0000-000000000013'
        WHEN 'admin2' THEN 'b0000000-0000-0000-0000-000000000021'
        WHEN 'stranger' THEN 'b0000000-0000-0000-0000-000000000099'
        WHEN 'r1' THEN 'c1000000-0000-0000-0000-000000000001'
        WHEN 'r2' THEN 'c2000000-0000-0000-0000-000000000002'
        WHEN 't1' THEN 'd1000000-0000-0000-0000-000000000001'
        WHEN 't2' THEN 'd2000000-0000-0000-0000-000000000002'
        WHEN 'l1' THEN 'e1000000-0000-0000-0000-000000000001'
        WHEN 'l2' THEN 'e2000000-0000-0000-0000-000000000002'
        WHEN 'm1' THEN 'f1000000-0000-0000-0000-000000000001'
        WHEN 'm2' THEN 'f2000000-0000-0000-0000-000000000002'
        WHEN 's1' THEN 'a1000000-0000-0000-0000-00000000005a'
        WHEN 's2' THEN 'a2000000-0000-0000-0000-00000000005a'
        WHEN 'e1' THEN 'a1000000-0000-0000-0000-00000000005e'
        WHEN 'e2' THEN 'a2000000-0000-0000-0000-00000000005e'
        WHEN 'c1' THEN 'a1000000-0000-0000-0000-0000000000c1'
        WHEN 'c2' THEN 'a2000000-0000-0000-0000-0000000000c2'
        WHEN 'si1' THEN 'a1000000-0000-0000-0000-0000000000f1'
        WHEN 'si2' THEN 'a2000000-0000-0000-0000-0000000000f2'
    END::uuid
$$;

CREATE ROLE tap_admin1 LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE ROLE tap_resp1 LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE ROLE tap_view1 LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE ROLE tap_admin2 LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE ROLE tap_app LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
-- tap_app is the application login: only it may act for the user it names.
SELECT alert_grouping.grant_access(r, act_for_users => r = 'tap_app')
  FROM unnest(ARRAY['tap_admin1', 'tap_resp1', 'tap_view1', 'tap_admin2', 'tap_app']) AS r;

-- Switches identity. persona: admin1, resp1, view1, admin2, stranger, none (the application
-- role with no user id), super (back to the superuser). claimed: a user id the persona's own
-- role sets in mapped mode (an impersonation attempt).
CREATE FUNCTION pg_temp.act(mode text, persona text, claimed uuid DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RESET ROLE;
    PERFORM set_config('alert_grouping.user_id', '', true);
    IF persona = 'super' THEN
        RETURN;
    ELSIF mode = 'mapped' AND persona NOT IN ('none', 'stranger') THEN
        EXECUTE format('SET LOCAL ROLE %I', 'tap_' || persona);
        PERFORM set_config('alert_grouping.user_id', COALESCE(claimed::text, ''), true);
    ELSE
        SET LOCAL ROLE tap_app;
        PERFORM set_config('alert_grouping.user_id', COALESCE(pg_temp.k(persona)::text, ''), true);
    END IF;
END
$$;

-- Tables of the schema that carry project_id (the tenant tables), from the catalog.
CREATE FUNCTION pg_temp.tenant_tables() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT c.relname::text FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_attribute AS a
        ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
     WHERE c.relnamespace = 'alert_grouping'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition  -- read through their parent
$$;

-- (table, project) for every project whose rows the current identity sees, per tenant table
-- and in projects.
CREATE FUNCTION pg_temp.visible() RETURNS TABLE (tbl text, project uuid) LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT * FROM pg_temp.tenant_tables() LOOP
        RETURN QUERY EXECUTE format(
            'SELECT DISTINCT %L::text, x.project_id FROM alert_grouping.%I AS x', t, t);
    END LOOP;
    RETURN QUERY SELECT 'projects'::text, p.id FROM alert_grouping.projects AS p;
END
$$;

-- What visible() returns for a member of exactly the given projects.
CREATE FUNCTION pg_temp.expected(projects uuid[]) RETURNS TABLE (tbl text, project uuid)
LANGUAGE sql STABLE AS $$
    SELECT t.t, p.p FROM (SELECT * FROM pg_temp.tenant_tables() UNION ALL SELECT 'projects') AS t(t)
     CROSS JOIN unnest(projects) AS p(p)
$$;

-- Rows a statement touched, or NULL if it raised (the assertion then fails with NULL).
CREATE FUNCTION pg_temp.rowcount(sql text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE sql;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'rowcount(%): % %', sql, SQLSTATE, SQLERRM;
    RETURN NULL;
END
$$;

-- Runs a statement and swallows any error (for attempts whose effect is asserted after).
CREATE FUNCTION pg_temp.attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

------------------------------------------------------------------------------------------
-- Seed both projects as the superuser
------------------------------------------------------------------------------------------
INSERT INTO alert_grouping.projects (id, name)
VALUES (pg_temp.k('p1'), 'P1'), (pg_temp.k('p2'), 'P2');
INSERT INTO alert_grouping.project_members (project_id, user_id, db_role, role) VALUES
    (pg_temp.k('p1'), pg_temp.k('admin1'), 'tap_admin1', 'admin'),
    (pg_temp.k('p1'), pg_temp.k('resp1'), 'tap_resp1', 'responder'),
    (pg_temp.k('p1'), pg_temp.k('view1'), 'tap_view1', 'viewer'),
    (pg_temp.k('p2'), pg_temp.k('admin2'), 'tap_admin2', 'admin');
INSERT INTO alert_grouping.project_flag_overrides (project_id, flag, enabled)
VALUES (pg_temp.k('p1'), 'grouping', true), (pg_temp.k('p2'), 'grouping', true);
INSERT INTO alert_grouping.teams (project_id, id, name)
VALUES (pg_temp.k('p1'), pg_temp.k('t1'), 'ops'), (pg_temp.k('p2'), pg_temp.k('t2'), 'ops');
INSERT INTO alert_grouping.team_members (project_id, team_id, user_id)
VALUES (pg_temp.k('p1'), pg_temp.k('t1'), pg_temp.k('resp1')),
       (pg_temp.k('p2'), pg_temp.k('t2'), pg_temp.k('admin2'));
INSERT INTO alert_grouping.labels (project_id, id, name)
VALUES (pg_temp.k('p1'), pg_temp.k('l1'), 'db'), (pg_temp.k('p2'), pg_temp.k('l2'), 'db');
-- Priority 10: rules that personas manage to create later (default 100) never shadow it.
INSERT INTO alert_grouping.grouping_rules
    (project_id, id, name, priority, grouping_config, episode_config)
VALUES (pg_temp.k('p1'), pg_temp.k('r1'), 'by run', 10, '{"group_by": ["labels.run"]}',
        jsonb_build_object('owner_user_ids', jsonb_build_array(pg_temp.k('resp1')),
                           'owner_team_ids', jsonb_build_array(pg_temp.k('t1')),
                           'label_ids', jsonb_build_array(pg_temp.k('l1')))),
       (pg_temp.k('p2'), pg_temp.k('r2'), 'by run', 10, '{"group_by": ["labels.run"]}',
        jsonb_build_object('owner_user_ids', jsonb_build_array(pg_temp.k('admin2')),
                           'owner_team_ids', jsonb_build_array(pg_temp.k('t2')),
                           'label_ids', jsonb_build_array(pg_temp.k('l2'))));
-- One episode per mode in P1 (each mode acts on its own), one in P2.
INSERT INTO alert_grouping.alerts (project_id, title, labels) VALUES
    (pg_temp.k('p1'), 'seed mapped', '{"run": "mapped"}'),
    (pg_temp.k('p1'), 'seed app', '{"run": "app"}'),
    (pg_temp.k('p2'), 'seed p2', '{"run": "mapped"}'),
    (pg_temp.k('p2'), 'seed p2 again', '{"run": "mapped"}');
INSERT INTO alert_grouping.engine_errors (project_id, alert_ids, sqlstate, message)
VALUES (pg_temp.k('p1'), '{}', 'XX000', 'seeded'), (pg_temp.k('p2'), '{}', 'XX000', 'seeded');
-- 0.5: a monitor with a result, a maintenance window, and incidents (one per mode in P1).
INSERT INTO alert_grouping.monitors (project_id, id, name)
VALUES (pg_temp.k('p1'), pg_temp.k('m1'), 'web'), (pg_temp.k('p2'), pg_temp.k('m2'), 'web');
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
VALUES (pg_temp.k('p1'), pg_temp.k('m1'), now(), true), (pg_temp.k('p2'), pg_temp.k('m2'), now(), true);
INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at)
VALUES (pg_temp.k('p1'), now() - interval '2 days', now() - interval '1 day'),
       (pg_temp.k('p2'), now() - interval '2 days', now() - interval '1 day');
INSERT INTO alert_grouping.incidents (project_id, title)
VALUES (pg_temp.k('p1'), 'seed incident mapped'), (pg_temp.k('p1'), 'seed incident app'),
       (pg_temp.k('p2'), 'seed incident p2');

-- 0.6: a schedule with an override, a policy paging through it, and an incident paged once.
INSERT INTO alert_grouping.on_call_schedules (project_id, id, name, layers)
VALUES (pg_temp.k('p1'), pg_temp.k('s1'), 'primary',
        jsonb_build_array(jsonb_build_object('rotation_start', '2026-01-01T00:00:00Z', 'turn_length_hours', 24,
                                             'members', jsonb_build_array(pg_temp.k('resp1'))))),
       (pg_temp.k('p2'), pg_temp.k('s2'), 'primary',
        jsonb_build_array(jsonb_build_object('rotation_start', '2026-01-01T00:00:00Z', 'turn_length_hours', 24,
                                             'members', jsonb_build_array(pg_temp.k('admin2')))));
INSERT INTO alert_grouping.on_call_overrides (project_id, schedule_id, user_id, starts_at, ends_at)
VALUES (pg_temp.k('p1'), pg_temp.k('s1'), pg_temp.k('admin1'), '2000-01-01', '2000-01-02'),
       (pg_temp.k('p2'), pg_temp.k('s2'), pg_temp.k('admin2'), '2000-01-01', '2000-01-02');
INSERT INTO alert_grouping.escalation_policies (project_id, id, name, levels)
VALUES (pg_temp.k('p1'), pg_temp.k('e1'), 'page',
        jsonb_build_array(jsonb_build_object('delay_minutes', 5, 'targets',
            jsonb_build_array(jsonb_build_object('type', 'schedule', 'id', pg_temp.k('s1')))))),
       (pg_temp.k('p2'), pg_temp.k('e2'), 'page',
        jsonb_build_array(jsonb_build_object('delay_minutes', 5, 'targets',
            jsonb_build_array(jsonb_build_object('type', 'schedule', 'id', pg_temp.k('s2'))))));
INSERT INTO alert_grouping.incidents (project_id, title, escalation_policy_id)
VALUES (pg_temp.k('p1'), 'seed paged', pg_temp.k('e1')), (pg_temp.k('p2'), 'seed paged', pg_temp.k('e2'));
SELECT alert_grouping.process_escalations(now()) AS seeded_notifications \gset

-- 0.7: a component of the monitor, and the monitor's rollups.
INSERT INTO alert_grouping.status_page_components (project_id, id, name)
VALUES (pg_temp.k('p1'), pg_temp.k('c1'), 'web'), (pg_temp.k('p2'), pg_temp.k('c2'), 'web');
UPDATE alert_grouping.monitors SET component_id = CASE project_id WHEN pg_temp.k('p1') THEN pg_temp.k('c1') ELSE pg_temp.k('c2') END;
SELECT alert_grouping.refresh_component_status(p, NULL, now()) FROM unnest(ARRAY[pg_temp.k('p1'), pg_temp.k('p2')]) AS p;
SELECT alert_grouping.rollup_uptime(now() + interval '2 hours') AS seeded_buckets \gset
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
VALUES (pg_temp.k('p1'), pg_temp.k('m1'), now() - interval '10 days', true), (pg_temp.k('p2'), pg_temp.k('m2'), now() - interval '10 days', true);
-- 0.8: an integration each.
SELECT alert_grouping.create_integration(p, 'alertmanager', 'alertmanager') IS NOT NULL
  FROM unnest(ARRAY[pg_temp.k('p1'), pg_temp.k('p2')]) AS p;
-- 0.8: a silence and a maintenance schedule each (the schedule starts in two months).
INSERT INTO alert_grouping.silences (project_id, id, matchers, ends_at)
VALUES (pg_temp.k('p1'), pg_temp.k('si1'), '{"alertname=seed"}', now() + interval '1 day'),
       (pg_temp.k('p2'), pg_temp.k('si2'), '{"alertname=seed"}', now() + interval '1 day');
INSERT INTO alert_grouping.maintenance_schedules (project_id, days, local_from, local_to, starts_at)
VALUES (pg_temp.k('p1'), '{7}', '01:00', '02:00', now() + interval '60 days'),
       (pg_temp.k('p2'), '{7}', '01:00', '02:00', now() + interval '60 days');

-- The seed is complete: as the superuser, every tenant table has rows of both projects, so
-- the visibility checks below compare non-empty sets.
SELECT set_eq('SELECT * FROM pg_temp.visible()',
              format('SELECT * FROM pg_temp.expected(%L)', ARRAY[pg_temp.k('p1'), pg_temp.k('p2')]),
              'seed: every tenant table and projects hold rows of both P1 and P2');
SELECT is_empty($$
    SELECT rolname FROM pg_catalog.pg_roles
     WHERE rolname LIKE 'tap\_%' AND (rolsuper OR rolbypassrls
           OR oid IN (SELECT relowner FROM pg_catalog.pg_class
                       WHERE relnamespace = 'alert_grouping'::regnamespace))$$,
    'the test roles are ordinary: no superuser, no BYPASSRLS, own no table');

------------------------------------------------------------------------------------------
-- The matrix: 58 assertions in mapped mode, 59 in app mode (2 + 58 + 59 + 3 = 122)
------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.matrix(mode text) RETURNS SETOF text LANGUAGE plpgsql AS $matrix$
DECLARE
    p1 uuid := pg_temp.k('p1');
    p2 uuid := pg_temp.k('p2');
    r1 uuid := pg_temp.k('r1');
    tag text := format(' [%s]', mode);
    ep uuid;          -- this mode's P1 episode
    seed_alert uuid;  -- its seeded alert
    owner_role text;  -- the owner of the SECURITY DEFINER functions
    login_role text := CASE mode WHEN 'mapped' THEN 'tap_admin1' ELSE 'tap_app' END;
    ins_alert text;
    persona text;
    inc uuid;
BEGIN
    PERFORM pg_temp.act(mode, 'super');
    SELECT a.id, a.episode_id INTO STRICT seed_alert, ep FROM alert_grouping.alerts AS a
     WHERE a.project_id = p1 AND a.title = 'seed ' || mode;
    SELECT p.proowner::regrole::text INTO owner_role FROM pg_catalog.pg_proc AS p
     WHERE p.oid = 'alert_grouping.current_user_id()'::regprocedure;
    ins_alert := format($$INSERT INTO alert_grouping.alerts (project_id, title, labels)
                          VALUES (%L, 'resp alert %s', '{"run": "%s"}')$$, p1, mode, mode);

    -- A. Who the engine thinks is acting (4)
    FOREACH persona IN ARRAY ARRAY['admin1', 'resp1', 'view1', 'admin2'] LOOP
        PERFORM pg_temp.act(mode, persona);
        RETURN NEXT is(alert_grouping.current_user_id(), pg_temp.k(persona),
                       persona || ': current_user_id() is its member user' || tag);
    END LOOP;

    -- B. Each persona sees exactly its project's rows in every tenant table and projects (4)
    PERFORM pg_temp.act(mode, 'admin1');
    RETURN NEXT set_eq('SELECT * FROM pg_temp.visible()', format('SELECT * FROM pg_temp.expected(%L)', ARRAY[p1]),
                       'admin1 sees P1 rows, and only P1 rows, in every tenant table' || tag);
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT set_eq('SELECT * FROM pg_temp.visible()', format('SELECT * FROM pg_temp.expected(%L)', ARRAY[p1]),
                       'resp1 sees P1 rows, and only P1 rows, in every tenant table' || tag);
    PERFORM pg_temp.act(mode, 'view1');
    RETURN NEXT set_eq('SELECT * FROM pg_temp.visible()', format('SELECT * FROM pg_temp.expected(%L)', ARRAY[p1]),
                       'view1 sees P1 rows, and only P1 rows, in every tenant table' || tag);
    PERFORM pg_temp.act(mode, 'admin2');
    RETURN NEXT set_eq('SELECT * FROM pg_temp.visible()', format('SELECT * FROM pg_temp.expected(%L)', ARRAY[p2]),
                       'admin2 sees P2 rows and nothing of P1 in every tenant table' || tag);

    -- C. The viewer reads only (7)
    PERFORM pg_temp.act(mode, 'view1');
    RETURN NEXT throws_ok(ins_alert, '42501', 'new row violates row-level security policy for table "alerts"',
                          'view1 cannot INSERT an alert into P1' || tag);
    RETURN NEXT throws_ok(format($$SELECT alert_grouping.ingest(%L, '{"payload": {"summary": "x"}}')$$, p1),
                          '42501', format('permission denied to ingest alerts in project %s', p1),
                          'view1 cannot ingest into P1' || tag);
    RETURN NEXT throws_ok(format('SELECT alert_grouping.acknowledge_episode(%L, %L)', p1, ep),
                          '42501', format('permission denied to change episodes in project %s', p1),
                          'view1 cannot acknowledge a P1 episode' || tag);
    RETURN NEXT throws_ok(format('SELECT alert_grouping.resolve_episode(%L, %L)', p1, ep),
                          '42501', format('permission denied to change episodes in project %s', p1),
                          'view1 cannot resolve a P1 episode' || tag);
    RETURN NEXT is(pg_temp.rowcount(format($$UPDATE alert_grouping.episodes SET title = 'x' WHERE project_id = %L$$, p1)),
                   0::bigint, 'view1 updates no P1 episode' || tag);
    RETURN NEXT is(pg_temp.rowcount(format('DELETE FROM alert_grouping.alerts WHERE project_id = %L', p1)),
                   0::bigint, 'view1 deletes no P1 alert' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.grouping_rules (project_id, name) VALUES (%L, 'v')$$, p1),
                          '42501', 'new row violates row-level security policy for table "grouping_rules"',
                          'view1 cannot create a rule in P1' || tag);

    -- D. The responder ingests, acknowledges and resolves in P1, and no more (17)
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT lives_ok(ins_alert, 'resp1 can INSERT an alert into P1' || tag);
    RETURN NEXT is((SELECT a.episode_id FROM alert_grouping.alerts AS a
                     WHERE a.project_id = p1 AND a.title = 'resp alert ' || mode),
                   ep, 'the engine grouped resp1''s alert into the open episode of its key' || tag);
    RETURN NEXT lives_ok(format($$SELECT alert_grouping.ingest(%L, '{"payload": {"summary": "resp ingest %s"}, "labels": {"run": "%s"}}')$$,
                                p1, mode, mode),
                         'resp1 can ingest into P1' || tag);
    PERFORM pg_temp.act(mode, 'super');
    RETURN NEXT is((SELECT e.alert_count FROM alert_grouping.episodes AS e WHERE e.id = ep), 3,
                   'the episode counts the seeded alert and resp1''s two' || tag);
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT lives_ok(format('SELECT alert_grouping.acknowledge_episode(%L, %L)', p1, ep),
                         'resp1 can acknowledge a P1 episode' || tag);
    PERFORM pg_temp.act(mode, 'super');
    RETURN NEXT results_eq(
        format($$SELECT e.state::text, (SELECT array_agg(DISTINCT a.state::text) FROM alert_grouping.alerts AS a
                                         WHERE a.episode_id = e.id) FROM alert_grouping.episodes AS e WHERE e.id = %L$$, ep),
        $$VALUES ('acknowledged', ARRAY['acknowledged'])$$,
        'the acknowledgement reached the episode and its alerts' || tag);
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT lives_ok(format('SELECT alert_grouping.resolve_episode(%L, %L)', p1, ep),
                         'resp1 can resolve a P1 episode' || tag);
    PERFORM pg_temp.act(mode, 'super');
    RETURN NEXT results_eq(
        format($$SELECT e.state::text, (SELECT array_agg(DISTINCT a.state::text) FROM alert_grouping.alerts AS a
                                         WHERE a.episode_id = e.id) FROM alert_grouping.episodes AS e WHERE e.id = %L$$, ep),
        $$VALUES ('resolved', ARRAY['resolved'])$$,
        'the resolution reached the episode and its alerts' || tag);
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.grouping_rules (project_id, name) VALUES (%L, 'r')$$, p1),
                          '42501', 'new row violates row-level security policy for table "grouping_rules"',
                          'resp1 cannot create a rule in P1' || tag);
    RETURN NEXT is(pg_temp.rowcount(format('UPDATE alert_grouping.grouping_rules SET priority = 1 WHERE project_id = %L', p1)),
                   0::bigint, 'resp1 updates no P1 rule' || tag);
    RETURN NEXT is(pg_temp.rowcount(format('DELETE FROM alert_grouping.grouping_rules WHERE project_id = %L', p1)),
                   0::bigint, 'resp1 deletes no P1 rule' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.alerts (project_id, title) VALUES (%L, 'x')$$, p2),
                          '42501', 'new row violates row-level security policy for table "alerts"',
                          'resp1 cannot INSERT an alert into P2' || tag);
    RETURN NEXT throws_ok(format($$SELECT alert_grouping.ingest(%L, '{"payload": {"summary": "x"}}')$$, p2),
                          'P0002', format('project %s not found', p2),
                          'resp1 cannot ingest into P2 (not found for it)' || tag);
    RETURN NEXT throws_ok(format('UPDATE alert_grouping.alerts SET project_id = %L WHERE project_id = %L AND id = %L',
                                 p2, p1, seed_alert),
                          '42501', 'new row violates row-level security policy for table "alerts"',
                          'resp1 cannot move a P1 alert into P2' || tag);
    RETURN NEXT is(pg_temp.rowcount(format($$UPDATE alert_grouping.alerts SET title = 'x' WHERE project_id = %L$$, p2)),
                   0::bigint, 'resp1 updates no P2 alert' || tag);
    RETURN NEXT throws_ok(format($$SELECT alert_grouping.regroup(%L, %L, '-infinity', 'infinity')$$, p1, r1),
                          '42501', NULL, 'resp1 cannot regroup (admin only)' || tag);
    PERFORM pg_temp.act(mode, 'super');
    RETURN NEXT is((SELECT a.project_id FROM alert_grouping.alerts AS a WHERE a.id = seed_alert), p1,
                   'the alert resp1 tried to move is still in P1' || tag);

    -- E. The admin manages rules in its own project only (5)
    PERFORM pg_temp.act(mode, 'admin1');
    RETURN NEXT lives_ok(format($$INSERT INTO alert_grouping.grouping_rules (project_id, name, priority, match_criteria)
                                  VALUES (%L, 'admin rule %s', 1000, '{"title_pattern": "^never$"}')$$, p1, mode),
                         'admin1 can create a rule in P1' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.grouping_rules (project_id, name) VALUES (%L, 'a')$$, p2),
                          '42501', 'new row violates row-level security policy for table "grouping_rules"',
                          'admin1 cannot create a rule in P2' || tag);
    RETURN NEXT is(pg_temp.rowcount(format($$UPDATE alert_grouping.grouping_rules SET description = 'edited' WHERE project_id = %L AND id = %L$$, p1, r1)),
                   1::bigint, 'admin1 can update a P1 rule' || tag);
    RETURN NEXT is(pg_temp.rowcount(format($$UPDATE alert_grouping.grouping_rules SET description = 'edited' WHERE project_id = %L$$, p2)),
                   0::bigint, 'admin1 updates no P2 rule' || tag);
    RETURN NEXT is(pg_temp.rowcount(format($$SELECT * FROM alert_grouping.preview_rule(%L, '{}', '{"group_by": ["labels.run"]}', '-infinity', 'infinity')$$, p1)),
                   2::bigint, 'admin1 can preview a rule over P1 alerts (two groups: the runs)' || tag);

    -- F. The other project's admin can do nothing in P1 (5)
    PERFORM pg_temp.act(mode, 'admin2');
    RETURN NEXT throws_ok(format('SELECT alert_grouping.acknowledge_episode(%L, %L)', p1, ep),
                          'P0002', NULL, 'admin2 cannot acknowledge a P1 episode (not found for it)' || tag);
    RETURN NEXT throws_ok(format($$SELECT * FROM alert_grouping.preview_rule(%L, '{}', '{}', '-infinity', 'infinity')$$, p1),
                          'P0002', NULL, 'admin2 cannot preview over P1 alerts' || tag);
    RETURN NEXT is(pg_temp.rowcount(format($$UPDATE alert_grouping.alerts SET title = 'x' WHERE project_id = %L$$, p1)),
                   0::bigint, 'admin2 updates no P1 alert' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.alerts (project_id, title) VALUES (%L, 'x')$$, p1),
                          '42501', 'new row violates row-level security policy for table "alerts"',
                          'admin2 cannot INSERT an alert into P1' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.project_members (project_id, user_id, role) VALUES (%L, %L, 'admin')$$,
                                 p1, pg_temp.k('admin2')),
                          '42501', 'new row violates row-level security policy for table "project_members"',
                          'admin2 cannot make itself a member of P1' || tag);

    -- G. A project admin cannot reach another project through member rows' db_role (2).
    -- Mapping the role the SECURITY DEFINER functions run as, then the admin's own login role,
    -- to the other project's admin; whether the row is refused or ignored, P2 must stay hidden.
    PERFORM pg_temp.act(mode, 'admin1');
    PERFORM pg_temp.attempt(format($$INSERT INTO alert_grouping.project_members (project_id, user_id, db_role, role)
                                     VALUES (%L, %L, %L, 'viewer')$$, p1, pg_temp.k('admin2'), owner_role));
    RETURN NEXT is_empty(format('SELECT id FROM alert_grouping.projects WHERE id = %L', p2),
                         format('admin1 gains no access to P2 by mapping db_role %s to admin2''s user id', owner_role) || tag);
    PERFORM pg_temp.act(mode, 'super');
    DELETE FROM alert_grouping.project_members WHERE project_id = p1 AND user_id = pg_temp.k('admin2');
    PERFORM pg_temp.act(mode, 'admin1');
    PERFORM pg_temp.attempt(format($$INSERT INTO alert_grouping.project_members (project_id, user_id, db_role, role, created_at)
                                     VALUES (%L, %L, %L, 'viewer', '2000-01-01')$$, p1, pg_temp.k('admin2'), login_role));
    RETURN NEXT is_empty(format('SELECT id FROM alert_grouping.projects WHERE id = %L', p2),
                         format('admin1 gains no access to P2 by mapping its login role %s to admin2''s user id', login_role) || tag);
    PERFORM pg_temp.act(mode, 'super');
    DELETE FROM alert_grouping.project_members WHERE project_id = p1 AND user_id = pg_temp.k('admin2');

    -- I. Monitors and incidents (11): viewers read; responders write check results and
    -- acknowledge and resolve incidents; admins configure monitors and maintenance windows.
    SELECT i.id INTO STRICT inc FROM alert_grouping.incidents AS i
     WHERE i.project_id = p1 AND i.title = 'seed incident ' || mode;
    PERFORM pg_temp.act(mode, 'view1');
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
                                  VALUES (%L, %L, now(), false)$$, p1, pg_temp.k('m1')),
                          '42501', 'new row violates row-level security policy for table "check_results"',
                          'view1 cannot write a check result in P1' || tag);
    RETURN NEXT throws_ok(format('SELECT alert_grouping.acknowledge_incident(%L, %L)', p1, inc),
                          '42501', format('permission denied to change incidents in project %s', p1),
                          'view1 cannot acknowledge a P1 incident' || tag);
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT lives_ok(format($$INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
                                  VALUES (%L, %L, now(), true)$$, p1, pg_temp.k('m1')),
                         'resp1 can write a check result in P1' || tag);
    RETURN NEXT lives_ok(format('SELECT alert_grouping.acknowledge_incident(%L, %L)', p1, inc),
                         'resp1 can acknowledge a P1 incident' || tag);
    RETURN NEXT lives_ok(format($$SELECT alert_grouping.resolve_incident(%L, %L, 'fixed')$$, p1, inc),
                         'resp1 can resolve a P1 incident' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.monitors (project_id, name) VALUES (%L, 'm')$$, p1),
                          '42501', 'new row violates row-level security policy for table "monitors"',
                          'resp1 cannot create a monitor in P1' || tag);
    RETURN NEXT is(pg_temp.rowcount(format('UPDATE alert_grouping.monitors SET alert_after_failures = 9 WHERE project_id = %L', p1)),
                   0::bigint, 'resp1 changes no P1 monitor' || tag);
    PERFORM pg_temp.act(mode, 'admin1');
    RETURN NEXT lives_ok(format($$INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at)
                                  VALUES (%L, now(), now() + interval '1 hour')$$, p1),
                         'admin1 can create a maintenance window in P1' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.monitors (project_id, name) VALUES (%L, 'm')$$, p2),
                          '42501', 'new row violates row-level security policy for table "monitors"',
                          'admin1 cannot create a monitor in P2' || tag);
    PERFORM pg_temp.act(mode, 'admin2');
    RETURN NEXT throws_ok(format('SELECT alert_grouping.resolve_incident(%L, %L)', p1, inc),
                          'P0002', NULL, 'admin2 cannot resolve a P1 incident (not found for it)' || tag);
    PERFORM pg_temp.act(mode, 'super');
    RETURN NEXT results_eq(
        format($$SELECT status::text, (SELECT array_agg(u.kind ORDER BY u.id) FROM alert_grouping.incident_updates AS u
                                        WHERE u.incident_id = i.id)
                   FROM alert_grouping.incidents AS i WHERE i.id = %L$$, inc),
        $$VALUES ('resolved', ARRAY['opened', 'acknowledged', 'resolved'])$$,
        'the incident''s timeline holds what resp1 did' || tag);

    -- J. Escalation and on-call (15): viewers and responders read schedules and who is on
    -- call; responders mark their pages delivered; admins write policies, schedules and
    -- overrides, naming only their project's users, teams and schedules.
    PERFORM pg_temp.act(mode, 'view1');
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.on_call_schedules (project_id, name) VALUES (%L, 's')$$, p1),
                          '42501', 'new row violates row-level security policy for table "on_call_schedules"',
                          'view1 cannot create a schedule in P1' || tag);
    RETURN NEXT is(pg_temp.rowcount(format('UPDATE alert_grouping.notifications SET delivered_at = now() WHERE project_id = %L', p1)),
                   0::bigint, 'view1 marks no P1 page delivered' || tag);
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT results_eq(format('SELECT * FROM alert_grouping.on_call_users(%L, %L, now())', p1, pg_temp.k('s1')),
                           ARRAY[pg_temp.k('resp1')], 'resp1 reads who is on call in P1' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.escalation_policies (project_id, name, levels)
                                  VALUES (%L, 'p', '[{"delay_minutes": 1, "targets": [{"type": "user", "id": "%s"}]}]')$$,
                                 p1, pg_temp.k('resp1')),
                          '42501', 'new row violates row-level security policy for table "escalation_policies"',
                          'resp1 cannot create an escalation policy in P1' || tag);
    RETURN NEXT is(pg_temp.rowcount(format('UPDATE alert_grouping.escalation_policies SET repeat_count = 3 WHERE project_id = %L', p1)),
                   0::bigint, 'resp1 changes no P1 escalation policy' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.on_call_overrides (project_id, schedule_id, user_id, starts_at, ends_at)
                                  VALUES (%L, %L, %L, now(), now() + interval '1 hour')$$, p1, pg_temp.k('s1'), pg_temp.k('resp1')),
                          '42501', 'new row violates row-level security policy for table "on_call_overrides"',
                          'resp1 cannot create an override in P1' || tag);
    RETURN NEXT is(pg_temp.rowcount(format('UPDATE alert_grouping.notifications SET delivered_at = now() WHERE project_id = %L', p1)),
                   1::bigint, 'resp1 marks the P1 page delivered' || tag);
    RETURN NEXT throws_ok(format('UPDATE alert_grouping.notifications SET level = 9 WHERE project_id = %L', p1),
                          '42501', 'permission denied for table notifications',
                          'resp1 cannot rewrite a page' || tag);
    RETURN NEXT throws_ok('SELECT alert_grouping.process_escalations(now())', '42501',
                          'permission denied for function process_escalations',
                          'resp1 cannot run the escalation passes' || tag);
    PERFORM pg_temp.act(mode, 'admin1');
    RETURN NEXT lives_ok(format($$INSERT INTO alert_grouping.escalation_policies (project_id, name, levels)
                                  VALUES (%L, 'p', '[{"delay_minutes": 1, "targets": [{"type": "user", "id": "%s"}, {"type": "schedule", "id": "%s"}]}]')$$,
                                 p1, pg_temp.k('resp1'), pg_temp.k('s1')),
                         'admin1 can create an escalation policy in P1' || tag);
    RETURN NEXT lives_ok(format($$INSERT INTO alert_grouping.on_call_overrides (project_id, schedule_id, user_id, starts_at, ends_at)
                                  VALUES (%L, %L, %L, '2030-01-01', '2030-01-02')$$, p1, pg_temp.k('s1'), pg_temp.k('view1')),
                         'admin1 can create an override in P1' || tag);
    -- Its validation sees no P2 user, so that what it answers tells nothing of P2.
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.escalation_policies (project_id, name, levels)
                                  VALUES (%L, 'p', '[{"delay_minutes": 1, "targets": [{"type": "user", "id": "%s"}]}]')$$,
                                 p2, pg_temp.k('admin2')),
                          '22023', format('levels[0].targets[0].id: user %s is not a member of project %s', pg_temp.k('admin2'), p2),
                          'admin1 cannot create an escalation policy in P2' || tag);
    RETURN NEXT is(pg_temp.rowcount(format('UPDATE alert_grouping.escalation_policies SET repeat_count = 3 WHERE project_id = %L', p2)),
                   0::bigint, 'admin1 changes no P2 escalation policy' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.escalation_policies (project_id, name, levels)
                                  VALUES (%L, 'p', '[{"delay_minutes": 1, "targets": [{"type": "schedule", "id": "%s"}]}]')$$,
                                 p1, pg_temp.k('s2')),
                          '22023', format('levels[0].targets[0].id: schedule %s not found in project %s', pg_temp.k('s2'), p1),
                          'admin1 cannot page through P2''s schedule' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.on_call_overrides (project_id, schedule_id, user_id, starts_at, ends_at)
                                  VALUES (%L, %L, %L, now(), now() + interval '1 hour')$$, p1, pg_temp.k('s1'), pg_temp.k('admin2')),
                          '22023', format('user_id: user %s is not a member of project %s', pg_temp.k('admin2'), p1),
                          'admin1 cannot put P2''s admin on call in P1' || tag);
    PERFORM pg_temp.act(mode, 'super');

    -- K. Uptime and status pages (5): viewers read uptime; admins configure components;
    -- the rollups are the maintenance's to write.
    PERFORM pg_temp.act(mode, 'view1');
    RETURN NEXT lives_ok(format('SELECT alert_grouping.uptime(%L, %L, now() - interval ''1 day'', now())', p1, pg_temp.k('m1')),
                         'view1 reads a P1 monitor''s uptime' || tag);
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.status_page_components (project_id, name) VALUES (%L, 'x')$$, p1),
                          '42501', 'new row violates row-level security policy for table "status_page_components"',
                          'resp1 cannot create a P1 component' || tag);
    RETURN NEXT throws_ok(format('DELETE FROM alert_grouping.uptime_rollups WHERE project_id = %L', p1),
                          '42501', 'permission denied for table uptime_rollups',
                          'resp1 cannot delete P1 rollups' || tag);
    PERFORM pg_temp.act(mode, 'admin1');
    RETURN NEXT lives_ok(format($$INSERT INTO alert_grouping.status_page_components (project_id, name, aggregation) VALUES (%L, 'api', 'majority')$$, p1),
                         'admin1 can create a P1 component' || tag);
    PERFORM pg_temp.act(mode, 'admin2');
    RETURN NEXT throws_ok(format('SELECT alert_grouping.component_uptime(%L, %L, now() - interval ''1 day'', now())', p1, pg_temp.k('c1')),
                          'P0002', NULL, 'admin2 cannot read a P1 component''s uptime (not found for it)' || tag);
    PERFORM pg_temp.act(mode, 'super');

    -- L. Silences and recurring maintenance (6): responders silence and expire; admins
    -- schedule maintenance; another project's silences are not found.
    PERFORM pg_temp.act(mode, 'view1');
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.silences (project_id, matchers, ends_at) VALUES (%L, '{"service=db"}', now() + interval '1 hour')$$, p1),
                          '42501', 'new row violates row-level security policy for table "silences"',
                          'view1 cannot silence in P1' || tag);
    PERFORM pg_temp.act(mode, 'resp1');
    RETURN NEXT lives_ok(format($$INSERT INTO alert_grouping.silences (project_id, matchers, ends_at) VALUES (%L, '{"service=db"}', now() + interval '1 hour')$$, p1),
                         'resp1 silences in P1' || tag);
    RETURN NEXT lives_ok(format('SELECT alert_grouping.expire_silence(%L, %L)', p1, pg_temp.k('si1')),
                         'resp1 expires a P1 silence' || tag);
    RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.maintenance_schedules (project_id, days, local_from, local_to) VALUES (%L, '{1}', '01:00', '02:00')$$, p1),
                          '42501', 'new row violates row-level security policy for table "maintenance_schedules"',
                          'resp1 cannot schedule maintenance in P1' || tag);
    PERFORM pg_temp.act(mode, 'admin1');
    RETURN NEXT lives_ok(format($$INSERT INTO alert_grouping.maintenance_schedules (project_id, days, local_from, local_to, time_zone) VALUES (%L, '{1,3}', '22:00', '02:00', 'Europe/Berlin')$$, p1),
                         'admin1 schedules maintenance in P1' || tag);
    PERFORM pg_temp.act(mode, 'admin2');
    RETURN NEXT throws_ok(format('SELECT alert_grouping.expire_silence(%L, %L)', p1, pg_temp.k('si1')),
                          'P0002', NULL, 'admin2 cannot expire a P1 silence (not found for it)' || tag);
    PERFORM pg_temp.act(mode, 'super');

    -- H. Mode-specific identity rules
    IF mode = 'mapped' THEN  -- (3) a mapped role cannot claim another user
        PERFORM pg_temp.act(mode, 'view1', pg_temp.k('admin1'));
        RETURN NEXT is(alert_grouping.current_user_id(), pg_temp.k('view1'),
                       'view1 claiming admin1 via alert_grouping.user_id is still view1' || tag);
        RETURN NEXT throws_ok(format($$INSERT INTO alert_grouping.grouping_rules (project_id, name) VALUES (%L, 'imp')$$, p1),
                              '42501', 'new row violates row-level security policy for table "grouping_rules"',
                              'view1 claiming admin1 cannot create a rule in P1' || tag);
        PERFORM pg_temp.act(mode, 'view1', pg_temp.k('admin2'));
        RETURN NEXT is_empty(format('SELECT id FROM alert_grouping.projects WHERE id = %L', p2),
                             'view1 claiming admin2 does not see P2' || tag);
    ELSE  -- (4) the application role without a member user id sees and writes nothing
        PERFORM pg_temp.act(mode, 'none');
        RETURN NEXT is(alert_grouping.current_user_id(), NULL::uuid,
                       'app without alert_grouping.user_id acts for nobody' || tag);
        RETURN NEXT is_empty('SELECT * FROM pg_temp.visible()',
                             'app without alert_grouping.user_id sees no row of any tenant table' || tag);
        RETURN NEXT throws_ok(ins_alert, '42501', 'new row violates row-level security policy for table "alerts"',
                              'app without alert_grouping.user_id cannot INSERT alerts' || tag);
        PERFORM pg_temp.act(mode, 'stranger');
        RETURN NEXT is_empty('SELECT * FROM pg_temp.visible()',
                             'app acting for a user who is no member sees no row' || tag);
    END IF;
    PERFORM pg_temp.act(mode, 'super');
END
$matrix$;

SELECT * FROM pg_temp.matrix('mapped');
SELECT * FROM pg_temp.matrix('app');

-- After both runs, as the superuser: P2 was never written by a P1 persona.
SELECT results_eq(
    format($$SELECT count(*)::int FROM alert_grouping.alerts WHERE project_id = %L$$, pg_temp.k('p2')),
    ARRAY[2], 'P2 still holds exactly its two seeded alerts');
SELECT results_eq(
    format($$SELECT count(*)::int FROM alert_grouping.grouping_rules WHERE project_id = %L$$, pg_temp.k('p2')),
    ARRAY[1], 'P2 still holds exactly its one rule');
SELECT results_eq(
    format($$SELECT count(*)::int FROM alert_grouping.project_members WHERE project_id = %L$$, pg_temp.k('p1')),
    ARRAY[3], 'P1 holds exactly its three seeded members');

SELECT * FROM finish();
ROLLBACK;
