-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION alert_grouping UPDATE TO '0.3'" to load this file. \quit

-- 0.3: ingestion speed. The engine's statements keep generic plans (no planning per alert),
-- an alert row is written once with its episode already decided, and an alert's membership
-- (added_by, added_at, rule_id, similarity_score) lives on the alert row: an alert belongs
-- to at most one episode, so episode_members becomes a view over alerts with the same
-- columns, and joining an episode writes no second table.

------------------------------------------------------------------------------------------
-- Membership on the alert row
------------------------------------------------------------------------------------------
-- Their checks are one constraint (alerts_membership_check, below), one call of a C function:
-- PostgreSQL parses and plans every check constraint again for each statement that writes
-- alerts, one per alert for single rows, and the same rule as a CASE expression cost 4.5% of
-- a backend's CPU. Every role that writes alerts evaluates it, so PUBLIC may execute it (it
-- only looks at its arguments).
CREATE FUNCTION alert_grouping.membership_is_valid(episode_id uuid, added_by text,
                                                   added_at timestamptz, rule_id uuid,
                                                   similarity_score numeric)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ag_membership_is_valid'
LANGUAGE c IMMUTABLE PARALLEL SAFE;

ALTER TABLE alert_grouping.alerts
    ADD COLUMN added_by text NULL,
    ADD COLUMN added_at timestamptz NULL,
    ADD COLUMN rule_id uuid NULL,
    ADD COLUMN similarity_score numeric(5,4) NULL;

-- The memberships move onto their alerts, the table becomes a view with the same columns
-- (security_invoker: the caller's row-level security on alerts applies), and the roles
-- granted on the table may read the view (memberships change through add_alert_to_episode
-- and remove_alert_from_episode).
DO $$
DECLARE
    grantees pg_catalog.regrole[];
    grantee pg_catalog.regrole;
BEGIN
    SELECT pg_catalog.array_agg(DISTINCT a.grantee::pg_catalog.regrole) INTO grantees
      FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
     WHERE c.oid = 'alert_grouping.episode_members'::pg_catalog.regclass
       AND a.grantee <> 0 AND a.grantee <> c.relowner;

    UPDATE alert_grouping.alerts AS a
       SET added_by = m.added_by, added_at = m.added_at, rule_id = m.rule_id,
           similarity_score = m.similarity_score
      FROM alert_grouping.episode_members AS m
     WHERE m.project_id OPERATOR(pg_catalog.=) a.project_id
       AND m.alert_id OPERATOR(pg_catalog.=) a.id
       AND m.episode_id OPERATOR(pg_catalog.=) a.episode_id;
    -- An alert restored with its episode but no membership row was placed there by a client.
    UPDATE alert_grouping.alerts AS a SET added_by = 'api', added_at = a.created_at
     WHERE a.episode_id IS NOT NULL AND a.added_by IS NULL;

    -- Membership facts exist exactly when the alert belongs to an episode, with the
    -- contract's added_by values and a score between 0 and 1.
    ALTER TABLE alert_grouping.alerts ADD CONSTRAINT alerts_membership_check CHECK (
        alert_grouping.membership_is_valid(episode_id, added_by, added_at, rule_id,
                                           similarity_score));

    -- Leaving the extension first also takes the table out of its dumped configuration.
    ALTER EXTENSION alert_grouping DROP TABLE alert_grouping.episode_members;
    DROP TABLE alert_grouping.episode_members;
    CREATE VIEW alert_grouping.episode_members WITH (security_invoker = true) AS
    SELECT a.project_id, a.episode_id, a.id AS alert_id, a.added_by, a.added_at, a.rule_id,
           a.similarity_score
      FROM alert_grouping.alerts AS a
     WHERE a.episode_id IS NOT NULL;

    FOREACH grantee IN ARRAY COALESCE(grantees, '{}') LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON alert_grouping.episode_members TO %s', grantee);
    END LOOP;
END
$$;

-- Deleting a rule keeps its episodes and their members: the rule is forgotten on both.
CREATE OR REPLACE FUNCTION alert_grouping.rules_before_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE alert_grouping.alerts SET rule_id = NULL
     WHERE project_id = OLD.project_id AND rule_id = OLD.id;
    UPDATE alert_grouping.episodes SET rule_id = NULL
     WHERE project_id = OLD.project_id AND rule_id = OLD.id;
    RETURN OLD;
END
$$;

-- Deleting an episode detaches its alerts, membership facts included.
CREATE OR REPLACE FUNCTION alert_grouping.episodes_before_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE alert_grouping.alerts
       SET episode_id = NULL, added_by = NULL, added_at = NULL, rule_id = NULL,
           similarity_score = NULL
     WHERE project_id = OLD.project_id AND episode_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION alert_grouping.add_alert_to_episode_internal(project_id uuid, episode_id uuid, alert_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes := alert_grouping.lock_episode(project_id, episode_id);
    al alert_grouping.alerts;
    active integer;
BEGIN
    SELECT a.* INTO al FROM alert_grouping.alerts AS a
     WHERE a.project_id = add_alert_to_episode_internal.project_id AND a.id = add_alert_to_episode_internal.alert_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert % not found in project %', alert_id, project_id
            USING ERRCODE = 'P0002';
    END IF;
    IF al.episode_id = ep.id THEN
        RETURN ep;
    ELSIF al.episode_id IS NOT NULL THEN
        RAISE EXCEPTION 'alert % already belongs to episode %', alert_id, al.episode_id
            USING ERRCODE = '55000', HINT = 'Remove it from that episode first.';
    END IF;
    active := CASE WHEN al.state <> 'resolved' THEN 1 ELSE 0 END;
    UPDATE alert_grouping.alerts AS a
       SET episode_id = ep.id, added_by = 'manual', added_at = pg_catalog.now(),
           rule_id = NULL, similarity_score = NULL
     WHERE a.project_id = al.project_id AND a.id = al.id;
    UPDATE alert_grouping.episodes AS e
       SET alert_count = e.alert_count + 1,
           active_alert_count = e.active_alert_count + active,
           all_alerts_resolved_at = CASE WHEN active = 1 THEN NULL ELSE e.all_alerts_resolved_at END,
           severity = GREATEST(e.severity, al.severity),
           last_activity_at = GREATEST(e.last_activity_at, al.created_at),
           monitor_ids = CASE WHEN al.monitor_id IS NULL OR al.monitor_id = ANY (e.monitor_ids)
                              THEN e.monitor_ids ELSE e.monitor_ids || al.monitor_id END,
           unique_monitor_count = pg_catalog.cardinality(
               CASE WHEN al.monitor_id IS NULL OR al.monitor_id = ANY (e.monitor_ids)
                    THEN e.monitor_ids ELSE e.monitor_ids || al.monitor_id END),
           title = CASE WHEN e.title_template IS NULL THEN e.title
                        ELSE pg_catalog.replace(e.title_template, '{{alert_count}}',
                                                (e.alert_count + 1)::text) END
     WHERE e.project_id = ep.project_id AND e.id = ep.id
    RETURNING e.* INTO ep;
    INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail)
    VALUES (ep.project_id, ep.id, pg_catalog.now(), 'alert_added',
            pg_catalog.jsonb_build_object('alert_id', al.id,
                                          'by', alert_grouping.current_user_id()));
    RETURN ep;
END
$$;

CREATE OR REPLACE FUNCTION alert_grouping.remove_alert_from_episode_internal(project_id uuid, episode_id uuid,
                                                         alert_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes := alert_grouping.lock_episode(project_id, episode_id);
    al alert_grouping.alerts;
BEGIN
    UPDATE alert_grouping.alerts AS a
       SET episode_id = NULL, added_by = NULL, added_at = NULL, rule_id = NULL,
           similarity_score = NULL
     WHERE a.project_id = ep.project_id AND a.episode_id = ep.id
       AND a.id = remove_alert_from_episode_internal.alert_id
    RETURNING a.* INTO al;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert % is not a member of episode %', alert_id, episode_id
            USING ERRCODE = 'P0002';
    END IF;
    UPDATE alert_grouping.episodes AS e
       SET alert_count = e.alert_count - 1,
           active_alert_count = e.active_alert_count
                                - CASE WHEN al.state <> 'resolved' THEN 1 ELSE 0 END,
           monitor_ids = m.ids,
           unique_monitor_count = pg_catalog.cardinality(m.ids),
           title = CASE WHEN e.title_template IS NULL THEN e.title
                        ELSE pg_catalog.replace(e.title_template, '{{alert_count}}',
                                                (e.alert_count - 1)::text) END
      FROM (SELECT COALESCE(pg_catalog.array_agg(DISTINCT a.monitor_id)
                                FILTER (WHERE a.monitor_id IS NOT NULL), '{}') AS ids
              FROM alert_grouping.alerts AS a
             WHERE a.project_id = ep.project_id AND a.episode_id = ep.id) AS m
     WHERE e.project_id = ep.project_id AND e.id = ep.id
    RETURNING e.* INTO ep;
    INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail)
    VALUES (ep.project_id, ep.id, pg_catalog.now(), 'alert_removed',
            pg_catalog.jsonb_build_object('alert_id', al.id,
                                          'by', alert_grouping.current_user_id()));
    RETURN ep;
END
$$;

-- Rows of multi-row INSERTs are stored with the episode they most likely join, guessed from
-- where this backend last placed their rule and key; deleting episodes tells every backend
-- to forget those guesses (the invalidation the rule cache listens to).
CREATE TRIGGER episodes_deleted AFTER DELETE OR TRUNCATE ON alert_grouping.episodes
    FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.config_changed();

-- The engine updates an episode for every alert that joins it, and PostgreSQL prepares every
-- check constraint again for each such statement: the two count checks become one.
ALTER TABLE alert_grouping.episodes
    DROP CONSTRAINT episodes_alert_count_check,
    DROP CONSTRAINT episodes_active_alert_count_check,
    ADD CONSTRAINT episodes_counts_check CHECK (alert_count >= 0 AND active_alert_count >= 0);

------------------------------------------------------------------------------------------
-- Ingestion: a single event is a single-row INSERT
------------------------------------------------------------------------------------------
-- A statement that stores one row lets the engine decide that row before it is written
-- (one write per alert); INSERT ... SELECT FROM unnest(...) is a multi-row statement to the
-- executor, whatever its row count. Returns the alert that holds the fingerprint: the new
-- one, or the older active one that absorbed it as a duplicate.
CREATE FUNCTION alert_grouping.insert_alert(alert alert_grouping.alerts)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id uuid;
    new_fingerprint text;
BEGIN
    INSERT INTO alert_grouping.alerts AS t
        (project_id, id, monitor_id, severity, title, description, labels, dedup_key,
         source, details, created_at)
    VALUES (alert.project_id, alert.id, alert.monitor_id, alert.severity, alert.title,
            alert.description, alert.labels, alert.dedup_key, alert.source, alert.details,
            alert.created_at)
    RETURNING t.id, t.fingerprint INTO new_id, new_fingerprint;
    -- The oldest active holder; no ORDER BY ... LIMIT, which would tempt the planner into
    -- walking every alert of the project by created_at.
    RETURN COALESCE(
        (SELECT (pg_catalog.array_agg(t.id ORDER BY t.created_at, t.id))[1]
           FROM alert_grouping.alerts AS t
          WHERE t.project_id = alert.project_id AND t.fingerprint = new_fingerprint
            AND t.state <> 'resolved'),
        new_id);
END
$$;

CREATE OR REPLACE FUNCTION alert_grouping.ingest_internal(project_id uuid, event jsonb)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    action text := COALESCE(event ->> 'event_action', 'trigger');
BEGIN
    PERFORM alert_grouping.require_project(project_id);
    IF event IS NULL OR pg_catalog.jsonb_typeof(event) <> 'object' THEN
        RAISE EXCEPTION 'event must be a JSON object, not %', COALESCE(pg_catalog.jsonb_typeof(event), 'null')
            USING ERRCODE = '22023';
    END IF;
    IF action IN ('acknowledge', 'resolve') THEN
        RETURN alert_grouping.apply_event_action(project_id, action,
                                                 alert_grouping.event_dedup_key(event, '', true),
                                                 alert_grouping.event_time(event));
    ELSIF action <> 'trigger' THEN
        RAISE EXCEPTION 'event field "event_action" has unknown value "%"', action
            USING ERRCODE = '22023', HINT = 'Use trigger, acknowledge or resolve.';
    END IF;
    RETURN alert_grouping.insert_alert(alert_grouping.event_to_alert(project_id, event));
END
$$;

------------------------------------------------------------------------------------------
-- The engine's own latency
------------------------------------------------------------------------------------------
-- Time per statement from the start of deciding to the end of writing: server-wide when
-- alert_grouping is in shared_preload_libraries (server_wide), else this backend's. The
-- percentiles come from a histogram of 4 buckets per doubling (within about 10%).
CREATE FUNCTION alert_grouping.engine_latency(OUT statements bigint, OUT rows bigint,
                                              OUT p50_ms double precision,
                                              OUT p99_ms double precision,
                                              OUT max_ms double precision,
                                              OUT server_wide boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'ag_engine_latency'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION alert_grouping.reset_engine_latency() RETURNS void
AS 'MODULE_PATHNAME', 'ag_reset_engine_latency'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

------------------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------------------
-- episode_members is a view now: read it; memberships change through the API.
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
    FOREACH f IN ARRAY ARRAY[
        'current_user_id()', 'member_project_ids(text)', 'has_project_role(uuid,text)',
        'flag_enabled(text,uuid)', 'fingerprint(uuid,text,jsonb)', 'dedup_key_fingerprint(text)',
        'validate_rule(jsonb,jsonb,jsonb)', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'regroup(uuid,uuid,timestamptz,timestamptz)', 'ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)']
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION alert_grouping.%s TO %I', f, role);
    END LOOP;
    IF act_for_users THEN
        INSERT INTO alert_grouping.application_roles (role)
        VALUES (pg_catalog.to_regrole(pg_catalog.quote_ident(grant_access.role)))
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- New functions are internal: never executable by PUBLIC, except the check constraint's.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    alert_grouping.membership_is_valid(uuid, text, timestamptz, uuid, numeric) TO PUBLIC;

-- ALTER EXTENSION records the current ACL of every object its script touches as the object's
-- initial privileges, grants made since by grant_access included; pg_dump leaves initial
-- privileges out of a dump, so a restore would lose those grants. Put back what a fresh
-- install records: the owner's own privileges only.
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
-- A fresh install records no initial privileges for the view; the grants carried over from
-- the members table are the roles' own.
DELETE FROM pg_catalog.pg_init_privs AS ip
 WHERE ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
   AND ip.objoid = 'alert_grouping.episode_members'::pg_catalog.regclass AND ip.privtype = 'e';
