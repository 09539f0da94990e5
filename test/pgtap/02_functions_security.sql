-- Functions: the contract's signatures, pinned search_path on every function, no SECURITY
-- DEFINER, no EXECUTE for PUBLIC, and grant_access() / revoke_access().
BEGIN;
SELECT plan(95);

-- The contract's public functions: signature, result type.
CREATE TEMP TABLE contract_functions (fn name, args name[], returns text, sig text) ON COMMIT DROP;
INSERT INTO contract_functions VALUES
    ('ingest', '{uuid,jsonb}', 'uuid', 'ingest(uuid,jsonb)'),
    ('ingest_batch', '{uuid,jsonb}', 'setof record', 'ingest_batch(uuid,jsonb)'),
    ('fingerprint', '{uuid,text,jsonb}', 'text', 'fingerprint(uuid,text,jsonb)'),
    ('acknowledge_episode', '{uuid,uuid}', 'alert_grouping.episodes', 'acknowledge_episode(uuid,uuid)'),
    ('resolve_episode', '{uuid,uuid}', 'alert_grouping.episodes', 'resolve_episode(uuid,uuid)'),
    ('add_alert_to_episode', '{uuid,uuid,uuid}', 'alert_grouping.episodes', 'add_alert_to_episode(uuid,uuid,uuid)'),
    ('remove_alert_from_episode', '{uuid,uuid,uuid}', 'alert_grouping.episodes', 'remove_alert_from_episode(uuid,uuid,uuid)'),
    ('regroup', '{uuid,uuid,"timestamp with time zone","timestamp with time zone"}', 'integer', 'regroup(uuid,uuid,timestamptz,timestamptz)'),
    ('preview_rule', '{uuid,jsonb,jsonb,"timestamp with time zone","timestamp with time zone"}', 'setof record', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)'),
    ('flag_enabled', '{text,uuid}', 'boolean', 'flag_enabled(text,uuid)'),
    ('current_user_id', '{}', 'uuid', 'current_user_id()'),
    ('validate_rule', '{jsonb,jsonb,jsonb}', 'void', 'validate_rule(jsonb,jsonb,jsonb)'),
    ('grant_access', '{name,boolean}', 'void', 'grant_access(name,boolean)'),
    ('revoke_access', '{name}', 'void', 'revoke_access(name)'),
    ('acknowledge_incident', '{uuid,uuid}', 'alert_grouping.incidents', 'acknowledge_incident(uuid,uuid)'),
    ('resolve_incident', '{uuid,uuid,text}', 'alert_grouping.incidents', 'resolve_incident(uuid,uuid,text)');

------------------------------------------------------------------------------------------
-- 1. Signatures (14 x 2)
------------------------------------------------------------------------------------------
SELECT has_function('alert_grouping', fn, args::text[], format('function %s exists', sig))
  FROM contract_functions ORDER BY sig;
SELECT function_returns('alert_grouping', fn, args::text[], returns, format('%s returns %s', sig, returns))
  FROM contract_functions ORDER BY sig;

-- Parameter names matter to callers using named notation; TABLE results name their columns.
SELECT is(pg_catalog.pg_get_function_arguments('alert_grouping.ingest(uuid,jsonb)'::regprocedure),
          'project_id uuid, event jsonb', 'ingest(project_id, event)');
SELECT is(pg_catalog.pg_get_function_arguments('alert_grouping.ingest_batch(uuid,jsonb)'::regprocedure),
          'project_id uuid, events jsonb', 'ingest_batch(project_id, events)');
SELECT is(pg_catalog.pg_get_function_result('alert_grouping.ingest_batch(uuid,jsonb)'::regprocedure),
          'TABLE(alert_id uuid, action text)', 'ingest_batch returns TABLE(alert_id uuid, action text)');
SELECT is(pg_catalog.pg_get_function_arguments('alert_grouping.fingerprint(uuid,text,jsonb)'::regprocedure),
          'monitor_id uuid, title text, labels jsonb', 'fingerprint(monitor_id, title, labels)');
SELECT is(pg_catalog.pg_get_function_arguments('alert_grouping.regroup(uuid,uuid,timestamptz,timestamptz)'::regprocedure),
          'project_id uuid, rule_id uuid, from_ts timestamp with time zone, to_ts timestamp with time zone',
          'regroup(project_id, rule_id, from_ts, to_ts)');
SELECT is(pg_catalog.pg_get_function_arguments('alert_grouping.preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)'::regprocedure),
          'project_id uuid, match_criteria jsonb, grouping_config jsonb, from_ts timestamp with time zone, to_ts timestamp with time zone',
          'preview_rule(project_id, match_criteria, grouping_config, from_ts, to_ts)');
SELECT is(pg_catalog.pg_get_function_result('alert_grouping.preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)'::regprocedure),
          'TABLE(group_key text, alert_ids uuid[], first_at timestamp with time zone, last_at timestamp with time zone)',
          'preview_rule returns TABLE(group_key, alert_ids, first_at, last_at)');
SELECT is(pg_catalog.pg_get_function_arguments('alert_grouping.flag_enabled(text,uuid)'::regprocedure),
          'flag text, project_id uuid', 'flag_enabled(flag, project_id)');
SELECT volatility_is('alert_grouping', 'fingerprint', ARRAY['uuid', 'text', 'jsonb'], 'immutable',
                     'fingerprint is IMMUTABLE (usable in indexes and generated columns)');

------------------------------------------------------------------------------------------
-- 2. Every function pins search_path; none is SECURITY DEFINER
------------------------------------------------------------------------------------------
-- The identity lookups that read past row-level security are C functions that answer only
-- for the calling role. SECURITY DEFINER is kept to the trigger functions that write what the
-- writing role may not (a responder's check result changes its monitor's state; an incident
-- takes its number from the project's counter and writes its timeline); a trigger function
-- cannot be called on its own.
SELECT set_eq($$
    SELECT p.proname::text FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'alert_grouping'::regnamespace AND p.prosecdef$$,
    ARRAY['check_results_inserted', 'incidents_before_write', 'incidents_after_write',
          -- 0.7: what arrives for the rollups, and a monitor's change of its component
          'check_results_changed', 'maintenance_windows_changed', 'monitors_component_changed',
          -- 0.8: the entry points whose only key to a project is an integration's token
          'receive_webhook', 'ingest_pagerduty',
          -- 0.8: the server-wide metrics, executable only by a role granted them by name
          'prometheus_metrics'],
    'the only SECURITY DEFINER functions are six trigger functions, the two token entry points and the metrics');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'alert_grouping'::regnamespace AND p.prosecdef
       AND p.prorettype <> 'trigger'::regtype
       AND p.proname NOT IN ('receive_webhook', 'ingest_pagerduty', 'prometheus_metrics')$$,
    'every SECURITY DEFINER function returns trigger, but the two token entry points and the metrics');
SELECT is_empty($$
    SELECT p.oid::regprocedure, p.proconfig FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'alert_grouping'::regnamespace
       AND p.proname NOT IN ('membership_is_valid', 'member_project_array')
       AND NOT COALESCE(p.proconfig = ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
    'every function of the schema, C ones included, has SET search_path = pg_catalog, pg_temp');
-- But the check constraint's function: it names no object, so a search_path pin would protect
-- nothing, and setting it costs a GUC change and its undoing for every row written.
SELECT is((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
            WHERE p.oid = 'alert_grouping.membership_is_valid(uuid,text,timestamptz,uuid,numeric)'::regprocedure),
          NULL, 'membership_is_valid has no SET clause');
-- Nor the policies' function, called for every row a policy checks: its statements name
-- every object with its schema. Every role that reads a table evaluates it, on every node of
-- a Citus cluster (where grants on an extension's undistributed function reach no worker),
-- so it is PUBLIC's; it runs as the caller and answers only for the caller's own identity.
SELECT ok((SELECT p.proconfig IS NULL AND p.provolatile = 's' AND NOT p.prosecdef
                  AND l.lanname = 'c' AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
             FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
            WHERE p.oid = 'alert_grouping.member_project_array(text)'::regprocedure),
          'member_project_array has no SET clause, is stable, SECURITY INVOKER, in C, PUBLIC''s');
SELECT isnt_empty($$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
      JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
     WHERE p.pronamespace = 'alert_grouping'::regnamespace AND l.lanname = 'c'$$,
    'the schema has C functions (the previous check covers them)');

-- Row-level security must decide what callers of the entry points may do.
SELECT isnt_definer('alert_grouping', fn, args::text[], format('%s is SECURITY INVOKER', sig))
  FROM contract_functions
 WHERE fn IN ('ingest', 'ingest_batch', 'acknowledge_episode', 'resolve_episode',
              'add_alert_to_episode', 'remove_alert_from_episode', 'regroup', 'preview_rule',
              'grant_access', 'revoke_access')
 ORDER BY sig;

------------------------------------------------------------------------------------------
-- 3. Nothing is executable by PUBLIC
------------------------------------------------------------------------------------------
SELECT cmp_ok((SELECT count(*)::int FROM pg_catalog.pg_proc
                WHERE pronamespace = 'alert_grouping'::regnamespace), '>=', 13,
              'the schema has its functions (the next check is not vacuous)');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'alert_grouping'::regnamespace
       AND p.proname NOT IN ('membership_is_valid', 'member_project_array',
                             -- 0.6: what validation triggers and on_call_users call as the
                             -- caller (pure, or reading through the caller's policies)
                             'is_project_member', 'schedule_time', 'within_restrictions', 'layer_on_call', 'schedule_on_call',
                             -- 0.7: the uptime functions' helpers (pure, or reading through
                             -- the caller's policies)
                             'bucket_floor', 'multirange_seconds', 'uptime_hold',
                             -- 0.8: webhook bodies as events (pure), and their ingestion
                             -- (reads through the caller's policies, writes through ingest_batch)
                             'alertmanager_events', 'grafana_events', 'ingest_webhook_events',
                             -- 0.8: integration tokens (random or pure) and the admin check
                             -- (reads through the caller's policies)
                             'new_integration_token', 'token_sha256', 'require_integration_admin',
                             -- 0.8: the silence write trigger's matcher check and the
                             -- recurrence's occurrences (pure)
                             'validate_silence_matchers', 'schedule_occurrences',
                             -- 0.8: the schedule trigger's planning (through the writer's
                             -- policies)
                             'plan_maintenance_schedule')
       AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')$$,
    'no function of the schema is executable by PUBLIC, but the check constraint''s, the policies'' and the on-call helpers''');
-- Every role that writes alerts evaluates alerts_membership_check, so its function is
-- PUBLIC's to execute; it may only look at its arguments.
SELECT ok((SELECT p.provolatile = 'i' AND NOT p.prosecdef AND l.lanname = 'c'
                  AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
             FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
            WHERE p.oid = 'alert_grouping.membership_is_valid(uuid,text,timestamptz,uuid,numeric)'::regprocedure),
          'membership_is_valid is executable by PUBLIC, immutable, SECURITY INVOKER, in C');
SELECT matches((SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint AS c
                 WHERE c.conrelid = 'alert_grouping.alerts'::regclass
                   AND c.conname = 'alerts_membership_check'),
               'alert_grouping\.membership_is_valid\(episode_id, added_by, added_at, rule_id, similarity_score\)',
               'alerts_membership_check is the call of membership_is_valid on the membership columns');

------------------------------------------------------------------------------------------
-- 4. grant_access()
------------------------------------------------------------------------------------------
CREATE ROLE ag_t_granted LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE ROLE "AG t Mixed-Case" LOGIN NOSUPERUSER NOBYPASSRLS;

SELECT ok(NOT has_schema_privilege('ag_t_granted', 'alert_grouping', 'USAGE'),
          'before grant_access: a fresh role cannot use the schema');
SELECT ok(NOT has_function_privilege('ag_t_granted', 'alert_grouping.ingest(uuid,jsonb)', 'EXECUTE'),
          'before grant_access: a fresh role cannot execute ingest');
SET ROLE ag_t_granted;
SELECT throws_ok($$SELECT alert_grouping.fingerprint(NULL, 'x', '{}')$$, '42501', NULL,
                 'before grant_access: calling a function as the fresh role is refused');
RESET ROLE;

SELECT lives_ok($$SELECT alert_grouping.grant_access('ag_t_granted')$$, 'grant_access(role) succeeds');
SELECT lives_ok($$SELECT alert_grouping.grant_access('ag_t_granted')$$, 'grant_access is idempotent');

SELECT ok(has_schema_privilege('ag_t_granted', 'alert_grouping', 'USAGE'),
          'after grant_access: the role can use the schema');
SELECT ok(has_function_privilege('ag_t_granted', format('alert_grouping.%s', sig), 'EXECUTE'),
          format('after grant_access: the role can execute %s', sig))
  FROM contract_functions WHERE fn NOT IN ('grant_access', 'revoke_access') ORDER BY sig;
SELECT ok(NOT has_function_privilege('ag_t_granted', 'alert_grouping.grant_access(name,boolean)', 'EXECUTE')
          AND NOT has_function_privilege('ag_t_granted', 'alert_grouping.revoke_access(name)', 'EXECUTE'),
          'grant_access does not hand out grant_access or revoke_access');

-- Tables: every tenant table and projects are readable (RLS narrows the rows).
SELECT is_empty($$
    SELECT c.relname FROM pg_catalog.pg_class AS c
     WHERE c.relnamespace = 'alert_grouping'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition
       AND (c.relname = 'projects' OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                                               WHERE a.attrelid = c.oid AND a.attname = 'project_id'))
       AND NOT pg_catalog.has_table_privilege('ag_t_granted', c.oid, 'SELECT')
       -- (integrations: every column but the token's hash)
       AND NOT (c.relname = 'integrations'
                AND pg_catalog.has_column_privilege('ag_t_granted', c.oid, 'project_id', 'SELECT')
                AND NOT pg_catalog.has_column_privilege('ag_t_granted', c.oid, 'token_sha256', 'SELECT'))$$,
    'after grant_access: the role can SELECT every tenant table and projects (integrations but their tokens'' hashes)');
SELECT ok(has_table_privilege('ag_t_granted', 'alert_grouping.alerts', 'INSERT'),
          'after grant_access: the role may INSERT alerts (policies narrow it)');
SELECT ok(NOT has_table_privilege('ag_t_granted', 'alert_grouping.projects', 'INSERT'),
          'grant_access does not let the role create projects');
SELECT ok(NOT has_table_privilege('ag_t_granted', 'alert_grouping.engine_errors', 'INSERT')
          AND NOT has_table_privilege('ag_t_granted', 'alert_grouping.project_counters', 'UPDATE'),
          'engine_errors and project_counters stay read-only for the role');
SELECT ok(NOT has_table_privilege('ag_t_granted', 'alert_grouping.feature_flags', 'UPDATE'),
          'feature_flags (global) stay read-only for the role');

-- The role really can call functions now.
SET ROLE ag_t_granted;
SELECT is(length(alert_grouping.fingerprint(NULL, 'disk full', '{"host":"a"}')), 64,
          'as the granted role: fingerprint() runs and returns 64 hex chars');
SELECT throws_ok($$SELECT alert_grouping.grant_access('ag_t_granted')$$, '42501', NULL,
                 'as the granted role: grant_access is refused');
RESET ROLE;

SELECT throws_ok($$SELECT alert_grouping.grant_access('ag_t_no_such_role')$$, '42704',
                 'role "ag_t_no_such_role" does not exist', 'grant_access on a missing role raises 42704');
SELECT throws_ok($$SELECT alert_grouping.grant_access(NULL)$$, NULL, NULL,
                 'grant_access(NULL) raises instead of doing nothing');
SELECT lives_ok($$SELECT alert_grouping.grant_access('AG t Mixed-Case')$$,
                'grant_access quotes a role name that needs quoting');
SELECT ok(has_schema_privilege('AG t Mixed-Case', 'alert_grouping', 'USAGE')
          AND has_function_privilege('AG t Mixed-Case', 'alert_grouping.ingest(uuid,jsonb)', 'EXECUTE'),
          'the quoted role got the grants');

-- distribute() is for a Citus coordinator (test/citus covers it there); elsewhere it refuses
-- and changes nothing.
SELECT throws_ok($$SELECT alert_grouping.distribute()$$, '55000',
                 'distribute() needs the citus extension in this database',
                 'distribute() without Citus raises 55000 and changes nothing');
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_policies WHERE schemaname = 'alert_grouping'), 120,
          'after distribute() refused, the 120 policies are still there');

SELECT * FROM finish();
ROLLBACK;
