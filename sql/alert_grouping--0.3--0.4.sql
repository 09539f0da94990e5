-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION alert_grouping UPDATE TO '0.4'" to load this file. \quit

-- 0.4: runs distributed on Citus. alert_grouping.distribute() makes the tenant tables
-- distributed tables sharded by project_id (all co-located), the global tables reference
-- tables, and the API functions distributed functions that run on their project's node.
-- The policies need no subquery, so that Citus accepts them; without Citus nothing changes.

------------------------------------------------------------------------------------------
-- alerts_membership_check as one call of a C function
------------------------------------------------------------------------------------------
-- 0.3 first shipped this check as a CASE expression; databases installed then get the
-- function and the constraint of the final 0.3.
CREATE OR REPLACE FUNCTION alert_grouping.membership_is_valid(episode_id uuid, added_by text,
                                                              added_at timestamptz, rule_id uuid,
                                                              similarity_score numeric)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ag_membership_is_valid'
LANGUAGE c IMMUTABLE PARALLEL SAFE;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                    WHERE c.conrelid = 'alert_grouping.alerts'::pg_catalog.regclass
                      AND c.conname = 'alerts_membership_check'
                      AND pg_catalog.pg_get_constraintdef(c.oid) LIKE '%membership_is_valid(%') THEN
        ALTER TABLE alert_grouping.alerts
            DROP CONSTRAINT IF EXISTS alerts_membership_check,
            ADD CONSTRAINT alerts_membership_check CHECK (
                alert_grouping.membership_is_valid(episode_id, added_by, added_at, rule_id,
                                                   similarity_score));
    END IF;
END
$$;

------------------------------------------------------------------------------------------
-- Policies without subqueries
------------------------------------------------------------------------------------------
-- Citus refuses subqueries in the policies of distributed tables. The member projects come
-- as an array from a function the policy calls (once per row at most: it keeps its answer
-- for the statement), not from ARRAY(SELECT ...). The rule each policy states is unchanged.
-- It sets no search_path: a SET clause costs a GUC save and restore on every call, once per
-- row here, and its statements name every object with its schema.
CREATE FUNCTION alert_grouping.member_project_array(min_role text) RETURNS uuid[]
AS 'MODULE_PATHNAME', 'ag_member_project_array'
LANGUAGE C STABLE;

-- (pg_policies leaves the schema out while this script runs: it is first in search_path.)
DO $$
DECLARE
    p record;
    old_form constant text :=
        'ARRAY\( SELECT (alert_grouping\.)?member_project_ids\((''[a-z]+''::text)\) AS member_project_ids\)';
    new_form constant text := 'alert_grouping.member_project_array(\2)';
BEGIN
    FOR p IN SELECT pol.policyname, pol.tablename, pol.qual, pol.with_check
               FROM pg_catalog.pg_policies AS pol
              WHERE pol.schemaname = 'alert_grouping'
              ORDER BY pol.tablename, pol.policyname LOOP
        IF p.qual IS NOT NULL THEN
            EXECUTE pg_catalog.format('ALTER POLICY %I ON alert_grouping.%I USING (%s)',
                p.policyname, p.tablename, pg_catalog.regexp_replace(p.qual, old_form, new_form, 'g'));
        END IF;
        IF p.with_check IS NOT NULL THEN
            EXECUTE pg_catalog.format('ALTER POLICY %I ON alert_grouping.%I WITH CHECK (%s)',
                p.policyname, p.tablename,
                pg_catalog.regexp_replace(p.with_check, old_form, new_form, 'g'));
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM pg_catalog.pg_policies AS pol
                WHERE pol.schemaname = 'alert_grouping'
                  AND (pol.qual LIKE '%SELECT%' OR pol.with_check LIKE '%SELECT%')) THEN
        RAISE EXCEPTION 'a policy of alert_grouping still holds a subquery';
    END IF;
END
$$;

------------------------------------------------------------------------------------------
-- Statements Citus can route
------------------------------------------------------------------------------------------
-- On Citus the alerts triggers run on a shard, and their statements must each address one
-- project's co-located shards. Citus refuses now() inside CASE or COALESCE there: the time
-- is taken first.
CREATE OR REPLACE FUNCTION alert_grouping.alerts_state_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    was_active boolean := OLD.state <> 'resolved';
    is_active boolean := NEW.state <> 'resolved';
    resolved_time timestamptz := COALESCE(NEW.resolved_at, pg_catalog.now());
    ep alert_grouping.episodes;
    cfg jsonb;
BEGIN
    IF was_active = is_active THEN
        RETURN NULL;
    END IF;
    UPDATE alert_grouping.episodes AS e
       SET active_alert_count = e.active_alert_count + CASE WHEN is_active THEN 1 ELSE -1 END,
           all_alerts_resolved_at = CASE
               WHEN is_active THEN NULL
               WHEN e.active_alert_count = 1 THEN resolved_time
               ELSE e.all_alerts_resolved_at END
     WHERE e.project_id = NEW.project_id AND e.id = NEW.episode_id
    RETURNING e.* INTO ep;
    IF NOT FOUND OR ep.state = 'resolved' OR ep.active_alert_count > 0 THEN
        RETURN NULL;
    END IF;
    SELECT r.episode_config INTO cfg FROM alert_grouping.grouping_rules AS r
     WHERE r.project_id = ep.project_id AND r.id = ep.rule_id;
    IF COALESCE((cfg ->> 'resolve_when_alerts_resolved')::boolean, true)
       AND COALESCE((cfg ->> 'resolve_delay_minutes')::integer, 0) = 0 THEN
        UPDATE alert_grouping.episodes AS e
           SET state = 'resolved', resolved_at = ep.all_alerts_resolved_at
         WHERE e.project_id = ep.project_id AND e.id = ep.id;
        INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail)
        VALUES (ep.project_id, ep.id, ep.all_alerts_resolved_at, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'all_alerts_resolved',
                                              'last_alert_id', NEW.id));
    END IF;
    RETURN NULL;
END
$$;

-- Citus cannot plan a SQL function's parameters in a query over distributed tables; the
-- same lookups from PL/pgSQL are plain router queries.
CREATE OR REPLACE FUNCTION alert_grouping.flag_enabled(flag text, project_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    enabled boolean;
BEGIN
    SELECT o.enabled INTO enabled FROM alert_grouping.project_flag_overrides AS o
     WHERE o.project_id = flag_enabled.project_id AND o.flag = flag_enabled.flag;
    IF enabled IS NOT NULL THEN
        RETURN enabled;
    END IF;
    SELECT CASE WHEN f.rollout_percent IS NOT NULL
                THEN ((('x' || pg_catalog.left(pg_catalog.encode(
                         pg_catalog.sha256(pg_catalog.convert_to(
                             f.flag || '/' || flag_enabled.project_id::text, 'UTF8')),
                         'hex'), 8))::bit(32)::bigint % 100)::integer < f.rollout_percent)
                ELSE f.enabled END
      INTO enabled
      FROM alert_grouping.feature_flags AS f WHERE f.flag = flag_enabled.flag;
    RETURN COALESCE(enabled, flag_enabled.flag = 'grouping');
END
$$;

-- The holders are read per project with a scalar project_id (Citus cannot join a
-- distributed table LATERAL to a function's rows), then matched to the rows in memory.
CREATE OR REPLACE FUNCTION alert_grouping.insert_alerts(alerts alert_grouping.alerts[])
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids uuid[];
    fps text[];
    project uuid;
    holder_projects uuid[] := '{}';
    holder_fps text[] := '{}';
    holder_ids uuid[] := '{}';
BEGIN
    WITH ins AS (
        INSERT INTO alert_grouping.alerts AS t
            (project_id, id, monitor_id, severity, title, description, labels, dedup_key,
             source, details, created_at)
        SELECT u.project_id, u.id, u.monitor_id, u.severity, u.title, u.description, u.labels,
               u.dedup_key, u.source, u.details, u.created_at
          FROM pg_catalog.unnest(alerts) AS u
        RETURNING t.id, t.fingerprint)
    SELECT pg_catalog.array_agg(ins.id), pg_catalog.array_agg(ins.fingerprint)
      INTO ids, fps FROM ins;
    -- The oldest active holder of each fingerprint.
    FOR project IN SELECT DISTINCT u.project_id FROM pg_catalog.unnest(alerts) AS u LOOP
        SELECT holder_projects || COALESCE(pg_catalog.array_agg(project), '{}'),
               holder_fps || COALESCE(pg_catalog.array_agg(h.fingerprint), '{}'),
               holder_ids || COALESCE(pg_catalog.array_agg(h.id), '{}')
          INTO holder_projects, holder_fps, holder_ids
          FROM (SELECT DISTINCT ON (t.fingerprint) t.fingerprint, t.id
                  FROM alert_grouping.alerts AS t
                 WHERE t.project_id = project AND t.fingerprint = ANY (fps)
                   AND t.state <> 'resolved'
                 ORDER BY t.fingerprint, t.created_at, t.id) AS h;
    END LOOP;
    RETURN QUERY
    SELECT COALESCE(h.id, u.id), 'trigger'::text
      FROM pg_catalog.unnest(alerts) WITH ORDINALITY AS u
      JOIN ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(fps)) AS f(id, fp) ON f.id = u.id
      LEFT JOIN ROWS FROM (pg_catalog.unnest(holder_projects), pg_catalog.unnest(holder_fps),
                           pg_catalog.unnest(holder_ids)) AS h(p, fp, id)
        ON h.p = u.project_id AND h.fp = f.fp
     ORDER BY u.ordinality;
END
$$;

-- Citus mis-deparses CASE $param WHEN ...: the same as searched CASEs.
CREATE OR REPLACE FUNCTION alert_grouping.apply_event_action(project_id uuid, action text,
                                                             dedup_key text, at timestamptz)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fp text := alert_grouping.dedup_key_fingerprint(dedup_key);
    target uuid;
BEGIN
    PERFORM alert_grouping.lock_fingerprint(project_id, fp);
    PERFORM alert_grouping.lock_episodes(project_id, ARRAY(
        SELECT DISTINCT a.episode_id FROM alert_grouping.alerts AS a
         WHERE a.project_id = apply_event_action.project_id AND a.fingerprint = fp
           AND a.state <> 'resolved' AND a.episode_id IS NOT NULL));
    WITH acted AS (
        UPDATE alert_grouping.alerts AS a
           SET state = CASE WHEN action = 'resolve' THEN 'resolved'::alert_grouping.alert_state
                            ELSE 'acknowledged'::alert_grouping.alert_state END,
               acknowledged_at = CASE WHEN action = 'acknowledge' THEN at ELSE a.acknowledged_at END,
               resolved_at = CASE WHEN action = 'resolve' THEN at ELSE a.resolved_at END
         WHERE a.project_id = apply_event_action.project_id AND a.fingerprint = fp
           AND a.state <> 'resolved'
           AND (action = 'resolve' OR a.state = 'firing')
        RETURNING a.id, a.created_at)
    SELECT acted.id INTO target FROM acted ORDER BY acted.created_at, acted.id LIMIT 1;
    IF target IS NULL THEN
        SELECT a.id INTO target FROM alert_grouping.alerts AS a
         WHERE a.project_id = apply_event_action.project_id AND a.fingerprint = fp
           AND a.state <> 'resolved'
         ORDER BY a.created_at, a.id LIMIT 1;
    END IF;
    RETURN target;
END
$$;

------------------------------------------------------------------------------------------
-- Grants on every node
------------------------------------------------------------------------------------------
-- Once distributed, Citus carries a grant on the schema, the tables and the distributed
-- functions to every node; a GRANT that names reference and distributed tables together
-- must then run over one connection per node.
CREATE OR REPLACE FUNCTION alert_grouping.grant_access(role name, act_for_users boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f text;
BEGIN
    IF pg_catalog.to_regrole(pg_catalog.quote_ident(role)) IS NULL THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = '42704';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
        PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA alert_grouping TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON alert_grouping.alerts, alert_grouping.episodes, '
        'alert_grouping.episode_events, '
        'alert_grouping.grouping_rules, '
        'alert_grouping.project_flag_overrides, alert_grouping.teams, '
        'alert_grouping.team_members, alert_grouping.labels, alert_grouping.episode_owner_users, '
        'alert_grouping.episode_owner_teams, alert_grouping.episode_labels TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON alert_grouping.project_counters, alert_grouping.engine_errors, '
        'alert_grouping.feature_flags, alert_grouping.episode_members TO %I', role);
    EXECUTE pg_catalog.format('GRANT SELECT, UPDATE ON alert_grouping.projects TO %I', role);
    -- db_role links a database role to a user across all projects: owner only.
    EXECUTE pg_catalog.format(
        'GRANT SELECT, DELETE, INSERT (project_id, user_id, role, created_at), UPDATE (role) '
        'ON alert_grouping.project_members TO %I', role);
    FOREACH f IN ARRAY alert_grouping.granted_functions() LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION alert_grouping.%s TO %I', f, role);
    END LOOP;
    IF act_for_users THEN
        INSERT INTO alert_grouping.application_roles (role)
        VALUES (pg_catalog.to_regrole(pg_catalog.quote_ident(grant_access.role)))
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- The functions grant_access grants: the documented API.
CREATE FUNCTION alert_grouping.granted_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'current_user_id()', 'member_project_ids(text)', 'has_project_role(uuid,text)',
        'flag_enabled(text,uuid)', 'fingerprint(uuid,text,jsonb)', 'dedup_key_fingerprint(text)',
        'validate_rule(jsonb,jsonb,jsonb)', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'regroup(uuid,uuid,timestamptz,timestamptz)', 'ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)']
$$;

CREATE OR REPLACE FUNCTION alert_grouping.revoke_access(role name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.to_regrole(pg_catalog.quote_ident(role)) IS NULL THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = '42704';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
        PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;
    EXECUTE pg_catalog.format('REVOKE ALL ON ALL TABLES IN SCHEMA alert_grouping FROM %I', role);
    EXECUTE pg_catalog.format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA alert_grouping FROM %I', role);
    EXECUTE pg_catalog.format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM %I', role);
    EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA alert_grouping FROM %I', role);
    DELETE FROM alert_grouping.application_roles AS r
     WHERE r.role OPERATOR(pg_catalog.=) pg_catalog.to_regrole(pg_catalog.quote_ident(revoke_access.role));
END
$$;

------------------------------------------------------------------------------------------
-- distribute(): the tables and functions on a Citus cluster
------------------------------------------------------------------------------------------
-- Run once on the coordinator, as a superuser, after CREATE EXTENSION (Citus creates the
-- extension on every node). Tenant tables become distributed tables sharded by project_id,
-- all co-located, so that a project's rows of every table are on one node and the engine
-- works there on local shards. projects, project_members, application_roles and
-- feature_flags, which every node reads to check identity and flags, become reference
-- tables. The API functions become distributed functions: a call runs on its project's node.
CREATE FUNCTION alert_grouping.distribute() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reference_tables constant text[] := ARRAY['projects', 'project_members',
                                              'application_roles', 'feature_flags'];
    -- Referenced tables before the tables that reference them.
    tenant_tables constant text[] := ARRAY['alerts', 'grouping_rules', 'project_counters',
        'project_flag_overrides', 'teams', 'team_members', 'labels', 'episodes',
        'episode_events', 'episode_owner_users', 'episode_owner_teams', 'episode_labels',
        'engine_errors'];
    functions constant text[] := ARRAY['ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'regroup(uuid,uuid,timestamptz,timestamptz)',
        'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)'];
    t text;
    f text;
    fk record;
    r record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
        RAISE EXCEPTION 'distribute() needs the citus extension in this database'
            USING ERRCODE = '55000',
                  HINT = 'Add citus to shared_preload_libraries on every node, CREATE EXTENSION citus, and add the workers with citus_add_node().';
    END IF;
    IF (SELECT g.groupid FROM pg_catalog.pg_dist_local_group AS g) <> 0 THEN
        RAISE EXCEPTION 'distribute() runs on the coordinator' USING ERRCODE = '55000';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                WHERE p.logicalrelid = 'alert_grouping.alerts'::pg_catalog.regclass) THEN
        RAISE NOTICE 'alert_grouping is already distributed';
        RETURN;
    END IF;
    -- Every table has triggers; they run on the shards, on co-located shards only.
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    -- Foreign keys to reference tables need one connection per node for the whole change.
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- Foreign keys between the tables are dropped and made again once every table is
    -- distributed: Citus cannot convert a table referenced by tables that are still local.
    -- The workers hold the extension's own copies of the tables (their shells), which need
    -- the same.
    CREATE TEMPORARY TABLE alert_grouping_fks ON COMMIT DROP AS
    SELECT c.oid, c.conrelid::pg_catalog.regclass::text AS tbl, c.conname::text AS name,
           pg_catalog.pg_get_constraintdef(c.oid) AS def
      FROM pg_catalog.pg_constraint AS c
     WHERE c.connamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.contype = 'f';
    FOR fk IN SELECT * FROM pg_temp.alert_grouping_fks ORDER BY oid LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.name);
        PERFORM pg_catalog.run_command_on_workers(
            pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', fk.tbl, fk.name));
    END LOOP;

    -- Citus copies the rows of a table it distributes in binary, so a role OID would reach
    -- the workers as the coordinator's number; the role columns are written again below, by
    -- name, which every node resolves to its own role.
    CREATE TEMPORARY TABLE alert_grouping_role_members ON COMMIT DROP AS
    SELECT m.project_id, m.user_id, m.db_role::text AS role_name
      FROM alert_grouping.project_members AS m WHERE m.db_role IS NOT NULL;
    CREATE TEMPORARY TABLE alert_grouping_app_roles ON COMMIT DROP AS
    SELECT ar.role::text AS role_name, ar.granted_at FROM alert_grouping.application_roles AS ar;

    FOREACH t IN ARRAY reference_tables LOOP
        PERFORM pg_catalog.create_reference_table(pg_catalog.format('alert_grouping.%I', t));
    END LOOP;
    PERFORM pg_catalog.create_distributed_table('alert_grouping.alerts', 'project_id');
    FOREACH t IN ARRAY tenant_tables[2:] LOOP
        PERFORM pg_catalog.create_distributed_table(pg_catalog.format('alert_grouping.%I', t),
                                                    'project_id',
                                                    colocate_with => 'alert_grouping.alerts');
    END LOOP;

    FOR fk IN SELECT * FROM pg_temp.alert_grouping_fks ORDER BY oid LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.def);
    END LOOP;
    DROP TABLE pg_temp.alert_grouping_fks;

    FOR r IN SELECT * FROM pg_temp.alert_grouping_role_members LOOP
        EXECUTE pg_catalog.format(
            'UPDATE alert_grouping.project_members SET db_role = %L::pg_catalog.regrole '
            ' WHERE project_id = %L AND user_id = %L', r.role_name, r.project_id, r.user_id);
    END LOOP;
    DELETE FROM alert_grouping.application_roles;
    FOR r IN SELECT * FROM pg_temp.alert_grouping_app_roles LOOP
        EXECUTE pg_catalog.format(
            'INSERT INTO alert_grouping.application_roles (role, granted_at) '
            'VALUES (%L::pg_catalog.regrole, %L)', r.role_name, r.granted_at);
    END LOOP;
    DROP TABLE pg_temp.alert_grouping_role_members, pg_temp.alert_grouping_app_roles;

    -- The identity sequences of the extension's tables are the nodes' own and all start at 1:
    -- each worker takes its ids from a range of its own (its group id in the top 16 bits), so
    -- that a project's rows moved between nodes cannot collide.
    PERFORM pg_catalog.run_command_on_workers(
        'SELECT pg_catalog.setval(s.seq, GREATEST(pg_catalog.nextval(s.seq), '
        '(SELECT g.groupid FROM pg_catalog.pg_dist_local_group AS g)::bigint OPERATOR(pg_catalog.<<) 48)) '
        '  FROM (VALUES (''alert_grouping.episode_events_id_seq''::pg_catalog.regclass), '
        '               (''alert_grouping.engine_errors_id_seq''::pg_catalog.regclass)) AS s(seq)');

    -- A call runs on the node that stores its project, even inside a transaction block.
    FOREACH f IN ARRAY functions LOOP
        PERFORM pg_catalog.create_distributed_function(
            pg_catalog.format('alert_grouping.%s', f)::pg_catalog.regprocedure, 'project_id',
            colocate_with => 'alert_grouping.alerts', force_delegation => true);
    END LOOP;
    -- Grants made before: Citus carries those of the distributed functions, the schema and
    -- the tables made from now on; the ones already made are made again, to reach the workers.
    FOR r IN SELECT pg_catalog.format('GRANT %s ON FUNCTION %s TO %s', a.privilege_type,
                                      p.oid::pg_catalog.regprocedure,
                                      a.grantee::pg_catalog.regrole) AS stmt
               FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a,
                    pg_catalog.pg_dist_object AS o
              WHERE p.pronamespace = 'alert_grouping'::pg_catalog.regnamespace
                AND o.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND o.objid = p.oid
                AND a.grantee <> 0 AND a.grantee <> p.proowner
             UNION ALL
             SELECT pg_catalog.format('GRANT %s ON SCHEMA alert_grouping TO %s', a.privilege_type,
                                      a.grantee::pg_catalog.regrole)
               FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a
              WHERE n.nspname = 'alert_grouping' AND a.grantee <> 0 AND a.grantee <> n.nspowner
             UNION ALL
             SELECT pg_catalog.format('GRANT %s ON TABLE %s TO %s', a.privilege_type,
                                      c.oid::pg_catalog.regclass, a.grantee::pg_catalog.regrole)
               FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind = 'r'
                AND a.grantee <> 0 AND a.grantee <> c.relowner
                AND EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS d WHERE d.logicalrelid = c.oid)
             UNION ALL
             SELECT pg_catalog.format('GRANT %s (%I) ON TABLE %s TO %s', a.privilege_type,
                                      att.attname, c.oid::pg_catalog.regclass,
                                      a.grantee::pg_catalog.regrole)
               FROM pg_catalog.pg_class AS c
               JOIN pg_catalog.pg_attribute AS att ON att.attrelid = c.oid,
                    pg_catalog.aclexplode(att.attacl) AS a
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind = 'r'
                AND a.grantee <> 0 AND a.grantee <> c.relowner
                AND EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS d WHERE d.logicalrelid = c.oid)
    LOOP
        EXECUTE r.stmt;
    END LOOP;

    -- SET LOCAL alert_grouping.user_id must reach the workers, which check the policies of
    -- their shards: Citus sends a transaction's SET LOCAL commands along with it.
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.propagate_set_commands = local',
                              pg_catalog.current_database());
    PERFORM pg_catalog.set_config('citus.propagate_set_commands', 'local', false);
END
$$;

-- Internal: never executable by PUBLIC, except the check constraint's and the policies'.
-- Every role that reads a table evaluates its policies, on the worker of each shard it
-- reads, and Citus carries no grant on an extension's function that is not distributed;
-- member_project_array answers only for the calling role's own identity.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    alert_grouping.membership_is_valid(uuid, text, timestamptz, uuid, numeric),
    alert_grouping.member_project_array(text) TO PUBLIC;

-- As in 0.3: the initial privileges are the owner's own, not the grants made since.
UPDATE pg_catalog.pg_init_privs AS ip
   SET initprivs = ARRAY(
           SELECT a.item FROM pg_catalog.unnest(ip.initprivs) AS a(item)
            WHERE EXISTS (SELECT FROM pg_catalog.aclexplode(ARRAY[a.item]) AS x
                           WHERE x.grantee IN (0, (SELECT e.extowner FROM pg_catalog.pg_extension AS e
                                                   WHERE e.extname = 'alert_grouping'))))
 WHERE ip.privtype = 'e'
   AND (ip.classoid, ip.objoid) IN (
           SELECT d.classid, d.objid FROM pg_catalog.pg_depend AS d
            WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
              AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                 WHERE e.extname = 'alert_grouping')
              AND d.deptype = 'e'
           UNION ALL
           SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass, 'alert_grouping'::pg_catalog.regnamespace);
