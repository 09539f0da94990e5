-- Hardening (0.2): identity that fails closed, privileges limited to the documented API,
-- every function's search_path pinned, internal functions out of reach, 64-bit advisory
-- locks. Each block names the 0.1 defect it covers.
--
-- Ordinary login roles (NOSUPERUSER NOBYPASSRLS, own no table) act through SET LOCAL ROLE,
-- as in 03_rls_matrix.sql. Statements under test run through pg_temp.q() / pg_temp.seen() /
-- pgTAP's throws_ok and lives_ok, which catch errors: on a version that lacks a function or a
-- privilege, the assertion fails and the file goes on. The one exception is the last test:
-- on 0.1, lock_for_batch() with a NULL title crashes the server (signal 11), so it comes last.
BEGIN;
SELECT plan(62);

------------------------------------------------------------------------------------------
-- Constants and helpers
------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.k(what text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE what
        WHEN 'pa' THEN 'a5000000-0000-0000-0000-00000000000a'
        WHEN 'pb' THEN 'a5000000-0000-0000-0000-00000000000b'
        WHEN 'admin_a' THEN 'b5000000-0000-0000-0000-0000000000a1'
        WHEN 'resp_a' THEN 'b5000000-0000-0000-0000-0000000000a2'
        WHEN 'view_a' THEN 'b5000000-0000-0000-0000-0000000000a3'
        WHEN 'taker' THEN 'b5000000-0000-0000-0000-0000000000a4'
        WHEN 'ren' THEN 'b5000000-0000-0000-0000-0000000000a5'
        WHEN 'member' THEN 'b5000000-0000-0000-0000-0000000000a6'
        WHEN 'admin_b' THEN 'b5000000-0000-0000-0000-0000000000b1'
        WHEN 'ra' THEN 'c5000000-0000-0000-0000-00000000000a'
        WHEN 'rb' THEN 'c5000000-0000-0000-0000-00000000000b'
    END::uuid
$$;

-- The first column of the first row of a statement, as text; 'ERROR <sqlstate>: <message>'
-- when it raises. Runs as the current role.
CREATE FUNCTION pg_temp.q(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE sql INTO r;
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END
$$;

-- Rows a statement touched, or NULL if it raised.
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

-- The projects whose rows the current identity sees, over projects, project_members,
-- grouping_rules, episodes and alerts: sorted, comma-separated; NULL when it sees nothing.
CREATE FUNCTION pg_temp.seen() RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.q($q$
        SELECT string_agg(x, ',' ORDER BY x) FROM (
            SELECT DISTINCT x::text FROM (
                SELECT p.id FROM alert_grouping.projects AS p
                UNION ALL SELECT m.project_id FROM alert_grouping.project_members AS m
                UNION ALL SELECT r.project_id FROM alert_grouping.grouping_rules AS r
                UNION ALL SELECT e.project_id FROM alert_grouping.episodes AS e
                UNION ALL SELECT a.project_id FROM alert_grouping.alerts AS a) AS s(x)) AS d$q$)
$$;

-- Runs a statement with the given search_path (restored afterwards), as the current role:
-- the first column of the first row as text, or 'ERROR <sqlstate>: <message>'.
CREATE FUNCTION pg_temp.with_path(path text, sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    old text := pg_catalog.current_setting('search_path');
    r text;
BEGIN
    PERFORM pg_catalog.set_config('search_path', path, true);
    BEGIN
        EXECUTE sql INTO r;
    EXCEPTION WHEN OTHERS THEN
        r := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
    END;
    PERFORM pg_catalog.set_config('search_path', old, true);
    RETURN r;
END
$$;

-- The documented API: the only functions a grant_access'ed role may execute.
CREATE TEMP TABLE api (sig text) ON COMMIT DROP;
INSERT INTO api VALUES
    ('current_user_id()'), ('member_project_ids(text)'), ('member_project_array(text)'),
    ('has_project_role(uuid,text)'),
    ('flag_enabled(text,uuid)'), ('fingerprint(uuid,text,jsonb)'), ('dedup_key_fingerprint(text)'),
    ('validate_rule(jsonb,jsonb,jsonb)'), ('preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)'),
    ('regroup(uuid,uuid,timestamptz,timestamptz)'), ('ingest(uuid,jsonb)'),
    ('ingest_batch(uuid,jsonb)'), ('acknowledge_episode(uuid,uuid)'), ('resolve_episode(uuid,uuid)'),
    ('add_alert_to_episode(uuid,uuid,uuid)'), ('remove_alert_from_episode(uuid,uuid,uuid)'),
    ('acknowledge_incident(uuid,uuid)'), ('resolve_incident(uuid,uuid,text)'),
    ('on_call_users(uuid,uuid,timestamptz)'), ('uptime(uuid,uuid,timestamptz,timestamptz)'),
    ('uptime_seconds(uuid,uuid,timestamptz,timestamptz)'), ('component_uptime(uuid,uuid,timestamptz,timestamptz)'),
    ('ingest_alertmanager(uuid,jsonb)'), ('ingest_grafana(uuid,jsonb)'),
    ('create_integration(uuid,text,text)'), ('rotate_integration_token(uuid,uuid)'),
    ('ingest_pagerduty(jsonb)'), ('receive_webhook(text,text,jsonb)'), ('expire_silence(uuid,uuid)');
GRANT SELECT ON api TO PUBLIC;
-- PUBLIC's (02_functions_security): every role can execute them.
CREATE TEMP TABLE public_functions (name text) ON COMMIT DROP;
INSERT INTO public_functions VALUES ('membership_is_valid'), ('is_project_member'), ('schedule_time'),
    ('within_restrictions'), ('layer_on_call'), ('schedule_on_call'), ('bucket_floor'), ('multirange_seconds'), ('uptime_hold'),
    ('alertmanager_events'), ('grafana_events'), ('ingest_webhook_events'), ('new_integration_token'),
    ('token_sha256'), ('require_integration_admin'), ('validate_silence_matchers'), ('schedule_occurrences'),
    ('plan_maintenance_schedule');
GRANT SELECT ON public_functions TO PUBLIC;

-- (role, function) pairs where EXECUTE differs from membership in the documented API.
CREATE FUNCTION pg_temp.execute_mismatch(roles text[]) RETURNS TABLE (rolname text, fn text, can_execute boolean)
LANGUAGE sql STABLE AS $$
    SELECT r, p.oid::regprocedure::text, pg_catalog.has_function_privilege(r, p.oid, 'EXECUTE')
      FROM unnest(roles) AS r, pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'alert_grouping'::regnamespace AND p.proname NOT IN (SELECT f.name FROM pg_temp.public_functions AS f)
       AND pg_catalog.has_function_privilege(r, p.oid, 'EXECUTE')
           IS DISTINCT FROM (p.oid IN (SELECT pg_catalog.to_regprocedure('alert_grouping.' || a.sig)
                                         FROM pg_temp.api AS a))
$$;

------------------------------------------------------------------------------------------
-- Roles and seed (as the superuser)
------------------------------------------------------------------------------------------
CREATE ROLE tap5_admin_a LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;   -- admin of A
CREATE ROLE tap5_resp_a LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;    -- responder of A
CREATE ROLE tap5_view_a LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;    -- viewer of A
CREATE ROLE tap5_taker LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;     -- admin of A, the takeover
CREATE ROLE tap5_ren LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;       -- viewer of A, renamed later
CREATE ROLE tap5_member LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;    -- viewer of A, in tap5_group
CREATE ROLE tap5_group NOLOGIN NOSUPERUSER NOBYPASSRLS;             -- unmapped group role
CREATE ROLE tap5_admin_b LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;   -- admin of B
CREATE ROLE tap5_app LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;       -- unmapped, act_for_users
CREATE ROLE tap5_plain LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;     -- unmapped, not act_for_users
CREATE ROLE tap5_revoked LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;   -- granted, then revoked
GRANT tap5_group TO tap5_member;
DO $$
BEGIN
    PERFORM alert_grouping.grant_access(r)
       FROM unnest(ARRAY['tap5_admin_a', 'tap5_resp_a', 'tap5_view_a', 'tap5_taker', 'tap5_ren',
                         'tap5_member', 'tap5_group', 'tap5_admin_b', 'tap5_plain',
                         'tap5_revoked']) AS r;
END
$$;

INSERT INTO alert_grouping.projects (id, name)
VALUES (pg_temp.k('pa'), 'hardening A'), (pg_temp.k('pb'), 'hardening B');
INSERT INTO alert_grouping.project_members (project_id, user_id, db_role, role) VALUES
    (pg_temp.k('pa'), pg_temp.k('admin_a'), 'tap5_admin_a', 'admin'),
    (pg_temp.k('pa'), pg_temp.k('resp_a'), 'tap5_resp_a', 'responder'),
    (pg_temp.k('pa'), pg_temp.k('view_a'), 'tap5_view_a', 'viewer'),
    (pg_temp.k('pa'), pg_temp.k('taker'), 'tap5_taker', 'admin'),
    (pg_temp.k('pa'), pg_temp.k('ren'), 'tap5_ren', 'viewer'),
    (pg_temp.k('pa'), pg_temp.k('member'), 'tap5_member', 'viewer'),
    (pg_temp.k('pb'), pg_temp.k('admin_b'), 'tap5_admin_b', 'admin');
INSERT INTO alert_grouping.grouping_rules (project_id, id, name, priority, grouping_config) VALUES
    (pg_temp.k('pa'), pg_temp.k('ra'), 'A by service', 10, '{"group_by": ["labels.service"]}'),
    (pg_temp.k('pb'), pg_temp.k('rb'), 'B by service', 10, '{"group_by": ["labels.service"]}');
INSERT INTO alert_grouping.alerts (project_id, title, labels) VALUES
    (pg_temp.k('pa'), 'A seed', '{"service": "web"}'),
    (pg_temp.k('pb'), 'B seed', '{"service": "web"}');
-- B's ungrouped alert, matching B's rule: stored while the rule was disabled. regroup() with
-- that rule over a range holding it would group it.
UPDATE alert_grouping.grouping_rules SET enabled = false WHERE project_id = pg_temp.k('pb');
INSERT INTO alert_grouping.alerts (project_id, title, labels)
VALUES (pg_temp.k('pb'), 'B ungrouped', '{"service": "db"}');
UPDATE alert_grouping.grouping_rules SET enabled = true WHERE project_id = pg_temp.k('pb');

SELECT is((SELECT count(*)::int FROM alert_grouping.alerts
            WHERE project_id IN (pg_temp.k('pa'), pg_temp.k('pb')) AND episode_id IS NOT NULL), 2,
          'seed: A and B each have a grouped alert');
SELECT is((SELECT episode_id FROM alert_grouping.alerts WHERE title = 'B ungrouped'), NULL::uuid,
          'seed: B has an ungrouped alert that matches B''s rule');

------------------------------------------------------------------------------------------
-- 1. Privileges: the documented API and nothing else (0.1 granted every internal function:
--    role_is_mapped, user_id_for_role, projects_of_user, lock_fingerprint, lock_for_batch,
--    require_project, insert_alerts, ...).
------------------------------------------------------------------------------------------
SELECT has_function('alert_grouping', 'grant_access', ARRAY['name', 'boolean'],
                    'grant_access(role name, act_for_users boolean) exists');
SELECT is(pg_catalog.pg_get_function_arguments(
              pg_catalog.to_regprocedure('alert_grouping.grant_access(name,boolean)')),
          'role name, act_for_users boolean DEFAULT false',
          'grant_access(role, act_for_users DEFAULT false)');
SELECT has_function('alert_grouping', 'revoke_access', ARRAY['name'], 'revoke_access(role name) exists');
SELECT lives_ok($$SELECT alert_grouping.grant_access('tap5_app', act_for_users => true)$$,
                'grant_access(role, act_for_users => true) succeeds');
SELECT is_empty($$SELECT a.sig FROM pg_temp.api AS a
                   WHERE pg_catalog.to_regprocedure('alert_grouping.' || a.sig) IS NULL$$,
                'every function of the documented API exists');
SELECT set_eq($$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p
                 WHERE p.pronamespace = 'alert_grouping'::regnamespace AND p.proname NOT IN (SELECT f.name FROM pg_temp.public_functions AS f)
                   AND pg_catalog.has_function_privilege('tap5_view_a', p.oid, 'EXECUTE')$$,
              $$SELECT pg_catalog.to_regprocedure('alert_grouping.' || a.sig)::text FROM pg_temp.api AS a$$,
              'a granted (mapped) role can execute exactly the documented API');
SELECT is_empty($$SELECT * FROM pg_temp.execute_mismatch(ARRAY['tap5_admin_a', 'tap5_resp_a',
                     'tap5_group', 'tap5_admin_b', 'tap5_plain'])$$,
                'every role granted without act_for_users can execute exactly the documented API');
SELECT is_empty($$SELECT * FROM pg_temp.execute_mismatch(ARRAY['tap5_app'])$$,
                'a role granted with act_for_users => true can execute exactly the documented API');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'alert_grouping'::regnamespace
       AND p.proname NOT IN ('member_project_array')  -- 02_functions_security
       AND p.proname NOT IN (SELECT f.name FROM pg_temp.public_functions AS f)
       AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')$$,
    'no function of the schema is executable by PUBLIC');

-- revoke_access takes everything back (0.1 has no revoke_access).
SELECT ok(pg_catalog.has_function_privilege('tap5_revoked', 'alert_grouping.ingest(uuid,jsonb)', 'EXECUTE'),
          'revoke_access: before it, the granted role can execute ingest (the next checks are not vacuous)');
SELECT lives_ok($$SELECT alert_grouping.revoke_access('tap5_revoked')$$, 'revoke_access(role) succeeds');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'alert_grouping'::regnamespace
       AND p.proname NOT IN ('member_project_array')  -- PUBLIC's
       AND p.proname NOT IN (SELECT f.name FROM pg_temp.public_functions AS f)
       AND pg_catalog.has_function_privilege('tap5_revoked', p.oid, 'EXECUTE')$$,
    'after revoke_access the role can execute no function of the schema');
SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
     WHERE c.relnamespace = 'alert_grouping'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND pg_catalog.has_table_privilege('tap5_revoked', c.oid, 'SELECT')$$,
    'after revoke_access the role can select no table of the schema');

------------------------------------------------------------------------------------------
-- 2. Every function pins search_path (0.1: the C functions, regroup and preview_rule among
--    them, ran with the caller's search_path).
------------------------------------------------------------------------------------------
SELECT isnt_empty($$SELECT FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
                     WHERE p.pronamespace = 'alert_grouping'::regnamespace AND l.lanname = 'c'$$,
                  'the schema has C functions (the next checks are not vacuous)');
SELECT is_empty($$
    SELECT p.oid::regprocedure, p.proconfig FROM pg_catalog.pg_proc AS p
      JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
     WHERE p.pronamespace = 'alert_grouping'::regnamespace AND l.lanname = 'c'
       AND p.proname NOT IN ('membership_is_valid', 'member_project_array')  -- 02_functions_security
       AND ARRAY(SELECT c FROM unnest(p.proconfig) AS c WHERE c LIKE 'search\_path=%')
           IS DISTINCT FROM ARRAY['search_path=pg_catalog, pg_temp']$$,
    'every C function of the schema has SET search_path = pg_catalog, pg_temp');
SELECT is_empty($$
    SELECT p.oid::regprocedure, p.proconfig FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'alert_grouping'::regnamespace
       AND p.proname NOT IN ('membership_is_valid', 'member_project_array')
       AND ARRAY(SELECT c FROM unnest(p.proconfig) AS c WHERE c LIKE 'search\_path=%')
           IS DISTINCT FROM ARRAY['search_path=pg_catalog, pg_temp']$$,
    'every function of the schema has SET search_path = pg_catalog, pg_temp');

------------------------------------------------------------------------------------------
-- 3. The identity lookups that were callable by anyone with grant_access are gone (0.1:
--    user_id_for_role(name) answered for any role name, projects_of_user(uuid, text) listed
--    any user's projects).
------------------------------------------------------------------------------------------
SELECT ok(pg_catalog.to_regprocedure('alert_grouping.user_id_for_role(name)') IS NULL,
          'user_id_for_role(name) no longer exists');
SELECT ok(pg_catalog.to_regprocedure('alert_grouping.role_is_mapped(name)') IS NULL,
          'role_is_mapped(name) no longer exists');
SELECT ok(pg_catalog.to_regprocedure('alert_grouping.projects_of_user(uuid,text)') IS NULL,
          'projects_of_user(uuid,text) no longer exists');
-- db_role holds the role itself (its OID), not its name (0.1: name, so a rename broke the
-- mapping and a new role with the old name inherited it).
SELECT col_type_is('alert_grouping', 'project_members', 'db_role', 'regrole',
                   'project_members.db_role is a regrole');

------------------------------------------------------------------------------------------
-- 4. Identity fails closed
------------------------------------------------------------------------------------------
-- Baseline: a mapped role is its user, whatever it sets (passes on 0.1 too).
SET LOCAL ROLE tap5_view_a;
SET LOCAL alert_grouping.user_id = 'b5000000-0000-0000-0000-0000000000b1';
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), pg_temp.k('view_a')::text,
          'a mapped role claiming B''s admin is still its own user');
SELECT is(pg_temp.seen(), pg_temp.k('pa')::text, 'a mapped viewer of A sees A''s rows and only A''s');
RESET ROLE;
SET LOCAL alert_grouping.user_id = '';

-- (a) Takeover (0.1: an admin deleted its own member row, so its role was no longer
--     "mapped", and then acted for whatever alert_grouping.user_id named: B's admin).
SET LOCAL ROLE tap5_taker;
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), pg_temp.k('taker')::text,
          'takeover: before the attack the admin of A is its own user');
SELECT pg_temp.rowcount(format('DELETE FROM alert_grouping.project_members WHERE project_id = %L AND user_id = %L',
                               pg_temp.k('pa'), pg_temp.k('taker'))) AS deleted_own_member_row \gset
SET LOCAL alert_grouping.user_id = 'b5000000-0000-0000-0000-0000000000b1';
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), NULL,
          'takeover: after deleting its own member row and claiming B''s admin, current_user_id() is NULL');
SELECT is(pg_temp.q(format('SELECT count(*) FROM alert_grouping.alerts WHERE project_id = %L', pg_temp.k('pb'))),
          '0', 'takeover: sees no alert of B');
SELECT is(pg_temp.q(format('SELECT count(*) FROM alert_grouping.grouping_rules WHERE project_id = %L', pg_temp.k('pb'))),
          '0', 'takeover: sees no rule of B');
SELECT is(pg_temp.q(format('SELECT count(*) FROM alert_grouping.episodes WHERE project_id = %L', pg_temp.k('pb'))),
          '0', 'takeover: sees no episode of B');
SELECT is(pg_temp.rowcount(format($$UPDATE alert_grouping.grouping_rules SET description = 'owned' WHERE project_id = %L$$,
                                  pg_temp.k('pb'))),
          0::bigint, 'takeover: an UPDATE of B''s rules touches no row');
SELECT throws_ok(format($$SELECT alert_grouping.ingest(%L, '{"payload": {"summary": "takeover"}}')$$, pg_temp.k('pb')),
                 NULL, NULL, 'takeover: ingest into B fails');
RESET ROLE;
SET LOCAL alert_grouping.user_id = '';
SELECT is((SELECT count(*)::int FROM alert_grouping.grouping_rules
            WHERE project_id = pg_temp.k('pb') AND description IS NOT NULL), 0,
          'takeover: as the superuser, B''s rules are untouched');

-- (b) Role rename (0.1: db_role was a name; the renamed role lost its user, and a new role
--     created with the old name became that user).
ALTER ROLE tap5_ren RENAME TO tap5_ren_renamed;
SET LOCAL ROLE tap5_ren_renamed;
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), pg_temp.k('ren')::text,
          'rename: the renamed mapped role is still its user');
RESET ROLE;
CREATE ROLE tap5_ren LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
DO $$ BEGIN PERFORM alert_grouping.grant_access('tap5_ren'); END $$;
SET LOCAL ROLE tap5_ren;
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), NULL,
          'rename: a new role with the old name, granted, acts for nobody');
SET LOCAL alert_grouping.user_id = 'b5000000-0000-0000-0000-0000000000a5';
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), NULL,
          'rename: ... even when it names the old role''s user in alert_grouping.user_id');
SELECT is(pg_temp.seen(), NULL, 'rename: the new role with the old name sees nothing');
RESET ROLE;
SET LOCAL alert_grouping.user_id = '';

-- (c) A mapped role switching to an unmapped group role it belongs to (0.1: the group role
--     was unmapped, so it acted for whatever alert_grouping.user_id named).
SET LOCAL ROLE tap5_member;
SET LOCAL ROLE tap5_group;
SET LOCAL alert_grouping.user_id = 'b5000000-0000-0000-0000-0000000000b1';
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), NULL,
          'group role: SET ROLE to an unmapped group role claiming B''s admin acts for nobody');
SELECT is(pg_temp.seen(), NULL, 'group role: ... and sees nothing');
RESET ROLE;
SET LOCAL alert_grouping.user_id = '';

-- (d) An unmapped application role granted with act_for_users => true acts for the user it
--     names, and for nobody without one (0.1: no act_for_users).
SET LOCAL ROLE tap5_app;
SET LOCAL alert_grouping.user_id = 'b5000000-0000-0000-0000-0000000000a2';
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), pg_temp.k('resp_a')::text,
          'act_for_users: the app role acting for A''s responder is that user');
SELECT is(pg_temp.seen(), pg_temp.k('pa')::text, 'act_for_users: ... and sees A only');
SET LOCAL alert_grouping.user_id = 'b5000000-0000-0000-0000-0000000000b1';
SELECT is(pg_temp.seen(), pg_temp.k('pb')::text, 'act_for_users: acting for B''s admin it sees B only');
SET LOCAL alert_grouping.user_id = '';
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), NULL,
          'act_for_users: without alert_grouping.user_id the app role acts for nobody');
SELECT is(pg_temp.seen(), NULL, 'act_for_users: ... and sees nothing');
RESET ROLE;

-- (e) An unmapped role granted without act_for_users acts for nobody, whatever it sets
--     (0.1: any unmapped granted role acted for the user it named).
SET LOCAL ROLE tap5_plain;
SET LOCAL alert_grouping.user_id = 'b5000000-0000-0000-0000-0000000000a2';
SELECT is(pg_temp.q('SELECT alert_grouping.current_user_id()::text'), NULL,
          'no act_for_users: an unmapped role naming A''s responder acts for nobody');
SELECT is(pg_temp.seen(), NULL, 'no act_for_users: ... and sees nothing');
RESET ROLE;
SET LOCAL alert_grouping.user_id = '';

------------------------------------------------------------------------------------------
-- 5. The API's errors for non-members and viewers (with the internal functions no longer
--    granted, the entry points must still tell "not found" from "not allowed").
------------------------------------------------------------------------------------------
SELECT alert_grouping.ingest(pg_temp.k('pa'), '{"payload": {"summary": "api seed"}, "labels": {"service": "api"}}')
       IS NOT NULL AS seeded \gset
SELECT id AS ep_a FROM alert_grouping.episodes WHERE project_id = pg_temp.k('pa') ORDER BY episode_number LIMIT 1 \gset
SET LOCAL ROLE tap5_admin_b;
SELECT throws_ok(format($$SELECT alert_grouping.ingest(%L, '{"payload": {"summary": "x"}}')$$, pg_temp.k('pa')),
                 'P0002', NULL, 'ingest as a non-member (a member of B only): P0002');
SELECT throws_ok(format('SELECT alert_grouping.acknowledge_episode(%L, %L)', pg_temp.k('pa'), :'ep_a'),
                 'P0002', NULL, 'acknowledge_episode as a non-member: P0002');
SELECT throws_ok(format('SELECT alert_grouping.resolve_episode(%L, %L)', pg_temp.k('pa'), :'ep_a'),
                 'P0002', NULL, 'resolve_episode as a non-member: P0002');
RESET ROLE;
SET LOCAL ROLE tap5_plain;
SELECT throws_ok(format($$SELECT alert_grouping.ingest(%L, '{"payload": {"summary": "x"}}')$$, pg_temp.k('pa')),
                 'P0002', NULL, 'ingest as a granted role acting for nobody: P0002');
RESET ROLE;
SET LOCAL ROLE tap5_view_a;
SELECT throws_ok(format($$SELECT alert_grouping.ingest(%L, '{"payload": {"summary": "x"}}')$$, pg_temp.k('pa')),
                 '42501', NULL, 'ingest as a viewer: 42501');
SELECT throws_ok(format('SELECT alert_grouping.acknowledge_episode(%L, %L)', pg_temp.k('pa'), :'ep_a'),
                 '42501', NULL, 'acknowledge_episode as a viewer: 42501');
SELECT throws_ok(format('SELECT alert_grouping.resolve_episode(%L, %L)', pg_temp.k('pa'), :'ep_a'),
                 '42501', NULL, 'resolve_episode as a viewer: 42501');
RESET ROLE;
SELECT is((SELECT state::text FROM alert_grouping.episodes WHERE id = :'ep_a'), 'open',
          'the episode the viewer and the non-member tried to change is still open');

------------------------------------------------------------------------------------------
-- 6. search_path hijack (0.1: regroup and preview_rule, C functions without a pinned
--    search_path, resolved "=" through the caller's path; an admin of A with an operator
--    evil.= (uuid, uuid) that is always true passed the project checks and wrote into B).
------------------------------------------------------------------------------------------
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO tap5_admin_a', current_database()); END $$;
CREATE TEMP TABLE b_before ON COMMIT DROP AS
SELECT (SELECT count(*) FROM alert_grouping.episodes WHERE project_id = pg_temp.k('pb')) AS episodes,
       (SELECT count(*) FROM alert_grouping.episode_members WHERE project_id = pg_temp.k('pb')) AS members,
       (SELECT count(*) FROM alert_grouping.episode_events WHERE project_id = pg_temp.k('pb')) AS events;
SET LOCAL ROLE tap5_admin_a;
CREATE SCHEMA tap5_evil;
CREATE FUNCTION tap5_evil.yes(uuid, uuid) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR tap5_evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = tap5_evil.yes);
SELECT matches(
    pg_temp.with_path('tap5_evil, pg_catalog',
        format($$SELECT alert_grouping.regroup(%L, %L, pg_catalog.now() - '1 day'::interval,
                                               pg_catalog.now() + '1 day'::interval)::text$$,
               pg_temp.k('pb'), pg_temp.k('rb'))),
    '^ERROR (42501|P0002)',
    'hijack: regroup of B by A''s admin with an always-true evil.= first in search_path raises 42501 or P0002');
SELECT matches(
    COALESCE(pg_temp.with_path('tap5_evil, pg_catalog',
        format($$SELECT count(*)::text FROM alert_grouping.preview_rule(%L, '{}', '{"group_by": ["labels.service"]}',
                    pg_catalog.now() - '1 day'::interval, pg_catalog.now() + '1 day'::interval)$$,
               pg_temp.k('pb'))), 'NULL'),
    '^(0|ERROR (42501|P0002).*)$',
    'hijack: preview_rule over B with the same search_path returns no rows');
RESET ROLE;
SELECT is(format('%s episodes, %s members, %s events',
                 (SELECT count(*) FROM alert_grouping.episodes WHERE project_id = pg_temp.k('pb')),
                 (SELECT count(*) FROM alert_grouping.episode_members WHERE project_id = pg_temp.k('pb')),
                 (SELECT count(*) FROM alert_grouping.episode_events WHERE project_id = pg_temp.k('pb'))),
          (SELECT format('%s episodes, %s members, %s events', episodes, members, events) FROM b_before),
          'hijack: B has no new episode, membership or episode event');
SELECT is((SELECT episode_id FROM alert_grouping.alerts WHERE title = 'B ungrouped'), NULL::uuid,
          'hijack: B''s ungrouped alert is still ungrouped');

------------------------------------------------------------------------------------------
-- 7. Advisory locks are one 64-bit key (0.1: two int4 keys, objsubid = 2, so the 32-bit
--    halves of unrelated keys could collide into the same lock).
------------------------------------------------------------------------------------------
SET LOCAL ROLE tap5_resp_a;
SELECT lives_ok(format($$SELECT alert_grouping.ingest(%L, '{"dedup_key": "lock-probe", "payload": {"summary": "lock probe"},
                                                            "labels": {"service": "locks"}}')$$, pg_temp.k('pa')),
                'locks: a responder ingests an alert');
SELECT cmp_ok((SELECT CASE WHEN v ~ '^[0-9]+$' THEN v::int END
                 FROM pg_temp.q($$SELECT count(*) FROM pg_catalog.pg_locks
                                 WHERE pid = pg_catalog.pg_backend_pid() AND locktype = 'advisory'
                                   AND objsubid = 1$$) AS v),
              '>', 0, 'locks: the transaction holds advisory locks with a single bigint key (objsubid = 1)');
SELECT is(pg_temp.q($$SELECT count(*) FROM pg_catalog.pg_locks
                      WHERE pid = pg_catalog.pg_backend_pid() AND locktype = 'advisory' AND objsubid <> 1$$),
          '0', 'locks: none with two int4 keys (objsubid = 2)');
RESET ROLE;

------------------------------------------------------------------------------------------
-- 8. Internal lock functions are not callable (0.1: granted to every role; lock_for_batch
--    with a NULL title dereferenced it and crashed the server with signal 11). The crash
--    comes last: on 0.1 it ends the file.
------------------------------------------------------------------------------------------
SET LOCAL ROLE tap5_view_a;
SELECT throws_ok(format($$SELECT alert_grouping.lock_fingerprint(%L, 'fp')$$, pg_temp.k('pa')),
                 '42501', NULL, 'lock_fingerprint(uuid, text) as a granted viewer: 42501');
-- The alert of the reproduction: ROW(p, gen_random_uuid(), NULL, 'info', NULL, NULL, '{}', NULL,
-- NULL, NULL, 'fp', 0, NULL, NULL, 'firing', now(), NULL, NULL)::alerts, built by column name so
-- that a column added to alerts does not turn the test into a parse error.
SELECT throws_ok(format($$SELECT alert_grouping.lock_for_batch(%L,
                            ARRAY[pg_catalog.jsonb_populate_record(NULL::alert_grouping.alerts,
                                      pg_catalog.jsonb_build_object('project_id', %L::uuid, 'id', pg_catalog.gen_random_uuid(),
                                          'severity', 'info', 'labels', '{}'::jsonb, 'fingerprint', 'fp',
                                          'duplicate_count', 0, 'state', 'firing', 'created_at', pg_catalog.now()))],
                            '{}')$$, pg_temp.k('pa'), pg_temp.k('pa')),
                 '42501', NULL, 'lock_for_batch with a NULL title as a granted viewer: 42501, no crash');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
