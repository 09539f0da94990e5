-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION alert_grouping" to load this file. \quit

-- Every name below is schema-qualified: the extension must not depend on the caller's
-- search_path (CVE-2022-2625 style hijacking).

------------------------------------------------------------------------------------------
-- Types
------------------------------------------------------------------------------------------
CREATE TYPE alert_grouping.severity AS ENUM ('info', 'low', 'medium', 'high', 'critical');
CREATE TYPE alert_grouping.alert_state AS ENUM ('firing', 'acknowledged', 'resolved');
CREATE TYPE alert_grouping.episode_state AS ENUM ('open', 'acknowledged', 'resolved');
CREATE TYPE alert_grouping.incident_status AS ENUM
    ('open', 'investigating', 'identified', 'monitoring', 'resolved');

------------------------------------------------------------------------------------------
-- Tenancy
------------------------------------------------------------------------------------------
CREATE TABLE alert_grouping.projects (
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid() PRIMARY KEY,
    name text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 200),
    grouping_enabled boolean NOT NULL DEFAULT true,
    auto_create_episodes boolean NOT NULL DEFAULT true,
    default_time_window interval NOT NULL DEFAULT '60 minutes'
        CHECK (default_time_window > '0'::interval AND default_time_window <= '365 days'::interval),
    episode_number_prefix text NOT NULL DEFAULT '#',
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Per-project counters for user-visible numbers: gapless because the increment rolls back
-- with the transaction that took it. The engine creates a project's row on first use.
CREATE TABLE alert_grouping.project_counters (
    project_id uuid NOT NULL PRIMARY KEY
        REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    last_episode_number integer NOT NULL DEFAULT 0
);

CREATE TABLE alert_grouping.project_members (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    db_role name NULL,
    role text NOT NULL CHECK (role IN ('admin', 'responder', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_db_role_idx ON alert_grouping.project_members (db_role)
    WHERE db_role IS NOT NULL;
CREATE INDEX project_members_user_idx ON alert_grouping.project_members (user_id);

-- Global feature flags (a reference table when distributed); per-project overrides below.
CREATE TABLE alert_grouping.feature_flags (
    flag text NOT NULL PRIMARY KEY CHECK (flag ~ '^[a-z][a-z0-9_]{0,62}$'),
    enabled boolean NOT NULL DEFAULT false,
    rollout_percent integer NULL CHECK (rollout_percent BETWEEN 0 AND 100),
    description text NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE alert_grouping.project_flag_overrides (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    flag text NOT NULL CHECK (flag ~ '^[a-z][a-z0-9_]{0,62}$'),
    enabled boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, flag)
);

CREATE TABLE alert_grouping.teams (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, name)
);

CREATE TABLE alert_grouping.team_members (
    project_id uuid NOT NULL,
    team_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (project_id, team_id, user_id),
    FOREIGN KEY (project_id, team_id)
        REFERENCES alert_grouping.teams (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, user_id)
        REFERENCES alert_grouping.project_members (project_id, user_id) ON DELETE CASCADE
);

CREATE TABLE alert_grouping.labels (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    name text NOT NULL,
    color text NULL,
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, name)
);

------------------------------------------------------------------------------------------
-- Rules, episodes, alerts
------------------------------------------------------------------------------------------
CREATE TABLE alert_grouping.grouping_rules (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    name text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 500),
    description text NULL,
    enabled boolean NOT NULL DEFAULT true,
    priority integer NOT NULL DEFAULT 100,
    match_criteria jsonb NOT NULL DEFAULT '{}',
    grouping_config jsonb NOT NULL DEFAULT '{}',
    episode_config jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id)
);
CREATE INDEX grouping_rules_order_idx
    ON alert_grouping.grouping_rules (project_id, priority, created_at, id) WHERE enabled;

CREATE TABLE alert_grouping.episodes (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    episode_number integer NOT NULL,
    title text NOT NULL,
    description text NULL,
    rule_id uuid NULL,
    group_key text NULL,
    state alert_grouping.episode_state NOT NULL DEFAULT 'open',
    severity alert_grouping.severity NOT NULL DEFAULT 'info',
    started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_activity_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    acknowledged_at timestamptz NULL,
    resolved_at timestamptz NULL,
    all_alerts_resolved_at timestamptz NULL,
    alert_count integer NOT NULL DEFAULT 0 CHECK (alert_count >= 0),
    -- members still firing or acknowledged: auto-resolve happens when it reaches zero
    active_alert_count integer NOT NULL DEFAULT 0 CHECK (active_alert_count >= 0),
    unique_monitor_count integer NOT NULL DEFAULT 0,
    -- distinct monitors among members, so unique_monitor_count stays O(1) per added alert
    monitor_ids uuid[] NOT NULL DEFAULT '{}',
    -- the title with static placeholders rendered and {{alert_count}} kept, re-filled on add
    title_template text NULL,
    -- first alert's title: the basis of smart (similarity) grouping
    first_alert_title text NULL,
    root_cause text NULL,
    reopen_count integer NOT NULL DEFAULT 0,
    incident_id uuid NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, episode_number),
    FOREIGN KEY (project_id, rule_id) REFERENCES alert_grouping.grouping_rules (project_id, id)
) WITH (fillfactor = 50);  -- room on the page for HOT updates of busy episodes
-- The engine's lookup: open episodes of one rule and key. Nothing the engine updates on
-- every added alert (last_activity_at, counts, title) is indexed, so those updates are HOT.
CREATE INDEX episodes_open_key_idx
    ON alert_grouping.episodes (project_id, rule_id, group_key)
    WHERE state <> 'resolved';
-- Reopen lookup: recently resolved episodes of one rule and key.
CREATE INDEX episodes_resolved_key_idx
    ON alert_grouping.episodes (project_id, rule_id, group_key, resolved_at)
    WHERE state = 'resolved';
CREATE INDEX episodes_project_started_idx
    ON alert_grouping.episodes (project_id, started_at);

CREATE TABLE alert_grouping.alerts (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    monitor_id uuid NULL,
    severity alert_grouping.severity NOT NULL DEFAULT 'medium',
    title text NOT NULL,
    description text NULL,
    labels jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(labels) = 'object'),
    dedup_key text NULL CHECK (pg_catalog.length(dedup_key) BETWEEN 1 AND 255),
    source text NULL,
    details jsonb NULL,
    fingerprint text NOT NULL,
    duplicate_count integer NOT NULL DEFAULT 0,
    last_duplicate_at timestamptz NULL,
    episode_id uuid NULL,
    state alert_grouping.alert_state NOT NULL DEFAULT 'firing',
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    acknowledged_at timestamptz NULL,
    resolved_at timestamptz NULL,
    PRIMARY KEY (project_id, id),
    FOREIGN KEY (project_id, episode_id) REFERENCES alert_grouping.episodes (project_id, id)
);
-- Dedup lookup: only firing or acknowledged alerts absorb duplicates.
CREATE INDEX alerts_active_fingerprint_idx
    ON alert_grouping.alerts (project_id, fingerprint) WHERE state <> 'resolved';
CREATE INDEX alerts_project_created_idx ON alert_grouping.alerts (project_id, created_at);
CREATE INDEX alerts_episode_idx
    ON alert_grouping.alerts (project_id, episode_id) WHERE episode_id IS NOT NULL;

CREATE TABLE alert_grouping.episode_members (
    project_id uuid NOT NULL,
    episode_id uuid NOT NULL,
    alert_id uuid NOT NULL,
    added_by text NOT NULL CHECK (added_by IN ('rule', 'manual', 'retroactive', 'api')),
    added_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    rule_id uuid NULL,
    similarity_score numeric(5,4) NULL CHECK (similarity_score BETWEEN 0 AND 1),
    PRIMARY KEY (project_id, episode_id, alert_id),
    -- an alert belongs to at most one episode (alerts.episode_id mirrors this row)
    UNIQUE (project_id, alert_id),
    FOREIGN KEY (project_id, episode_id)
        REFERENCES alert_grouping.episodes (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, alert_id)
        REFERENCES alert_grouping.alerts (project_id, id) ON DELETE CASCADE
);

CREATE TABLE alert_grouping.episode_events (
    project_id uuid NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    episode_id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    kind text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (project_id, id),
    FOREIGN KEY (project_id, episode_id)
        REFERENCES alert_grouping.episodes (project_id, id) ON DELETE CASCADE
);
CREATE INDEX episode_events_episode_idx
    ON alert_grouping.episode_events (project_id, episode_id, at);

CREATE TABLE alert_grouping.episode_owner_users (
    project_id uuid NOT NULL,
    episode_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (project_id, episode_id, user_id),
    FOREIGN KEY (project_id, episode_id)
        REFERENCES alert_grouping.episodes (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, user_id)
        REFERENCES alert_grouping.project_members (project_id, user_id) ON DELETE CASCADE
);

CREATE TABLE alert_grouping.episode_owner_teams (
    project_id uuid NOT NULL,
    episode_id uuid NOT NULL,
    team_id uuid NOT NULL,
    PRIMARY KEY (project_id, episode_id, team_id),
    FOREIGN KEY (project_id, episode_id)
        REFERENCES alert_grouping.episodes (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, team_id)
        REFERENCES alert_grouping.teams (project_id, id) ON DELETE CASCADE
);

CREATE TABLE alert_grouping.episode_labels (
    project_id uuid NOT NULL,
    episode_id uuid NOT NULL,
    label_id uuid NOT NULL,
    PRIMARY KEY (project_id, episode_id, label_id),
    FOREIGN KEY (project_id, episode_id)
        REFERENCES alert_grouping.episodes (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, label_id)
        REFERENCES alert_grouping.labels (project_id, id) ON DELETE CASCADE
);

-- Statements the engine could not group: the alerts are stored, the failure is kept here.
CREATE TABLE alert_grouping.engine_errors (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    alert_ids uuid[] NOT NULL,
    sqlstate text NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (project_id, id)
);

------------------------------------------------------------------------------------------
-- Native functions
------------------------------------------------------------------------------------------
CREATE FUNCTION alert_grouping.fingerprint(monitor_id uuid, title text, labels jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'ag_fingerprint'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION alert_grouping.dedup_key_fingerprint(dedup_key text)
RETURNS text
AS 'MODULE_PATHNAME', 'ag_dedup_key_fingerprint'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION alert_grouping.validate_rule(
    match_criteria jsonb, grouping_config jsonb, episode_config jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'ag_validate_rule'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION alert_grouping.preview_rule(
    project_id uuid, match_criteria jsonb, grouping_config jsonb,
    from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (group_key text, alert_ids uuid[], first_at timestamptz, last_at timestamptz)
AS 'MODULE_PATHNAME', 'ag_preview_rule'
LANGUAGE C STABLE;

CREATE FUNCTION alert_grouping.regroup(
    project_id uuid, rule_id uuid, from_ts timestamptz, to_ts timestamptz)
RETURNS integer
AS 'MODULE_PATHNAME', 'ag_regroup'
LANGUAGE C VOLATILE;

CREATE FUNCTION alert_grouping.lock_fingerprint(project_id uuid, fingerprint text)
RETURNS void
AS 'MODULE_PATHNAME', 'ag_lock_fingerprint'
LANGUAGE C VOLATILE STRICT;

-- Every advisory lock a multi-statement ingest needs, at once and in the engine's order:
-- the fingerprints, the (rule, group key) of the alerts, and the episodes of the alerts
-- that hold those fingerprints.
CREATE FUNCTION alert_grouping.lock_for_batch(project_id uuid, alerts alert_grouping.alerts[],
                                              fingerprints text[])
RETURNS void
AS 'MODULE_PATHNAME', 'ag_lock_for_batch'
LANGUAGE C VOLATILE STRICT;

-- Trigger functions
CREATE FUNCTION alert_grouping.alerts_before_insert() RETURNS trigger
AS 'MODULE_PATHNAME', 'ag_alerts_before_insert' LANGUAGE C;

CREATE FUNCTION alert_grouping.alerts_after_insert() RETURNS trigger
AS 'MODULE_PATHNAME', 'ag_alerts_after_insert' LANGUAGE C;

CREATE FUNCTION alert_grouping.rules_before_write() RETURNS trigger
AS 'MODULE_PATHNAME', 'ag_rules_before_write' LANGUAGE C;

CREATE FUNCTION alert_grouping.config_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'ag_config_changed' LANGUAGE C;

------------------------------------------------------------------------------------------
-- Acting user and access checks
------------------------------------------------------------------------------------------
-- Identity. project_members.db_role links a database role to one user, across projects; only
-- the extension owner writes it (grant_access leaves that column out). A role mapped to
-- more than one distinct user is ambiguous and acts for nobody.
CREATE FUNCTION alert_grouping.role_is_mapped(role name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM alert_grouping.project_members AS m
                    WHERE m.db_role = role_is_mapped.role)
$$;

CREATE FUNCTION alert_grouping.user_id_for_role(role name) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.count(DISTINCT m.user_id) = 1 THEN pg_catalog.min(m.user_id::text)::uuid END
      FROM alert_grouping.project_members AS m WHERE m.db_role = user_id_for_role.role
$$;

-- The acting user, evaluated as the caller (SECURITY INVOKER, so current_user is the role
-- running the query): a role mapped to a member is that member and nothing it sets can
-- change it; an unmapped role (an application's pooled login) acts for the user named by
-- SET LOCAL alert_grouping.user_id.
CREATE FUNCTION alert_grouping.current_user_id() RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN alert_grouping.role_is_mapped(pg_catalog.current_user())
                THEN alert_grouping.user_id_for_role(pg_catalog.current_user())
                ELSE NULLIF(pg_catalog.current_setting('alert_grouping.user_id', true), '')::uuid
           END
$$;

CREATE FUNCTION alert_grouping.role_rank(role text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE role WHEN 'viewer' THEN 1 WHEN 'responder' THEN 2 WHEN 'admin' THEN 3 END
$$;

-- Projects where a user holds at least min_role (reads project_members past its policies).
CREATE FUNCTION alert_grouping.projects_of_user(user_id uuid, min_role text) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.project_id FROM alert_grouping.project_members AS m
     WHERE m.user_id = projects_of_user.user_id
       AND alert_grouping.role_rank(m.role) >= alert_grouping.role_rank(min_role)
$$;

-- Projects where the acting user holds at least min_role. Policies call it through
-- ARRAY(SELECT ...) so it runs once per statement, not per row. SECURITY INVOKER: the
-- identity must be computed as the caller.
CREATE FUNCTION alert_grouping.member_project_ids(min_role text) RETURNS SETOF uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT alert_grouping.projects_of_user(alert_grouping.current_user_id(), min_role)
$$;

CREATE FUNCTION alert_grouping.has_project_role(project_id uuid, min_role text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT project_id OPERATOR(pg_catalog.=) ANY (
        ARRAY(SELECT alert_grouping.member_project_ids(min_role)))
$$;

------------------------------------------------------------------------------------------
-- Feature flags
------------------------------------------------------------------------------------------
-- A project's stable bucket 0..99 for a flag: the first 32 bits of SHA-256(flag/project).
CREATE FUNCTION alert_grouping.rollout_bucket(flag text, project_id uuid) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (('x' || pg_catalog.left(pg_catalog.encode(pg_catalog.sha256(
        pg_catalog.convert_to(flag || '/' || project_id::text, 'UTF8')), 'hex'), 8))::bit(32)::bigint
        OPERATOR(pg_catalog.%) 100)::integer
$$;

-- Precedence: the project's override, else the rollout percentage, else the global value.
-- The flag "grouping" is on unless a row says otherwise.
CREATE FUNCTION alert_grouping.flag_enabled(flag text, project_id uuid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(
        (SELECT o.enabled FROM alert_grouping.project_flag_overrides AS o
          WHERE o.project_id = flag_enabled.project_id AND o.flag = flag_enabled.flag),
        (SELECT CASE WHEN f.rollout_percent IS NOT NULL
                     THEN alert_grouping.rollout_bucket(f.flag, flag_enabled.project_id)
                          < f.rollout_percent
                     ELSE f.enabled END
           FROM alert_grouping.feature_flags AS f WHERE f.flag = flag_enabled.flag),
        flag_enabled.flag = 'grouping')
$$;

------------------------------------------------------------------------------------------
-- Triggers
------------------------------------------------------------------------------------------
CREATE TRIGGER alerts_before_insert BEFORE INSERT ON alert_grouping.alerts
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.alerts_before_insert();
-- The grouping pipeline runs once per statement over the statement's new rows.
CREATE TRIGGER alerts_after_insert AFTER INSERT ON alert_grouping.alerts
    REFERENCING NEW TABLE AS new_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.alerts_after_insert();

CREATE TRIGGER grouping_rules_before_write BEFORE INSERT OR UPDATE ON alert_grouping.grouping_rules
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.rules_before_write();
CREATE TRIGGER grouping_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON alert_grouping.grouping_rules
    FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.config_changed();
CREATE TRIGGER projects_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON alert_grouping.projects
    FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.config_changed();
CREATE TRIGGER feature_flags_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON alert_grouping.feature_flags
    FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.config_changed();
CREATE TRIGGER project_flag_overrides_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON alert_grouping.project_flag_overrides
    FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.config_changed();

-- Deleting a rule keeps its episodes: their rule_id is cleared first (no ON DELETE SET NULL,
-- which Citus refuses and which would null project_id too).
CREATE FUNCTION alert_grouping.rules_before_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE alert_grouping.episode_members SET rule_id = NULL
     WHERE project_id = OLD.project_id AND rule_id = OLD.id;
    UPDATE alert_grouping.episodes SET rule_id = NULL
     WHERE project_id = OLD.project_id AND rule_id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER grouping_rules_before_delete BEFORE DELETE ON alert_grouping.grouping_rules
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.rules_before_delete();

-- Deleting an episode detaches its alerts instead of failing on the foreign key.
CREATE FUNCTION alert_grouping.episodes_before_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE alert_grouping.alerts SET episode_id = NULL
     WHERE project_id = OLD.project_id AND episode_id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER episodes_before_delete BEFORE DELETE ON alert_grouping.episodes
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.episodes_before_delete();

-- A member alert changing state keeps its episode's active count; when the last active
-- member resolves, the episode records all_alerts_resolved_at and, with no resolve delay,
-- resolves (a delay is honoured by the maintenance pass).
CREATE FUNCTION alert_grouping.alerts_state_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    was_active boolean := OLD.state <> 'resolved';
    is_active boolean := NEW.state <> 'resolved';
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
               WHEN e.active_alert_count = 1 THEN COALESCE(NEW.resolved_at, pg_catalog.now())
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
        UPDATE alert_grouping.episodes
           SET state = 'resolved', resolved_at = ep.all_alerts_resolved_at
         WHERE project_id = ep.project_id AND id = ep.id;
        INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail)
        VALUES (ep.project_id, ep.id, ep.all_alerts_resolved_at, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'all_alerts_resolved',
                                              'last_alert_id', NEW.id));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER alerts_state_changed AFTER UPDATE OF state ON alert_grouping.alerts
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state AND NEW.episode_id IS NOT NULL)
    EXECUTE FUNCTION alert_grouping.alerts_state_changed();

CREATE FUNCTION alert_grouping.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;
CREATE TRIGGER grouping_rules_touch BEFORE UPDATE ON alert_grouping.grouping_rules
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.touch_updated_at();

------------------------------------------------------------------------------------------
-- Ingestion (PagerDuty Events v2 shape)
------------------------------------------------------------------------------------------
-- A project the caller can see, or a clear error (instead of a foreign-key violation).
CREATE FUNCTION alert_grouping.require_project(project_id uuid) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF project_id IS NULL THEN
        RAISE EXCEPTION 'project_id must not be null' USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT FROM alert_grouping.projects AS p WHERE p.id = require_project.project_id) THEN
        RAISE EXCEPTION 'project % not found', project_id USING ERRCODE = 'P0002',
            HINT = 'The project does not exist or you are not a member of it.';
    END IF;
END
$$;

-- An event's time: payload.timestamp when given (imports and replays), else now().
CREATE FUNCTION alert_grouping.event_time(event jsonb, field_prefix text DEFAULT '')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF event -> 'payload' ->> 'timestamp' IS NULL THEN
        RETURN pg_catalog.now();
    END IF;
    -- Only a given timestamp pays for the exception block (a subtransaction).
    BEGIN
        RETURN (event -> 'payload' ->> 'timestamp')::timestamptz;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'event field "%payload.timestamp" must be a timestamp', field_prefix
            USING ERRCODE = '22023';
    END;
END
$$;

-- Turns one event into the alerts row it describes; raises 22023 naming the bad field.
CREATE FUNCTION alert_grouping.event_to_alert(project_id uuid, event jsonb,
                                              field_prefix text DEFAULT '')
RETURNS alert_grouping.alerts
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a alert_grouping.alerts;
    payload jsonb := event -> 'payload';
    sev text;
BEGIN
    IF event IS NULL OR pg_catalog.jsonb_typeof(event) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object',
            COALESCE(NULLIF(pg_catalog.rtrim(field_prefix, '.'), ''), 'event')
            USING ERRCODE = '22023';
    END IF;
    IF payload IS NOT NULL AND pg_catalog.jsonb_typeof(payload) <> 'object' THEN
        RAISE EXCEPTION 'event field "%payload" must be a JSON object', field_prefix USING ERRCODE = '22023';
    END IF;
    a.project_id := event_to_alert.project_id;
    a.id := pg_catalog.gen_random_uuid();
    a.dedup_key := event ->> 'dedup_key';
    IF pg_catalog.length(a.dedup_key) NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION 'event field "%dedup_key" must be 1 to 255 characters long', field_prefix
            USING ERRCODE = '22023';
    END IF;
    a.title := payload ->> 'summary';
    IF a.title IS NULL OR a.title = '' THEN
        RAISE EXCEPTION 'event field "%payload.summary" is required for a trigger event', field_prefix
            USING ERRCODE = '22023';
    END IF;
    sev := COALESCE(payload ->> 'severity', 'medium');
    -- PagerDuty's names map onto ours.
    sev := CASE sev WHEN 'error' THEN 'high' WHEN 'warning' THEN 'medium' ELSE sev END;
    IF sev NOT IN ('info', 'low', 'medium', 'high', 'critical') THEN
        RAISE EXCEPTION 'event field "%payload.severity" has unknown value "%"', field_prefix, sev
            USING ERRCODE = '22023',
                  HINT = 'Use critical, error, warning, info, or one of low, medium, high.';
    END IF;
    a.severity := sev::alert_grouping.severity;
    a.source := payload ->> 'source';
    a.details := payload -> 'custom_details';
    a.description := COALESCE(event ->> 'description', payload ->> 'component');
    a.labels := COALESCE(event -> 'labels', '{}');
    IF pg_catalog.jsonb_typeof(a.labels) <> 'object' THEN
        RAISE EXCEPTION 'event field "%labels" must be a JSON object', field_prefix USING ERRCODE = '22023';
    END IF;
    -- Checked without an exception block: a batch must not cost a subtransaction per event.
    IF event ->> 'monitor_id' IS NOT NULL THEN
        IF (event ->> 'monitor_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            RAISE EXCEPTION 'event field "%monitor_id" must be a uuid', field_prefix
                USING ERRCODE = '22023';
        END IF;
        a.monitor_id := (event ->> 'monitor_id')::uuid;
    END IF;
    a.created_at := alert_grouping.event_time(event, field_prefix);
    a.state := 'firing';
    a.duplicate_count := 0;
    RETURN a;
END
$$;

-- acknowledge / resolve by dedup_key: returns the alert acted on, NULL when none is active.
CREATE FUNCTION alert_grouping.apply_event_action(project_id uuid, action text, dedup_key text,
                                                  at timestamptz)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fp text := alert_grouping.dedup_key_fingerprint(dedup_key);
    target uuid;
BEGIN
    -- Same lock the engine takes before deduplicating this fingerprint.
    PERFORM alert_grouping.lock_fingerprint(project_id, fp);
    UPDATE alert_grouping.alerts AS a
       SET state = CASE action WHEN 'resolve' THEN 'resolved'::alert_grouping.alert_state
                               ELSE 'acknowledged'::alert_grouping.alert_state END,
           acknowledged_at = CASE WHEN action = 'acknowledge' THEN at ELSE a.acknowledged_at END,
           resolved_at = CASE WHEN action = 'resolve' THEN at ELSE a.resolved_at END
     WHERE a.project_id = apply_event_action.project_id AND a.fingerprint = fp
       AND a.state <> 'resolved'
       AND (action = 'resolve' OR a.state = 'firing')
    RETURNING a.id INTO target;
    IF target IS NULL THEN
        SELECT a.id INTO target FROM alert_grouping.alerts AS a
         WHERE a.project_id = apply_event_action.project_id AND a.fingerprint = fp
           AND a.state <> 'resolved';
    END IF;
    RETURN target;
END
$$;

-- Inserts parsed alerts in one statement and reports, per alert in order, the alert that
-- holds it: itself, or the active alert with the same fingerprint that absorbed it.
CREATE FUNCTION alert_grouping.insert_alerts(alerts alert_grouping.alerts[])
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids uuid[];
    fps text[];
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
    RETURN QUERY
    SELECT COALESCE(canonical.id, u.id), 'trigger'::text
      FROM pg_catalog.unnest(alerts) WITH ORDINALITY AS u
      JOIN ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(fps)) AS f(id, fp) ON f.id = u.id
      LEFT JOIN LATERAL (
          SELECT t.id FROM alert_grouping.alerts AS t
           WHERE t.project_id = u.project_id AND t.fingerprint = f.fp AND t.state <> 'resolved'
           ORDER BY t.created_at, t.id LIMIT 1) AS canonical ON true
     ORDER BY u.ordinality;
END
$$;

CREATE FUNCTION alert_grouping.ingest(project_id uuid, event jsonb) RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    action text := COALESCE(event ->> 'event_action', 'trigger');
BEGIN
    PERFORM alert_grouping.require_project(project_id);
    IF action IN ('acknowledge', 'resolve') THEN
        IF event ->> 'dedup_key' IS NULL THEN
            RAISE EXCEPTION 'event field "dedup_key" is required for event_action "%"', action
                USING ERRCODE = '22023';
        END IF;
        RETURN alert_grouping.apply_event_action(project_id, action, event ->> 'dedup_key',
                                                 alert_grouping.event_time(event));
    ELSIF action <> 'trigger' THEN
        RAISE EXCEPTION 'event field "event_action" has unknown value "%"', action
            USING ERRCODE = '22023', HINT = 'Use trigger, acknowledge or resolve.';
    END IF;
    RETURN (SELECT i.alert_id FROM alert_grouping.insert_alerts(
                ARRAY[alert_grouping.event_to_alert(project_id, event)]) AS i);
END
$$;

CREATE FUNCTION alert_grouping.ingest_batch(project_id uuid, events jsonb)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ev record;
    actions text[] := '{}';
    parsed alert_grouping.alerts[] := '{}';
    fingerprints text[] := '{}';
    triggers alert_grouping.alerts[] := '{}';
    results uuid[] := '{}';
    a alert_grouping.alerts;
    n integer;
    run_start integer := 1;
    i integer;
    j integer;
    pending alert_grouping.alerts[];
    positions integer[];
    inserted uuid[];
BEGIN
    PERFORM alert_grouping.require_project(project_id);
    IF events IS NULL OR pg_catalog.jsonb_typeof(events) <> 'array' THEN
        RAISE EXCEPTION 'events must be a JSON array' USING ERRCODE = '22023';
    END IF;
    -- Validate every event first: a bad one refuses the whole batch before anything is written.
    FOR ev IN SELECT e.value, e.ordinality - 1 AS i
                FROM pg_catalog.jsonb_array_elements(events) WITH ORDINALITY AS e LOOP
        CASE COALESCE(ev.value ->> 'event_action', 'trigger')
        WHEN 'trigger' THEN
            a := alert_grouping.event_to_alert(ingest_batch.project_id, ev.value,
                                               pg_catalog.format('events[%s].', ev.i));
            triggers := triggers || a;
            fingerprints := fingerprints || CASE WHEN a.dedup_key IS NOT NULL
                THEN alert_grouping.dedup_key_fingerprint(a.dedup_key)
                ELSE alert_grouping.fingerprint(a.monitor_id, a.title, a.labels) END;
        WHEN 'acknowledge', 'resolve' THEN
            IF ev.value ->> 'dedup_key' IS NULL THEN
                RAISE EXCEPTION 'event field "events[%].dedup_key" is required for event_action "%"',
                    ev.i, ev.value ->> 'event_action' USING ERRCODE = '22023';
            END IF;
            a := NULL;
            a.dedup_key := ev.value ->> 'dedup_key';
            a.created_at := alert_grouping.event_time(ev.value, pg_catalog.format('events[%s].', ev.i));
            fingerprints := fingerprints || alert_grouping.dedup_key_fingerprint(a.dedup_key);
        ELSE
            RAISE EXCEPTION 'event field "events[%].event_action" has unknown value "%"',
                ev.i, ev.value ->> 'event_action'
                USING ERRCODE = '22023', HINT = 'Use trigger, acknowledge or resolve.';
        END CASE;
        actions := actions || COALESCE(ev.value ->> 'event_action', 'trigger');
        parsed := parsed || a;
        results := results || NULL::uuid;
    END LOOP;
    n := pg_catalog.cardinality(actions);
    -- Everything the batch's statements will lock is locked up front, in the engine's order,
    -- so they cannot wait in a cycle with other writers.
    PERFORM alert_grouping.lock_for_batch(project_id, triggers, fingerprints);
    -- Triggers go in as one INSERT (the engine groups per statement) and the acknowledges
    -- and resolves follow in order; the batch is cut only where an acknowledge or resolve
    -- precedes a trigger with the same dedup_key, which must see it.
    FOR i IN 1 .. n + 1 LOOP
        IF i <= n AND (actions[i] = 'trigger' OR NOT EXISTS (
               SELECT FROM pg_catalog.generate_series(i + 1, n) AS k
                WHERE actions[k] = 'trigger' AND parsed[k].dedup_key = parsed[i].dedup_key)) THEN
            CONTINUE;
        END IF;
        -- Flush events run_start .. i-1: their triggers, then their other actions in order.
        pending := '{}';
        positions := '{}';
        FOR j IN run_start .. i - 1 LOOP
            IF actions[j] = 'trigger' THEN
                pending := pending || parsed[j];
                positions := positions || j;
            END IF;
        END LOOP;
        IF pg_catalog.cardinality(pending) > 0 THEN
            inserted := ARRAY(SELECT r.alert_id FROM alert_grouping.insert_alerts(pending) AS r);
            FOR j IN 1 .. pg_catalog.cardinality(positions) LOOP
                results[positions[j]] := inserted[j];
            END LOOP;
        END IF;
        FOR j IN run_start .. LEAST(i, n) LOOP
            IF actions[j] <> 'trigger' THEN
                results[j] := alert_grouping.apply_event_action(
                    ingest_batch.project_id, actions[j], parsed[j].dedup_key, parsed[j].created_at);
            END IF;
        END LOOP;
        run_start := i + 1;
    END LOOP;
    RETURN QUERY SELECT r.id, r.act
                   FROM ROWS FROM (pg_catalog.unnest(results), pg_catalog.unnest(actions))
                        WITH ORDINALITY AS r(id, act, ord)
                  ORDER BY r.ord;
END
$$;

------------------------------------------------------------------------------------------
-- Episode lifecycle (SECURITY INVOKER: row-level security decides who may act)
------------------------------------------------------------------------------------------
-- Locks an episode the caller may change; tells "not found" from "not allowed".
CREATE FUNCTION alert_grouping.lock_episode(project_id uuid, episode_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes;
BEGIN
    SELECT e.* INTO ep FROM alert_grouping.episodes AS e
     WHERE e.project_id = lock_episode.project_id AND e.id = lock_episode.episode_id
       FOR NO KEY UPDATE;
    IF FOUND THEN
        RETURN ep;
    END IF;
    PERFORM FROM alert_grouping.episodes AS e
     WHERE e.project_id = lock_episode.project_id AND e.id = lock_episode.episode_id;
    IF FOUND THEN
        RAISE EXCEPTION 'permission denied to change episode %', episode_id
            USING ERRCODE = '42501', HINT = 'This needs the responder or admin role in the project.';
    END IF;
    RAISE EXCEPTION 'episode % not found in project %', episode_id, project_id
        USING ERRCODE = 'P0002';
END
$$;

CREATE FUNCTION alert_grouping.acknowledge_episode(project_id uuid, episode_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes := alert_grouping.lock_episode(project_id, episode_id);
    n integer;
BEGIN
    IF ep.state = 'resolved' THEN
        RAISE EXCEPTION 'episode % is resolved', ep.episode_number USING ERRCODE = '55000';
    ELSIF ep.state = 'acknowledged' THEN
        RETURN ep;
    END IF;
    UPDATE alert_grouping.episodes AS e
       SET state = 'acknowledged', acknowledged_at = pg_catalog.now()
     WHERE e.project_id = ep.project_id AND e.id = ep.id
    RETURNING e.* INTO ep;
    UPDATE alert_grouping.alerts AS a
       SET state = 'acknowledged', acknowledged_at = pg_catalog.now()
     WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state = 'firing';
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail)
    VALUES (ep.project_id, ep.id, pg_catalog.now(), 'acknowledged',
            pg_catalog.jsonb_build_object('by', alert_grouping.current_user_id(),
                                          'alerts_acknowledged', n));
    RETURN ep;
END
$$;

CREATE FUNCTION alert_grouping.resolve_episode(project_id uuid, episode_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes := alert_grouping.lock_episode(project_id, episode_id);
    n integer;
BEGIN
    IF ep.state = 'resolved' THEN
        RETURN ep;
    END IF;
    -- The episode first: the member trigger then sees it resolved and does not resolve it again.
    UPDATE alert_grouping.episodes AS e
       SET state = 'resolved', resolved_at = pg_catalog.now()
     WHERE e.project_id = ep.project_id AND e.id = ep.id;
    UPDATE alert_grouping.alerts AS a
       SET state = 'resolved', resolved_at = pg_catalog.now()
     WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state <> 'resolved';
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail)
    VALUES (ep.project_id, ep.id, pg_catalog.now(), 'resolved',
            pg_catalog.jsonb_build_object('reason', 'manual',
                                          'by', alert_grouping.current_user_id(),
                                          'alerts_resolved', n));
    SELECT e.* INTO ep FROM alert_grouping.episodes AS e
     WHERE e.project_id = ep.project_id AND e.id = ep.id;
    RETURN ep;
END
$$;

CREATE FUNCTION alert_grouping.add_alert_to_episode(project_id uuid, episode_id uuid, alert_id uuid)
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
     WHERE a.project_id = add_alert_to_episode.project_id AND a.id = add_alert_to_episode.alert_id
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
    INSERT INTO alert_grouping.episode_members (project_id, episode_id, alert_id, added_by)
    VALUES (ep.project_id, ep.id, al.id, 'manual');
    UPDATE alert_grouping.alerts AS a SET episode_id = ep.id
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

CREATE FUNCTION alert_grouping.remove_alert_from_episode(project_id uuid, episode_id uuid,
                                                         alert_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes := alert_grouping.lock_episode(project_id, episode_id);
    al alert_grouping.alerts;
BEGIN
    DELETE FROM alert_grouping.episode_members AS m
     WHERE m.project_id = ep.project_id AND m.episode_id = ep.id
       AND m.alert_id = remove_alert_from_episode.alert_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert % is not a member of episode %', alert_id, episode_id
            USING ERRCODE = 'P0002';
    END IF;
    UPDATE alert_grouping.alerts AS a SET episode_id = NULL
     WHERE a.project_id = ep.project_id AND a.id = remove_alert_from_episode.alert_id
    RETURNING a.* INTO al;
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

------------------------------------------------------------------------------------------
-- Row-level security: members see their projects' rows; writes need the role named.
-- ARRAY(SELECT ...) makes the membership lookup an InitPlan: once per statement.
------------------------------------------------------------------------------------------
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('project_counters', NULL, NULL),
        ('project_members', 'admin', 'admin'),
        ('project_flag_overrides', 'admin', 'admin'),
        ('teams', 'admin', 'admin'),
        ('team_members', 'admin', 'admin'),
        ('labels', 'admin', 'admin'),
        ('grouping_rules', 'admin', 'admin'),
        ('alerts', 'responder', 'admin'),
        ('episodes', 'responder', 'admin'),
        ('episode_members', 'responder', 'responder'),
        ('episode_events', 'responder', 'admin'),
        ('episode_owner_users', 'responder', 'responder'),
        ('episode_owner_teams', 'responder', 'responder'),
        ('episode_labels', 'responder', 'responder'),
        ('engine_errors', NULL, NULL)) AS v(tbl, write_role, delete_role)
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER TABLE alert_grouping.%I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR SELECT USING (project_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT alert_grouping.member_project_ids(%L))))',
            t.tbl || '_select', t.tbl, 'viewer');
        IF t.write_role IS NOT NULL THEN
            EXECUTE pg_catalog.format(
                'CREATE POLICY %I ON alert_grouping.%I FOR INSERT WITH CHECK (project_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT alert_grouping.member_project_ids(%L))))',
                t.tbl || '_insert', t.tbl, t.write_role);
            EXECUTE pg_catalog.format(
                'CREATE POLICY %I ON alert_grouping.%I FOR UPDATE USING (project_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT alert_grouping.member_project_ids(%L)))) WITH CHECK (project_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT alert_grouping.member_project_ids(%L))))',
                t.tbl || '_update', t.tbl, t.write_role, t.write_role);
            EXECUTE pg_catalog.format(
                'CREATE POLICY %I ON alert_grouping.%I FOR DELETE USING (project_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT alert_grouping.member_project_ids(%L))))',
                t.tbl || '_delete', t.tbl, t.delete_role);
        END IF;
    END LOOP;
END
$$;

-- Projects are created by the platform's owner role; members read them, admins edit them.
ALTER TABLE alert_grouping.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY projects_select ON alert_grouping.projects FOR SELECT
    USING (id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT alert_grouping.member_project_ids('viewer'))));
CREATE POLICY projects_update ON alert_grouping.projects FOR UPDATE
    USING (id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT alert_grouping.member_project_ids('admin'))))
    WITH CHECK (id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT alert_grouping.member_project_ids('admin'))));

------------------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;

CREATE FUNCTION alert_grouping.grant_access(role name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = grant_access.role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = '42704';
    END IF;
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA alert_grouping TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON alert_grouping.alerts, alert_grouping.episodes, '
        'alert_grouping.episode_members, alert_grouping.episode_events, '
        'alert_grouping.grouping_rules, '
        'alert_grouping.project_flag_overrides, alert_grouping.teams, '
        'alert_grouping.team_members, alert_grouping.labels, alert_grouping.episode_owner_users, '
        'alert_grouping.episode_owner_teams, alert_grouping.episode_labels TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON alert_grouping.project_counters, alert_grouping.engine_errors, '
        'alert_grouping.feature_flags TO %I', role);
    EXECUTE pg_catalog.format('GRANT SELECT, UPDATE ON alert_grouping.projects TO %I', role);
    -- db_role links a database role to a user across all projects: owner only.
    EXECUTE pg_catalog.format(
        'GRANT SELECT, DELETE, INSERT (project_id, user_id, role, created_at), UPDATE (role) '
        'ON alert_grouping.project_members TO %I', role);
    FOREACH f IN ARRAY ARRAY[
        'current_user_id()', 'role_is_mapped(name)', 'user_id_for_role(name)', 'role_rank(text)',
        'projects_of_user(uuid,text)', 'member_project_ids(text)',
        'has_project_role(uuid,text)', 'rollout_bucket(text,uuid)', 'flag_enabled(text,uuid)',
        'fingerprint(uuid,text,jsonb)', 'dedup_key_fingerprint(text)',
        'validate_rule(jsonb,jsonb,jsonb)', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'regroup(uuid,uuid,timestamptz,timestamptz)', 'lock_fingerprint(uuid,text)',
        'lock_for_batch(uuid,alert_grouping.alerts[],text[])',
        'require_project(uuid)', 'event_time(jsonb,text)', 'event_to_alert(uuid,jsonb,text)', 'apply_event_action(uuid,text,text,timestamptz)',
        'insert_alerts(alert_grouping.alerts[])', 'ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'lock_episode(uuid,uuid)', 'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)']
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION alert_grouping.%s TO %I', f, role);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION alert_grouping.grant_access(name) FROM PUBLIC;

------------------------------------------------------------------------------------------
-- pg_dump keeps user data of extension tables
------------------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.projects', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.project_counters', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.project_members', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.feature_flags', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.project_flag_overrides', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.teams', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.team_members', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.labels', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.grouping_rules', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.episodes', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.episode_members', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.episode_events', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.episode_owner_users', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.episode_owner_teams', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.episode_labels', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.engine_errors', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.episode_events_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.engine_errors_id_seq', '');

------------------------------------------------------------------------------------------
-- Version 0.2: sql/alert_grouping--0.1--0.2.sql as it was released
------------------------------------------------------------------------------------------

-- 0.2: hardening. Identity fails closed, internal functions are never granted, every
-- function pins search_path, 64-bit advisory locks in one order for every path, the engine
-- decides without a transaction id of its own, restores are safe by default.

------------------------------------------------------------------------------------------
-- Identity
------------------------------------------------------------------------------------------
-- A mapping names a role by OID: renaming a role keeps its mapping, and a new role with an
-- old name inherits nothing. Names that no longer exist are unmapped (they act for nobody).
DROP INDEX alert_grouping.project_members_db_role_idx;
ALTER TABLE alert_grouping.project_members
    ALTER COLUMN db_role TYPE pg_catalog.regrole
    USING pg_catalog.to_regrole(pg_catalog.quote_ident(db_role::text));
CREATE INDEX project_members_db_role_idx ON alert_grouping.project_members (db_role)
    WHERE db_role IS NOT NULL;

-- Roles that may act for any user (SET LOCAL alert_grouping.user_id): an application's pooled
-- login, registered by grant_access(role, act_for_users => true). Only the owner reads it.
CREATE TABLE alert_grouping.application_roles (
    role pg_catalog.regrole NOT NULL PRIMARY KEY,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.application_roles', '');

-- Evaluated in C as the caller (GetUserId()), reading the mappings as the owner: the lookups
-- answer only for the calling role, never for a role or user someone names.
CREATE OR REPLACE FUNCTION alert_grouping.current_user_id() RETURNS uuid
AS 'MODULE_PATHNAME', 'ag_current_user_id'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION alert_grouping.member_project_ids(min_role text) RETURNS SETOF uuid
AS 'MODULE_PATHNAME', 'ag_member_project_ids'
LANGUAGE C STABLE ROWS 10
SET search_path = pg_catalog, pg_temp;

DROP FUNCTION alert_grouping.role_is_mapped(name);
DROP FUNCTION alert_grouping.user_id_for_role(name);
DROP FUNCTION alert_grouping.projects_of_user(uuid, text);
DROP FUNCTION alert_grouping.role_rank(text);  -- only projects_of_user used it

-- flag_enabled is part of the API; the bucket is computed inline so that it calls nothing
-- internal.
CREATE OR REPLACE FUNCTION alert_grouping.flag_enabled(flag text, project_id uuid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(
        (SELECT o.enabled FROM alert_grouping.project_flag_overrides AS o
          WHERE o.project_id OPERATOR(pg_catalog.=) flag_enabled.project_id
            AND o.flag OPERATOR(pg_catalog.=) flag_enabled.flag),
        (SELECT CASE WHEN f.rollout_percent IS NOT NULL
                     THEN ((('x' OPERATOR(pg_catalog.||) pg_catalog.left(pg_catalog.encode(
                              pg_catalog.sha256(pg_catalog.convert_to(
                                  f.flag OPERATOR(pg_catalog.||) '/'
                                  OPERATOR(pg_catalog.||) flag_enabled.project_id::text, 'UTF8')),
                              'hex'), 8))::bit(32)::bigint OPERATOR(pg_catalog.%) 100)::integer
                          OPERATOR(pg_catalog.<) f.rollout_percent)
                     ELSE f.enabled END
           FROM alert_grouping.feature_flags AS f
          WHERE f.flag OPERATOR(pg_catalog.=) flag_enabled.flag),
        flag_enabled.flag OPERATOR(pg_catalog.=) 'grouping')
$$;

------------------------------------------------------------------------------------------
-- Every function pins search_path (the C ones run SQL too)
------------------------------------------------------------------------------------------
ALTER FUNCTION alert_grouping.fingerprint(uuid, text, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.dedup_key_fingerprint(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.validate_rule(jsonb, jsonb, jsonb)
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.preview_rule(uuid, jsonb, jsonb, timestamptz, timestamptz)
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.regroup(uuid, uuid, timestamptz, timestamptz)
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.lock_fingerprint(uuid, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.lock_for_batch(uuid, alert_grouping.alerts[], text[])
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.alerts_before_insert() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.alerts_after_insert() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.rules_before_write() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION alert_grouping.config_changed() SET search_path = pg_catalog, pg_temp;

-- Internal: the ingest and lifecycle implementations lock the episodes they change, in the
-- engine's order (after the fingerprint and group locks, before any row).
CREATE FUNCTION alert_grouping.lock_episodes(project_id uuid, episode_ids uuid[])
RETURNS void
AS 'MODULE_PATHNAME', 'ag_lock_episodes'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

------------------------------------------------------------------------------------------
-- Alerts: finite event times, group keys of any length, unambiguous fingerprints
------------------------------------------------------------------------------------------
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT pg_catalog.count(*) INTO n FROM alert_grouping.alerts AS a
     WHERE NOT pg_catalog.isfinite(a.created_at);
    IF n OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'alert_grouping 0.2 needs finite alert times: % alerts have created_at = infinity or -infinity', n
            USING ERRCODE = '23514',
                  HINT = 'Correct or delete them (SELECT ... WHERE NOT isfinite(created_at)), then update again.';
    END IF;
END
$$;
-- An infinite time would make an episode absorb every later alert (or overflow the windows).
ALTER TABLE alert_grouping.alerts
    ADD CONSTRAINT alerts_created_at_finite CHECK (pg_catalog.isfinite(created_at));

-- Group keys are looked up through a hash: a key may be longer than a B-tree entry can be.
DROP INDEX alert_grouping.episodes_open_key_idx;
CREATE INDEX episodes_open_key_idx
    ON alert_grouping.episodes (project_id, rule_id, pg_catalog.hashtextextended(group_key, 0))
    WHERE state <> 'resolved';
DROP INDEX alert_grouping.episodes_resolved_key_idx;
CREATE INDEX episodes_resolved_key_idx
    ON alert_grouping.episodes
       (project_id, rule_id, pg_catalog.hashtextextended(group_key, 0), resolved_at)
    WHERE state = 'resolved';

-- Fingerprint material now escapes its separators. Only alerts whose title or labels hold one
-- of them ('\', '|' in titles; '\', ',', '=' in label names and values) change.
UPDATE alert_grouping.alerts AS a
   SET fingerprint = alert_grouping.fingerprint(a.monitor_id, a.title, a.labels)
 WHERE a.dedup_key IS NULL
   AND (a.title OPERATOR(pg_catalog.~) '[\\|]'
        OR EXISTS (SELECT FROM pg_catalog.jsonb_each_text(a.labels) AS l
                    WHERE l.key OPERATOR(pg_catalog.~) '[\\,=]'
                       OR l.value OPERATOR(pg_catalog.~) '[\\,=]'));

------------------------------------------------------------------------------------------
-- Ingestion: validated fields, finite times, every matching alert acted on, linear batches
------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION alert_grouping.event_time(event jsonb, field_prefix text DEFAULT '')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t timestamptz;
BEGIN
    IF event -> 'payload' -> 'timestamp' IS NULL
       OR pg_catalog.jsonb_typeof(event -> 'payload' -> 'timestamp') = 'null' THEN
        RETURN pg_catalog.now();
    END IF;
    IF pg_catalog.jsonb_typeof(event -> 'payload' -> 'timestamp') <> 'string' THEN
        RAISE EXCEPTION 'event field "%payload.timestamp" must be a string', field_prefix
            USING ERRCODE = '22023';
    END IF;
    -- Only a given timestamp pays for the exception block (a subtransaction).
    BEGIN
        t := (event -> 'payload' ->> 'timestamp')::timestamptz;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'event field "%payload.timestamp" must be a timestamp', field_prefix
            USING ERRCODE = '22023';
    END;
    IF NOT pg_catalog.isfinite(t) THEN
        RAISE EXCEPTION 'event field "%payload.timestamp" must be a finite timestamp', field_prefix
            USING ERRCODE = '22023';
    END IF;
    RETURN t;
END
$$;

-- A dedup_key given in an event: a JSON string of 1 to 255 characters (NULL when absent).
CREATE FUNCTION alert_grouping.event_dedup_key(event jsonb, field_prefix text, required boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k jsonb := event -> 'dedup_key';
BEGIN
    IF k IS NULL OR pg_catalog.jsonb_typeof(k) = 'null' THEN
        IF required THEN
            RAISE EXCEPTION 'event field "%dedup_key" is required for event_action "%"',
                field_prefix, event ->> 'event_action' USING ERRCODE = '22023';
        END IF;
        RETURN NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(k) <> 'string' THEN
        RAISE EXCEPTION 'event field "%dedup_key" must be a string, not %', field_prefix,
            pg_catalog.jsonb_typeof(k) USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.length(k #>> '{}') NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION 'event field "%dedup_key" must be 1 to 255 characters long', field_prefix
            USING ERRCODE = '22023';
    END IF;
    RETURN k #>> '{}';
END
$$;

CREATE OR REPLACE FUNCTION alert_grouping.event_to_alert(project_id uuid, event jsonb,
                                                         field_prefix text DEFAULT '')
RETURNS alert_grouping.alerts
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a alert_grouping.alerts;
    payload jsonb := event -> 'payload';
    sev text;
BEGIN
    IF event IS NULL OR pg_catalog.jsonb_typeof(event) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object, not %',
            COALESCE(NULLIF(pg_catalog.rtrim(field_prefix, '.'), ''), 'event'),
            COALESCE(pg_catalog.jsonb_typeof(event), 'null')
            USING ERRCODE = '22023';
    END IF;
    IF payload IS NOT NULL AND pg_catalog.jsonb_typeof(payload) <> 'object' THEN
        RAISE EXCEPTION 'event field "%payload" must be a JSON object', field_prefix USING ERRCODE = '22023';
    END IF;
    a.project_id := event_to_alert.project_id;
    a.id := pg_catalog.gen_random_uuid();
    a.dedup_key := alert_grouping.event_dedup_key(event, field_prefix, false);
    IF payload -> 'summary' IS NOT NULL AND pg_catalog.jsonb_typeof(payload -> 'summary') <> 'string' THEN
        RAISE EXCEPTION 'event field "%payload.summary" must be a string, not %', field_prefix,
            pg_catalog.jsonb_typeof(payload -> 'summary') USING ERRCODE = '22023';
    END IF;
    a.title := payload ->> 'summary';
    IF a.title IS NULL OR a.title = '' THEN
        RAISE EXCEPTION 'event field "%payload.summary" is required for a trigger event', field_prefix
            USING ERRCODE = '22023';
    END IF;
    sev := COALESCE(payload ->> 'severity', 'medium');
    -- PagerDuty's names map onto ours.
    sev := CASE sev WHEN 'error' THEN 'high' WHEN 'warning' THEN 'medium' ELSE sev END;
    IF sev NOT IN ('info', 'low', 'medium', 'high', 'critical') THEN
        RAISE EXCEPTION 'event field "%payload.severity" has unknown value "%"', field_prefix, sev
            USING ERRCODE = '22023',
                  HINT = 'Use critical, error, warning, info, or one of low, medium, high.';
    END IF;
    a.severity := sev::alert_grouping.severity;
    a.source := payload ->> 'source';
    a.details := payload -> 'custom_details';
    a.description := COALESCE(event ->> 'description', payload ->> 'component');
    a.labels := COALESCE(event -> 'labels', '{}');
    IF pg_catalog.jsonb_typeof(a.labels) <> 'object' THEN
        RAISE EXCEPTION 'event field "%labels" must be a JSON object', field_prefix USING ERRCODE = '22023';
    END IF;
    -- Checked without an exception block: a batch must not cost a subtransaction per event.
    IF event ->> 'monitor_id' IS NOT NULL THEN
        IF (event ->> 'monitor_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            RAISE EXCEPTION 'event field "%monitor_id" must be a uuid', field_prefix
                USING ERRCODE = '22023';
        END IF;
        a.monitor_id := (event ->> 'monitor_id')::uuid;
    END IF;
    a.created_at := alert_grouping.event_time(event, field_prefix);
    a.state := 'firing';
    a.duplicate_count := 0;
    RETURN a;
END
$$;

-- acknowledge / resolve by dedup_key: acts on every active alert holding it (one, unless
-- grouping was off when they came) and returns the oldest, NULL when none is active. Locks in
-- the engine's order: the fingerprint, then the episodes of those alerts, then the rows.
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
           SET state = CASE action WHEN 'resolve' THEN 'resolved'::alert_grouping.alert_state
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

CREATE FUNCTION alert_grouping.ingest_internal(project_id uuid, event jsonb)
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
    RETURN (SELECT i.alert_id FROM alert_grouping.insert_alerts(
                ARRAY[alert_grouping.event_to_alert(project_id, event)]) AS i);
END
$$;

CREATE FUNCTION alert_grouping.ingest_batch_internal(project_id uuid, events jsonb)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_events constant integer := 10000;
    ev record;
    actions text[] := '{}';
    parsed alert_grouping.alerts[] := '{}';
    fingerprints text[] := '{}';
    triggers alert_grouping.alerts[] := '{}';
    results uuid[] := '{}';
    cuts boolean[];
    a alert_grouping.alerts;
    n integer;
    run_start integer := 1;
    i integer;
    j integer;
    pending alert_grouping.alerts[];
    positions integer[];
    inserted uuid[];
BEGIN
    PERFORM alert_grouping.require_project(project_id);
    IF events IS NULL OR pg_catalog.jsonb_typeof(events) <> 'array' THEN
        RAISE EXCEPTION 'events must be a JSON array' USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.jsonb_array_length(events) > max_events THEN
        RAISE EXCEPTION 'events must hold at most % events, not %', max_events,
            pg_catalog.jsonb_array_length(events)
            USING ERRCODE = '54000', HINT = 'Send the events in several batches.';
    END IF;
    -- Validate every event first: a bad one refuses the whole batch before anything is written.
    FOR ev IN SELECT e.value, e.ordinality - 1 AS i
                FROM pg_catalog.jsonb_array_elements(events) WITH ORDINALITY AS e LOOP
        IF pg_catalog.jsonb_typeof(ev.value) <> 'object' THEN
            RAISE EXCEPTION 'events[%] must be a JSON object, not %', ev.i,
                pg_catalog.jsonb_typeof(ev.value) USING ERRCODE = '22023';
        END IF;
        CASE COALESCE(ev.value ->> 'event_action', 'trigger')
        WHEN 'trigger' THEN
            a := alert_grouping.event_to_alert(ingest_batch_internal.project_id, ev.value,
                                               pg_catalog.format('events[%s].', ev.i));
            triggers := triggers || a;
            fingerprints := fingerprints || CASE WHEN a.dedup_key IS NOT NULL
                THEN alert_grouping.dedup_key_fingerprint(a.dedup_key)
                ELSE alert_grouping.fingerprint(a.monitor_id, a.title, a.labels) END;
        WHEN 'acknowledge', 'resolve' THEN
            a := NULL;
            a.dedup_key := alert_grouping.event_dedup_key(ev.value,
                                                          pg_catalog.format('events[%s].', ev.i), true);
            a.created_at := alert_grouping.event_time(ev.value, pg_catalog.format('events[%s].', ev.i));
            fingerprints := fingerprints || alert_grouping.dedup_key_fingerprint(a.dedup_key);
        ELSE
            RAISE EXCEPTION 'event field "events[%].event_action" has unknown value "%"',
                ev.i, ev.value ->> 'event_action'
                USING ERRCODE = '22023', HINT = 'Use trigger, acknowledge or resolve.';
        END CASE;
        actions := actions || COALESCE(ev.value ->> 'event_action', 'trigger');
        parsed := parsed || a;
        results := results || NULL::uuid;
    END LOOP;
    n := pg_catalog.cardinality(actions);
    -- Everything the batch's statements will lock is locked up front, in the engine's order,
    -- so they cannot wait in a cycle with other writers.
    PERFORM alert_grouping.lock_for_batch(project_id, triggers, fingerprints);
    -- Triggers go in as one INSERT (the engine groups per statement) and the acknowledges
    -- and resolves follow in order; the batch is cut only where an acknowledge or resolve
    -- precedes a trigger with the same dedup_key, which must see it (one sorted pass).
    cuts := ARRAY(
        SELECT COALESCE(x.act <> 'trigger' AND x.later_trigger, false)
          FROM (SELECT u.ord, u.act,
                       pg_catalog.bool_or(u.act = 'trigger') OVER (
                           PARTITION BY u.key ORDER BY u.ord
                           ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later_trigger
                  FROM ROWS FROM (pg_catalog.unnest(actions), pg_catalog.unnest(parsed))
                       WITH ORDINALITY AS u(act, pid, aid, mid, sev, title, descr, labels, key,
                                            src, det, fp, dup, dupat, epi, st, cat, ackat,
                                            resat, ord)) AS x
         ORDER BY x.ord);
    FOR i IN 1 .. n + 1 LOOP
        IF i <= n AND (actions[i] = 'trigger' OR NOT cuts[i]) THEN
            CONTINUE;
        END IF;
        -- Flush events run_start .. i-1: their triggers, then their other actions in order.
        pending := '{}';
        positions := '{}';
        FOR j IN run_start .. i - 1 LOOP
            IF actions[j] = 'trigger' THEN
                pending := pending || parsed[j];
                positions := positions || j;
            END IF;
        END LOOP;
        IF pg_catalog.cardinality(pending) > 0 THEN
            inserted := ARRAY(SELECT r.alert_id FROM alert_grouping.insert_alerts(pending) AS r);
            FOR j IN 1 .. pg_catalog.cardinality(positions) LOOP
                results[positions[j]] := inserted[j];
            END LOOP;
        END IF;
        FOR j IN run_start .. LEAST(i, n) LOOP
            IF actions[j] <> 'trigger' THEN
                results[j] := alert_grouping.apply_event_action(
                    ingest_batch_internal.project_id, actions[j], parsed[j].dedup_key,
                    parsed[j].created_at);
            END IF;
        END LOOP;
        run_start := i + 1;
    END LOOP;
    RETURN QUERY SELECT r.id, r.act
                   FROM ROWS FROM (pg_catalog.unnest(results), pg_catalog.unnest(actions))
                        WITH ORDINALITY AS r(id, act, ord)
                  ORDER BY r.ord;
END
$$;

-- The lifecycle implementations, as in 0.1 (lock_episode now takes the episode's advisory lock).
CREATE FUNCTION alert_grouping.acknowledge_episode_internal(project_id uuid, episode_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes := alert_grouping.lock_episode(project_id, episode_id);
    n integer;
BEGIN
    IF ep.state = 'resolved' THEN
        RAISE EXCEPTION 'episode % is resolved', ep.episode_number USING ERRCODE = '55000';
    ELSIF ep.state = 'acknowledged' THEN
        RETURN ep;
    END IF;
    UPDATE alert_grouping.episodes AS e
       SET state = 'acknowledged', acknowledged_at = pg_catalog.now()
     WHERE e.project_id = ep.project_id AND e.id = ep.id
    RETURNING e.* INTO ep;
    UPDATE alert_grouping.alerts AS a
       SET state = 'acknowledged', acknowledged_at = pg_catalog.now()
     WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state = 'firing';
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail)
    VALUES (ep.project_id, ep.id, pg_catalog.now(), 'acknowledged',
            pg_catalog.jsonb_build_object('by', alert_grouping.current_user_id(),
                                          'alerts_acknowledged', n));
    RETURN ep;
END
$$;

CREATE FUNCTION alert_grouping.resolve_episode_internal(project_id uuid, episode_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes := alert_grouping.lock_episode(project_id, episode_id);
    n integer;
BEGIN
    IF ep.state = 'resolved' THEN
        RETURN ep;
    END IF;
    -- The episode first: the member trigger then sees it resolved and does not resolve it again.
    UPDATE alert_grouping.episodes AS e
       SET state = 'resolved', resolved_at = pg_catalog.now()
     WHERE e.project_id = ep.project_id AND e.id = ep.id;
    UPDATE alert_grouping.alerts AS a
       SET state = 'resolved', resolved_at = pg_catalog.now()
     WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state <> 'resolved';
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail)
    VALUES (ep.project_id, ep.id, pg_catalog.now(), 'resolved',
            pg_catalog.jsonb_build_object('reason', 'manual',
                                          'by', alert_grouping.current_user_id(),
                                          'alerts_resolved', n));
    SELECT e.* INTO ep FROM alert_grouping.episodes AS e
     WHERE e.project_id = ep.project_id AND e.id = ep.id;
    RETURN ep;
END
$$;

CREATE FUNCTION alert_grouping.add_alert_to_episode_internal(project_id uuid, episode_id uuid, alert_id uuid)
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
    INSERT INTO alert_grouping.episode_members (project_id, episode_id, alert_id, added_by)
    VALUES (ep.project_id, ep.id, al.id, 'manual');
    UPDATE alert_grouping.alerts AS a SET episode_id = ep.id
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

CREATE FUNCTION alert_grouping.remove_alert_from_episode_internal(project_id uuid, episode_id uuid,
                                                         alert_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes := alert_grouping.lock_episode(project_id, episode_id);
    al alert_grouping.alerts;
BEGIN
    DELETE FROM alert_grouping.episode_members AS m
     WHERE m.project_id = ep.project_id AND m.episode_id = ep.id
       AND m.alert_id = remove_alert_from_episode_internal.alert_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert % is not a member of episode %', alert_id, episode_id
            USING ERRCODE = 'P0002';
    END IF;
    UPDATE alert_grouping.alerts AS a SET episode_id = NULL
     WHERE a.project_id = ep.project_id AND a.id = remove_alert_from_episode_internal.alert_id
    RETURNING a.* INTO al;
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

-- The lifecycle implementations lock the episode's advisory lock before its row, like every
-- other writer of an episode.
CREATE OR REPLACE FUNCTION alert_grouping.lock_episode(project_id uuid, episode_id uuid)
RETURNS alert_grouping.episodes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep alert_grouping.episodes;
BEGIN
    PERFORM alert_grouping.lock_episodes(project_id, ARRAY[episode_id]);
    SELECT e.* INTO ep FROM alert_grouping.episodes AS e
     WHERE e.project_id = lock_episode.project_id AND e.id = lock_episode.episode_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'episode % not found in project %', episode_id, project_id
            USING ERRCODE = 'P0002';
    END IF;
    RETURN ep;
END
$$;

-- The API functions that take the engine's internal locks become C wrappers: they check that
-- the caller is a responder or admin of the project, then run <name>_internal (never granted)
-- as the owner, with current_user_id() still answering the caller's user. CREATE OR REPLACE
-- keeps their OIDs, so the grants roles received from 0.1 stay.
CREATE OR REPLACE FUNCTION alert_grouping.ingest(project_id uuid, event jsonb) RETURNS uuid
AS 'MODULE_PATHNAME', 'ag_api_call'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION alert_grouping.ingest_batch(project_id uuid, events jsonb)
RETURNS TABLE (alert_id uuid, action text)
AS 'MODULE_PATHNAME', 'ag_api_call'
LANGUAGE C VOLATILE ROWS 100
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION alert_grouping.acknowledge_episode(project_id uuid, episode_id uuid)
RETURNS alert_grouping.episodes
AS 'MODULE_PATHNAME', 'ag_api_call'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION alert_grouping.resolve_episode(project_id uuid, episode_id uuid)
RETURNS alert_grouping.episodes
AS 'MODULE_PATHNAME', 'ag_api_call'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION alert_grouping.add_alert_to_episode(project_id uuid, episode_id uuid, alert_id uuid)
RETURNS alert_grouping.episodes
AS 'MODULE_PATHNAME', 'ag_api_call'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION alert_grouping.remove_alert_from_episode(project_id uuid, episode_id uuid,
                                                         alert_id uuid)
RETURNS alert_grouping.episodes
AS 'MODULE_PATHNAME', 'ag_api_call'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

------------------------------------------------------------------------------------------
-- Privileges: the documented API only
------------------------------------------------------------------------------------------
DROP FUNCTION alert_grouping.grant_access(name);

CREATE FUNCTION alert_grouping.grant_access(role name, act_for_users boolean DEFAULT false)
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
        'alert_grouping.episode_members, alert_grouping.episode_events, '
        'alert_grouping.grouping_rules, '
        'alert_grouping.project_flag_overrides, alert_grouping.teams, '
        'alert_grouping.team_members, alert_grouping.labels, alert_grouping.episode_owner_users, '
        'alert_grouping.episode_owner_teams, alert_grouping.episode_labels TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON alert_grouping.project_counters, alert_grouping.engine_errors, '
        'alert_grouping.feature_flags TO %I', role);
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

CREATE FUNCTION alert_grouping.revoke_access(role name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.to_regrole(pg_catalog.quote_ident(role)) IS NULL THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = '42704';
    END IF;
    EXECUTE pg_catalog.format('REVOKE ALL ON ALL TABLES IN SCHEMA alert_grouping FROM %I', role);
    EXECUTE pg_catalog.format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA alert_grouping FROM %I', role);
    EXECUTE pg_catalog.format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM %I', role);
    EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA alert_grouping FROM %I', role);
    DELETE FROM alert_grouping.application_roles AS r
     WHERE r.role OPERATOR(pg_catalog.=) pg_catalog.to_regrole(pg_catalog.quote_ident(revoke_access.role));
END
$$;

-- Roles granted by 0.1 keep the API and lose every internal function. A role mapped to no
-- member could only ever have acted through alert_grouping.user_id, so it keeps that right,
-- now explicitly; mapped roles never gain it.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT p.oid::pg_catalog.regprocedure AS fn, a.grantee::pg_catalog.regrole AS grantee
               FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a
              WHERE p.pronamespace = 'alert_grouping'::pg_catalog.regnamespace
                AND a.grantee <> 0 AND a.grantee <> p.proowner
                AND p.proname::text <> ALL (ARRAY['current_user_id', 'member_project_ids',
                    'has_project_role', 'flag_enabled', 'fingerprint', 'dedup_key_fingerprint',
                    'validate_rule', 'preview_rule', 'regroup', 'ingest', 'ingest_batch',
                    'acknowledge_episode', 'resolve_episode', 'add_alert_to_episode',
                    'remove_alert_from_episode'])
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM %s', r.fn, r.grantee);
    END LOOP;
    FOR r IN SELECT a.grantee::pg_catalog.regrole AS grantee
               FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a
              WHERE n.nspname = 'alert_grouping' AND a.privilege_type = 'USAGE'
                AND a.grantee <> 0 AND a.grantee <> n.nspowner
                AND NOT EXISTS (SELECT FROM alert_grouping.project_members AS m
                                 WHERE m.db_role::pg_catalog.oid = a.grantee)
    LOOP
        INSERT INTO alert_grouping.application_roles (role) VALUES (r.grantee);
        RAISE NOTICE 'alert_grouping: role % is mapped to no member and keeps acting for the user in alert_grouping.user_id', r.grantee
            USING HINT = 'Take that right back with revoke_access(role), then grant_access(role).';
    END LOOP;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;

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

------------------------------------------------------------------------------------------
-- Version 0.3: sql/alert_grouping--0.2--0.3.sql as it was released
------------------------------------------------------------------------------------------

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

------------------------------------------------------------------------------------------
-- Version 0.4: sql/alert_grouping--0.3--0.4.sql as it was released
------------------------------------------------------------------------------------------

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

------------------------------------------------------------------------------------------
-- Version 0.5: sql/alert_grouping--0.4--0.5.sql as it was released
------------------------------------------------------------------------------------------

-- 0.5: monitors and their check results open and resolve alerts (with hysteresis), maintenance
-- windows suppress them, episodes resolve by themselves (after a delay, or after inactivity),
-- and incidents open from rules, from monitors or by hand, with a timeline of every change.
-- Time-based transitions run in run_maintenance(at), which acts as of the time it is given.

------------------------------------------------------------------------------------------
-- Citus
------------------------------------------------------------------------------------------
-- Whether Citus distributes the extension's tables in this database.
CREATE FUNCTION alert_grouping.is_distributed() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    distributed boolean := false;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p '
                'WHERE p.logicalrelid = ''alert_grouping.alerts''::pg_catalog.regclass)'
           INTO distributed;
    END IF;
    RETURN distributed;
END
$$;

-- Whether this node is a Citus worker. Citus runs this script on the coordinator, then on
-- each worker; the rows are in the shards, which the coordinator's run already changed.
CREATE FUNCTION alert_grouping.on_citus_worker() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    worker boolean := false;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL THEN
        EXECUTE 'SELECT g.groupid <> 0 FROM pg_catalog.pg_dist_local_group AS g' INTO worker;
    END IF;
    RETURN COALESCE(worker, false);
END
$$;

------------------------------------------------------------------------------------------
-- Counters and episode timers
------------------------------------------------------------------------------------------
-- On a distributed database, Citus sends a DDL statement on a distributed table to its shards
-- as the statement's text, which inside an extension script is the whole script: each of
-- these runs through EXECUTE, whose text is the statement alone. The coordinator's changes
-- reach the workers' tables before Citus runs this script there: IF NOT EXISTS.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE alert_grouping.project_counters '
            'ADD COLUMN IF NOT EXISTS last_incident_number integer NOT NULL DEFAULT 0';
    -- When a waiting episode is due: resolve_due_at once every member is resolved and the
    -- rule delays the resolve; inactivity_check_at when its rule has an inactivity timeout
    -- (a lower bound: maintenance moves it on to last_activity_at + timeout when alerts came
    -- since, so the engine never writes it and episode updates stay HOT). Both indexes hold
    -- due rows only, so maintenance costs what is due, not what is stored.
    EXECUTE 'ALTER TABLE alert_grouping.episodes '
            'ADD COLUMN IF NOT EXISTS resolve_due_at timestamptz NULL, '
            'ADD COLUMN IF NOT EXISTS inactivity_check_at timestamptz NULL';
    EXECUTE 'CREATE INDEX IF NOT EXISTS episodes_resolve_due_idx ON alert_grouping.episodes (resolve_due_at) '
            'WHERE resolve_due_at IS NOT NULL';
    EXECUTE 'CREATE INDEX IF NOT EXISTS episodes_inactivity_check_idx ON alert_grouping.episodes (inactivity_check_at) '
            'WHERE inactivity_check_at IS NOT NULL';
END
$$;

-- 0.4 stored resolve delays and inactivity timeouts without acting on them: episodes waiting
-- for either get their timer now.
-- The due times are computed one episode at a time (few wait): Citus refuses timestamptz
-- arithmetic on columns (STABLE) in a distributed UPDATE.
DO $$
DECLARE
    ep record;
BEGIN
    IF alert_grouping.on_citus_worker() THEN
        RETURN;
    END IF;
    FOR ep IN SELECT e.project_id, e.id,
                     e.all_alerts_resolved_at + pg_catalog.make_interval(
                         mins => (r.episode_config ->> 'resolve_delay_minutes')::integer) AS due
                FROM alert_grouping.episodes AS e
                JOIN alert_grouping.grouping_rules AS r ON r.project_id = e.project_id AND r.id = e.rule_id
               WHERE e.state <> 'resolved' AND e.active_alert_count = 0
                 AND e.all_alerts_resolved_at IS NOT NULL
                 AND COALESCE((r.episode_config ->> 'resolve_when_alerts_resolved')::boolean, true)
                 AND (r.episode_config ->> 'resolve_delay_minutes')::integer > 0
    LOOP
        UPDATE alert_grouping.episodes AS e SET resolve_due_at = ep.due
         WHERE e.project_id = ep.project_id AND e.id = ep.id;
    END LOOP;
    UPDATE alert_grouping.episodes AS e
       SET inactivity_check_at = e.last_activity_at
      FROM alert_grouping.grouping_rules AS r
     WHERE r.project_id = e.project_id AND r.id = e.rule_id AND e.state <> 'resolved'
       AND r.episode_config ? 'inactivity_timeout_minutes';
END
$$;

------------------------------------------------------------------------------------------
-- Monitors
------------------------------------------------------------------------------------------
CREATE TABLE alert_grouping.monitors (
    project_id uuid NOT NULL,  -- references projects (id): see the end of this script
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    name text NOT NULL,
    description text NULL,
    labels jsonb NOT NULL DEFAULT '{}',
    alert_after_failures integer NOT NULL DEFAULT 2,
    recover_after_successes integer NOT NULL DEFAULT 1,
    severity alert_grouping.severity NOT NULL DEFAULT 'high',
    check_interval interval NOT NULL DEFAULT '1 minute',
    auto_create_alerts boolean NOT NULL DEFAULT true,
    auto_create_incident boolean NOT NULL DEFAULT false,
    escalation_policy_id uuid NULL,
    component_id uuid NULL,
    -- Kept by the check results trigger: 'down' from alert_after_failures consecutive
    -- failures until recover_after_successes consecutive successes (in checked_at order).
    status text NOT NULL DEFAULT 'up' CHECK (status IN ('up', 'down')),
    status_changed_at timestamptz NULL,
    alert_id uuid NULL,  -- the alert of the current down period (none yet: held back by maintenance)
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id),
    CHECK (alert_after_failures >= 1),
    CHECK (recover_after_successes >= 1),
    CHECK (check_interval > '0'::interval)
);

CREATE FUNCTION alert_grouping.monitors_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.name IS NULL OR pg_catalog.length(pg_catalog.btrim(NEW.name)) = 0
       OR pg_catalog.length(NEW.name) > 200 THEN
        RAISE EXCEPTION 'name must hold 1 to 200 characters' USING ERRCODE = '22023';
    END IF;
    IF NEW.alert_after_failures IS NULL OR NEW.alert_after_failures < 1 THEN
        RAISE EXCEPTION 'alert_after_failures must be at least 1, not %',
            COALESCE(NEW.alert_after_failures::text, 'null') USING ERRCODE = '22023';
    END IF;
    IF NEW.recover_after_successes IS NULL OR NEW.recover_after_successes < 1 THEN
        RAISE EXCEPTION 'recover_after_successes must be at least 1, not %',
            COALESCE(NEW.recover_after_successes::text, 'null') USING ERRCODE = '22023';
    END IF;
    IF NEW.check_interval IS NULL OR NEW.check_interval <= '0'::interval THEN
        RAISE EXCEPTION 'check_interval must be positive' USING ERRCODE = '22023';
    END IF;
    IF NEW.labels IS NULL OR pg_catalog.jsonb_typeof(NEW.labels) <> 'object' THEN
        RAISE EXCEPTION 'labels must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.project_id <> OLD.project_id THEN
            RAISE EXCEPTION 'project_id of a monitor cannot change' USING ERRCODE = '22023';
        END IF;
        NEW.updated_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER monitors_before_write BEFORE INSERT OR UPDATE ON alert_grouping.monitors
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.monitors_before_write();

------------------------------------------------------------------------------------------
-- Check results
------------------------------------------------------------------------------------------
-- Range-partitioned by checked_at from the start, so that retention can drop whole
-- partitions. The monitor of each result is checked once per statement by its trigger (a
-- foreign key would check, and lock, the monitor row once per result); deleting a monitor
-- deletes its results. run_maintenance() creates the daily partitions ahead; the default partition
-- takes a result of any other time.
CREATE TABLE alert_grouping.check_results (
    project_id uuid NOT NULL,
    monitor_id uuid NOT NULL,
    checked_at timestamptz NOT NULL,
    ok boolean NOT NULL,
    response_time_ms integer NULL CHECK (response_time_ms >= 0),
    status_code integer NULL,
    message text NULL,
    received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (pg_catalog.isfinite(checked_at))
) PARTITION BY RANGE (checked_at);
CREATE TABLE alert_grouping.check_results_default
    PARTITION OF alert_grouping.check_results DEFAULT;
-- Partitions are read and written through check_results, whose policies apply; read
-- directly, a partition shows nothing to anyone but the owner.
ALTER TABLE alert_grouping.check_results_default ENABLE ROW LEVEL SECURITY;
CREATE INDEX check_results_monitor_idx
    ON alert_grouping.check_results (project_id, monitor_id, checked_at);

-- The results of one statement, per monitor in checked_at order: a monitor goes down at the
-- alert_after_failures-th consecutive failure and up at the recover_after_successes-th
-- consecutive success. Only monitors whose state a result can change are replayed (a failure
-- of an up monitor, a success of a down one): steady results cost one read of their
-- monitors. A late result joins the sequence where its checked_at puts it; results at or
-- before the monitor's last change only count towards the streaks (what was decided then
-- stays decided). The alerts of one statement are one INSERT through the grouping pipeline,
-- their resolutions one UPDATE. Runs as the owner: a responder writes check results but
-- not monitors, and the alerts it opens are the extension's.
CREATE FUNCTION alert_grouping.check_results_inserted() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    proj uuid;
    mon_ids uuid[];
    mon_oks boolean[];
    mon_fails boolean[];
    mon_first timestamptz[];
    known uuid[];
    changing uuid[];
    missing uuid;
    m record;
    r record;
    k integer;
    streak_ok boolean;
    streak_len integer;
    status text;
    changed_at timestamptz;
    pending boolean;
    current_alert uuid;
    in_window boolean;
    -- What the statement does, as parallel arrays.
    open_alerts alert_grouping.alerts[] := '{}';
    open_ids uuid[] := '{}';
    open_monitor_incident boolean[] := '{}';
    resolve_ids uuid[] := '{}';
    resolve_at timestamptz[] := '{}';
    state_ids uuid[] := '{}';
    state_status text[] := '{}';
    state_changed timestamptz[] := '{}';
    state_alert uuid[] := '{}';
    new_alert alert_grouping.alerts;
BEGIN
    IF pg_catalog.current_setting('alert_grouping.restoring', true) = 'on' THEN
        RETURN NULL;
    END IF;
    FOR proj, mon_ids, mon_oks, mon_fails, mon_first IN
        SELECT n.project_id, pg_catalog.array_agg(n.monitor_id), pg_catalog.array_agg(n.any_ok),
               pg_catalog.array_agg(n.any_fail), pg_catalog.array_agg(n.first_at)
          FROM (SELECT c.project_id, c.monitor_id, pg_catalog.bool_or(c.ok) AS any_ok,
                       pg_catalog.bool_or(NOT c.ok) AS any_fail,
                       pg_catalog.min(c.checked_at) AS first_at
                  FROM new_results AS c GROUP BY c.project_id, c.monitor_id) AS n
         GROUP BY n.project_id ORDER BY n.project_id
    LOOP
        -- One read of the statement's monitors: which exist, and which a result can change.
        SELECT pg_catalog.array_agg(mo.id),
               pg_catalog.array_agg(mo.id) FILTER (
                   WHERE (v.any_fail AND (mo.status = 'up' OR (mo.alert_id IS NULL AND mo.auto_create_alerts)))
                      OR (v.any_ok AND mo.status = 'down'))
          INTO known, changing
          FROM ROWS FROM (pg_catalog.unnest(mon_ids), pg_catalog.unnest(mon_oks),
                          pg_catalog.unnest(mon_fails)) AS v(id, any_ok, any_fail)
          JOIN alert_grouping.monitors AS mo ON mo.project_id = proj AND mo.id = v.id
         WHERE mo.project_id = proj AND mo.id = ANY (mon_ids);
        IF COALESCE(pg_catalog.cardinality(known), 0) < pg_catalog.cardinality(mon_ids) THEN
            SELECT v.id INTO missing FROM pg_catalog.unnest(mon_ids) AS v(id)
             WHERE known IS NULL OR v.id <> ALL (known) ORDER BY v.id LIMIT 1;
            RAISE EXCEPTION 'check result for unknown monitor % in project %', missing, proj
                USING ERRCODE = '23503',
                      HINT = 'Create the monitor in alert_grouping.monitors first.';
        END IF;
        CONTINUE WHEN changing IS NULL;
        open_alerts := '{}'; open_ids := '{}'; open_monitor_incident := '{}';
        resolve_ids := '{}'; resolve_at := '{}';
        state_ids := '{}'; state_status := '{}'; state_changed := '{}'; state_alert := '{}';
        -- Locked, and read again: a concurrent statement may have changed them meanwhile.
        FOR m IN
            SELECT mo.*, v.first_at
              FROM ROWS FROM (pg_catalog.unnest(mon_ids), pg_catalog.unnest(mon_oks),
                              pg_catalog.unnest(mon_fails), pg_catalog.unnest(mon_first))
                   AS v(id, any_ok, any_fail, first_at)
              JOIN alert_grouping.monitors AS mo ON mo.project_id = proj AND mo.id = v.id
             WHERE mo.project_id = proj AND mo.id = ANY (changing)
               AND ((v.any_fail AND (mo.status = 'up' OR (mo.alert_id IS NULL AND mo.auto_create_alerts)))
                    OR (v.any_ok AND mo.status = 'down'))
             ORDER BY mo.id
               FOR NO KEY UPDATE OF mo
        LOOP
            k := GREATEST(m.alert_after_failures, m.recover_after_successes);
            -- The streak that ends just before the first new result.
            streak_ok := NULL;
            streak_len := 0;
            FOR r IN SELECT c.ok FROM alert_grouping.check_results AS c
                      WHERE c.project_id = proj AND c.monitor_id = m.id
                        AND c.checked_at < m.first_at
                      ORDER BY c.checked_at DESC, c.ok LIMIT k LOOP
                IF streak_ok IS NULL THEN
                    streak_ok := r.ok;
                ELSIF r.ok <> streak_ok THEN
                    EXIT;
                END IF;
                streak_len := streak_len + 1;
            END LOOP;
            status := m.status;
            changed_at := m.status_changed_at;
            -- Down without an alert yet: a window held it back.
            pending := m.status = 'down' AND m.alert_id IS NULL AND m.auto_create_alerts;
            current_alert := m.alert_id;
            FOR r IN SELECT c.checked_at, c.ok, c.message, c.status_code, c.response_time_ms
                       FROM alert_grouping.check_results AS c
                      WHERE c.project_id = proj AND c.monitor_id = m.id
                        AND c.checked_at >= m.first_at
                      ORDER BY c.checked_at, c.ok DESC LOOP
                IF r.ok IS NOT DISTINCT FROM streak_ok THEN
                    streak_len := streak_len + 1;
                ELSE
                    streak_ok := r.ok;
                    streak_len := 1;
                END IF;
                CONTINUE WHEN changed_at IS NOT NULL AND r.checked_at <= changed_at;
                IF NOT r.ok AND streak_len >= m.alert_after_failures
                   AND (status = 'up' OR pending) THEN
                    IF status = 'up' THEN
                        status := 'down';
                        changed_at := r.checked_at;
                        current_alert := NULL;
                    END IF;
                    pending := false;
                    IF m.auto_create_alerts THEN
                        SELECT EXISTS (
                            SELECT 1 FROM alert_grouping.maintenance_windows AS w
                             WHERE w.project_id = proj AND w.suppress_alerts
                               AND w.starts_at <= r.checked_at AND r.checked_at < w.ends_at
                               AND (w.monitor_ids IS NULL OR m.id = ANY (w.monitor_ids)))
                          INTO in_window;
                        IF in_window THEN
                            pending := true;
                        ELSE
                            new_alert := NULL;
                            new_alert.project_id := proj;
                            new_alert.id := pg_catalog.gen_random_uuid();
                            new_alert.monitor_id := m.id;
                            new_alert.severity := m.severity;
                            new_alert.title := m.name || ' is failing';
                            new_alert.description := r.message;
                            new_alert.labels := m.labels;
                            -- One alert per down period: the period's start keys it.
                            new_alert.dedup_key := 'monitor:' || m.id::text || ':'
                                || pg_catalog.to_char(changed_at AT TIME ZONE 'UTC',
                                                      'YYYYMMDD"T"HH24MISS.US');
                            new_alert.source := 'monitor';
                            new_alert.details := pg_catalog.jsonb_build_object(
                                'check', pg_catalog.jsonb_build_object(
                                    'checked_at', r.checked_at, 'status_code', r.status_code,
                                    'response_time_ms', r.response_time_ms,
                                    'message', r.message),
                                'alert_after_failures', m.alert_after_failures);
                            new_alert.created_at := r.checked_at;
                            open_alerts := open_alerts || new_alert;
                            open_ids := open_ids || new_alert.id;
                            open_monitor_incident := open_monitor_incident || m.auto_create_incident;
                            current_alert := new_alert.id;
                        END IF;
                    END IF;
                ELSIF r.ok AND status = 'down' AND streak_len >= m.recover_after_successes THEN
                    status := 'up';
                    changed_at := r.checked_at;
                    pending := false;
                    IF current_alert IS NOT NULL THEN
                        resolve_ids := resolve_ids || current_alert;
                        resolve_at := resolve_at || r.checked_at;
                    END IF;
                    current_alert := NULL;
                END IF;
            END LOOP;
            IF status IS DISTINCT FROM m.status OR changed_at IS DISTINCT FROM m.status_changed_at
               OR current_alert IS DISTINCT FROM m.alert_id THEN
                state_ids := state_ids || m.id;
                state_status := state_status || status;
                state_changed := state_changed || changed_at;
                state_alert := state_alert || current_alert;
            END IF;
        END LOOP;

        IF pg_catalog.cardinality(open_alerts) > 0 THEN
            INSERT INTO alert_grouping.alerts AS t
                (project_id, id, monitor_id, severity, title, description, labels, dedup_key,
                 source, details, created_at)
            SELECT u.project_id, u.id, u.monitor_id, u.severity, u.title, u.description,
                   u.labels, u.dedup_key, u.source, u.details, u.created_at
              FROM pg_catalog.unnest(open_alerts) AS u;
            IF true = ANY (open_monitor_incident) THEN
                PERFORM alert_grouping.open_monitor_incidents(proj, ARRAY(
                    SELECT v.id FROM ROWS FROM (pg_catalog.unnest(open_ids),
                                                pg_catalog.unnest(open_monitor_incident))
                                     AS v(id, wanted)
                     WHERE v.wanted));
            END IF;
        END IF;
        IF pg_catalog.cardinality(resolve_ids) > 0 THEN
            UPDATE alert_grouping.alerts AS a
               SET state = 'resolved', resolved_at = v.at
              FROM ROWS FROM (pg_catalog.unnest(resolve_ids), pg_catalog.unnest(resolve_at))
                   AS v(id, at)
             WHERE a.project_id = proj AND a.id = v.id AND a.state <> 'resolved';
            PERFORM alert_grouping.resolve_alert_incidents(proj, resolve_ids, resolve_at);
        END IF;
        IF pg_catalog.cardinality(state_ids) > 0 THEN
            UPDATE alert_grouping.monitors AS mo
               SET status = v.status, status_changed_at = v.changed_at, alert_id = v.alert_id
              FROM ROWS FROM (pg_catalog.unnest(state_ids), pg_catalog.unnest(state_status),
                              pg_catalog.unnest(state_changed), pg_catalog.unnest(state_alert))
                   AS v(id, status, changed_at, alert_id)
             WHERE mo.project_id = proj AND mo.id = v.id;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION alert_grouping.monitors_after_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM alert_grouping.check_results AS c
     WHERE c.project_id = OLD.project_id AND c.monitor_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER monitors_after_delete AFTER DELETE ON alert_grouping.monitors
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.monitors_after_delete();

CREATE TRIGGER check_results_inserted AFTER INSERT ON alert_grouping.check_results
    REFERENCING NEW TABLE AS new_results
    FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.check_results_inserted();

------------------------------------------------------------------------------------------
-- Maintenance windows
------------------------------------------------------------------------------------------
-- While a window lasts, the monitors it covers (monitor_ids NULL: every monitor of the
-- project) open no alert; their results are still stored. A monitor still down when the
-- window ends opens its alert at its next failure.
CREATE TABLE alert_grouping.maintenance_windows (
    project_id uuid NOT NULL,  -- references projects (id): see the end of this script
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    title text NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    monitor_ids uuid[] NULL,
    suppress_alerts boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX maintenance_windows_time_idx
    ON alert_grouping.maintenance_windows (project_id, ends_at);

CREATE FUNCTION alert_grouping.maintenance_windows_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing uuid;
BEGIN
    IF NEW.starts_at IS NULL OR NEW.ends_at IS NULL
       OR NOT pg_catalog.isfinite(NEW.starts_at) OR NOT pg_catalog.isfinite(NEW.ends_at) THEN
        RAISE EXCEPTION 'starts_at and ends_at must be finite times' USING ERRCODE = '22023';
    END IF;
    IF NEW.ends_at <= NEW.starts_at THEN
        RAISE EXCEPTION 'ends_at must be later than starts_at'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('starts_at %s, ends_at %s', NEW.starts_at, NEW.ends_at);
    END IF;
    -- A restore may bring the windows before their monitors.
    IF NEW.monitor_ids IS NOT NULL
       AND pg_catalog.current_setting('alert_grouping.restoring', true) IS DISTINCT FROM 'on' THEN
        SELECT u.id INTO missing FROM pg_catalog.unnest(NEW.monitor_ids) AS u(id)
         WHERE u.id IS NULL OR NOT EXISTS (
                   SELECT 1 FROM alert_grouping.monitors AS mo
                    WHERE mo.project_id = NEW.project_id AND mo.id = u.id)
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'monitor_ids: monitor % not found in project %',
                COALESCE(missing::text, 'null'), NEW.project_id USING ERRCODE = '22023';
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.project_id <> OLD.project_id THEN
        RAISE EXCEPTION 'project_id of a maintenance window cannot change' USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER maintenance_windows_before_write
    BEFORE INSERT OR UPDATE ON alert_grouping.maintenance_windows
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.maintenance_windows_before_write();

------------------------------------------------------------------------------------------
-- Incidents
------------------------------------------------------------------------------------------
CREATE TABLE alert_grouping.incidents (
    project_id uuid NOT NULL,  -- references projects (id): see the end of this script
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    incident_number integer NULL,  -- set on insert, gapless per project
    title text NOT NULL,
    description text NULL,
    severity alert_grouping.severity NOT NULL DEFAULT 'high',
    status alert_grouping.incident_status NOT NULL DEFAULT 'open',
    source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'rule', 'monitor', 'api')),
    episode_id uuid NULL,
    monitor_id uuid NULL,
    alert_id uuid NULL,  -- the monitor's alert it was opened from
    -- episode_id, monitor_id, alert_id and rule_id say where the incident came from, and
    -- outlive what they name (as episodes.incident_id): no foreign key, since Citus refuses
    -- ON DELETE SET NULL on keys that hold the distribution column.
    rule_id uuid NULL,
    started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    acknowledged_at timestamptz NULL,
    resolved_at timestamptz NULL,
    escalation_policy_id uuid NULL,
    escalation_level integer NOT NULL DEFAULT 0 CHECK (escalation_level >= 0),
    next_escalation_at timestamptz NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, incident_number),
    CHECK (pg_catalog.length(title) BETWEEN 1 AND 1000),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE INDEX incidents_episode_idx ON alert_grouping.incidents (project_id, episode_id)
    WHERE episode_id IS NOT NULL;
CREATE INDEX incidents_alert_idx ON alert_grouping.incidents (project_id, alert_id)
    WHERE alert_id IS NOT NULL AND status <> 'resolved';
CREATE INDEX incidents_project_started_idx ON alert_grouping.incidents (project_id, started_at);

-- The timeline: every state change of an incident, and why.
CREATE TABLE alert_grouping.incident_updates (
    project_id uuid NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    incident_id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status alert_grouping.incident_status NOT NULL,
    kind text NOT NULL,
    message text NULL,
    created_by uuid NULL,
    PRIMARY KEY (project_id, id),
    FOREIGN KEY (project_id, incident_id)
        REFERENCES alert_grouping.incidents (project_id, id) ON DELETE CASCADE
);
CREATE INDEX incident_updates_incident_idx
    ON alert_grouping.incident_updates (project_id, incident_id, at);

-- Timeline entries. The ids are taken from the sequences by name: on Citus a trigger's
-- statement writes a shard, which has no identity of its own (distribute() gives each node's
-- sequences a range of their own).
CREATE FUNCTION alert_grouping.add_episode_event(project_id uuid, episode_id uuid,
                                                 at timestamptz, kind text, detail jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO alert_grouping.episode_events (project_id, id, episode_id, at, kind, detail)
    OVERRIDING SYSTEM VALUE
    VALUES (add_episode_event.project_id,
            pg_catalog.nextval('alert_grouping.episode_events_id_seq'::pg_catalog.regclass),
            add_episode_event.episode_id, add_episode_event.at, add_episode_event.kind,
            add_episode_event.detail);
END
$$;

CREATE FUNCTION alert_grouping.add_incident_update(project_id uuid, incident_id uuid,
                                                   at timestamptz,
                                                   status alert_grouping.incident_status,
                                                   kind text, message text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO alert_grouping.incident_updates
        (project_id, id, incident_id, at, status, kind, message, created_by)
    OVERRIDING SYSTEM VALUE
    VALUES (add_incident_update.project_id,
            pg_catalog.nextval('alert_grouping.incident_updates_id_seq'::pg_catalog.regclass),
            add_incident_update.incident_id, add_incident_update.at, add_incident_update.status,
            add_incident_update.kind, add_incident_update.message,
            alert_grouping.current_user_id());
END
$$;

-- Why the next incident change happens, for its timeline entry (transaction-local, cleared
-- after use). Changes made without one get a plain description.
CREATE FUNCTION alert_grouping.set_incident_reason(reason text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.set_config('alert_grouping.incident_reason', COALESCE(reason, ''), true);
$$;

CREATE FUNCTION alert_grouping.incidents_before_write() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    restoring boolean := pg_catalog.current_setting('alert_grouping.restoring', true) = 'on';
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT restoring THEN
            IF NEW.incident_number IS NOT NULL THEN
                RAISE EXCEPTION 'incident_number is assigned by alert_grouping'
                    USING ERRCODE = '428C9',
                          HINT = 'Leave incident_number out: each project numbers its incidents from 1. '
                                 'To restore a dump, run pg_restore with '
                                 'PGOPTIONS=''-c alert_grouping.restoring=on''.';
            END IF;
            INSERT INTO alert_grouping.project_counters AS c (project_id, last_incident_number)
            VALUES (NEW.project_id, 1)
            ON CONFLICT (project_id) DO UPDATE
               SET last_incident_number = c.last_incident_number + 1
            RETURNING c.last_incident_number INTO NEW.incident_number;
        END IF;
        IF NEW.status = 'resolved' THEN
            NEW.resolved_at := COALESCE(NEW.resolved_at, pg_catalog.now());
        ELSE
            NEW.resolved_at := NULL;
        END IF;
        IF NEW.status IN ('investigating', 'identified', 'monitoring') THEN
            NEW.acknowledged_at := COALESCE(NEW.acknowledged_at, NEW.started_at);
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.project_id <> OLD.project_id THEN
        RAISE EXCEPTION 'project_id of an incident cannot change' USING ERRCODE = '22023';
    END IF;
    IF NEW.incident_number IS DISTINCT FROM OLD.incident_number THEN
        RAISE EXCEPTION 'incident_number cannot change' USING ERRCODE = '22023';
    END IF;
    IF NEW.status = 'resolved' AND OLD.status <> 'resolved' THEN
        IF NEW.resolved_at IS NOT DISTINCT FROM OLD.resolved_at THEN
            NEW.resolved_at := pg_catalog.now();
        END IF;
    ELSIF NEW.status <> 'resolved' THEN
        NEW.resolved_at := NULL;
    END IF;
    IF NEW.status IN ('investigating', 'identified', 'monitoring')
       AND NEW.acknowledged_at IS NULL THEN
        NEW.acknowledged_at := pg_catalog.now();
    END IF;
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;

-- The timeline entry of every change, then what the change means for the incident's episode
-- (and for the monitor alert it was opened from when it has no episode).
CREATE FUNCTION alert_grouping.incidents_after_write() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reason text := NULLIF(pg_catalog.current_setting('alert_grouping.incident_reason', true), '');
    kind text;
    at timestamptz;
    ep alert_grouping.episodes;
    n integer;
BEGIN
    IF pg_catalog.current_setting('alert_grouping.restoring', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_catalog.set_config('alert_grouping.incident_reason', '', true);
    IF TG_OP = 'INSERT' THEN
        PERFORM alert_grouping.add_incident_update(NEW.project_id, NEW.id, NEW.started_at,
                                                   NEW.status, 'opened',
                                                   COALESCE(reason, 'opened by hand'));
        -- An incident of an episode (opened by its rule, by its monitor alert, or by hand)
        -- becomes the episode's, unless the episode has one already.
        IF NEW.episode_id IS NOT NULL THEN
            UPDATE alert_grouping.episodes AS e SET incident_id = NEW.id
             WHERE e.project_id = NEW.project_id AND e.id = NEW.episode_id
               AND e.incident_id IS NULL;
            GET DIAGNOSTICS n = ROW_COUNT;
            IF n = 1 THEN
                PERFORM alert_grouping.add_episode_event(
                    NEW.project_id, NEW.episode_id, NEW.started_at, 'incident_opened',
                    pg_catalog.jsonb_build_object('incident_id', NEW.id,
                                                  'incident_number', NEW.incident_number,
                                                  'source', NEW.source));
            END IF;
        END IF;
        IF NEW.status = 'resolved' THEN
            PERFORM alert_grouping.add_incident_update(NEW.project_id, NEW.id, NEW.resolved_at,
                                                       NEW.status, 'resolved', 'opened resolved');
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.status = OLD.status AND NEW.acknowledged_at IS NOT DISTINCT FROM OLD.acknowledged_at THEN
        RETURN NULL;
    END IF;
    IF NEW.status = 'resolved' THEN
        kind := 'resolved';
        at := NEW.resolved_at;
    ELSIF OLD.status = 'resolved' THEN
        kind := 'reopened';
        at := NEW.updated_at;
    ELSIF OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL THEN
        kind := 'acknowledged';
        at := NEW.acknowledged_at;
    ELSE
        kind := 'status_changed';
        at := NEW.updated_at;
    END IF;
    PERFORM alert_grouping.add_incident_update(
        NEW.project_id, NEW.id, at, NEW.status, kind,
        COALESCE(reason, pg_catalog.format('status changed from %s to %s', OLD.status, NEW.status)));

    IF kind = 'resolved' AND NEW.episode_id IS NOT NULL THEN
        SELECT e.* INTO ep FROM alert_grouping.episodes AS e
         WHERE e.project_id = NEW.project_id AND e.id = NEW.episode_id FOR NO KEY UPDATE;
        IF FOUND AND ep.state <> 'resolved' AND ep.incident_id = NEW.id THEN
            -- The episode first: its member trigger then sees it resolved.
            UPDATE alert_grouping.episodes AS e
               SET state = 'resolved', resolved_at = NEW.resolved_at, resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id;
            UPDATE alert_grouping.alerts AS a
               SET state = 'resolved', resolved_at = NEW.resolved_at
             WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state <> 'resolved';
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, NEW.resolved_at, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'incident_resolved',
                                              'incident_number', NEW.incident_number,
                                              'by', alert_grouping.current_user_id(),
                                              'alerts_resolved', n));
        END IF;
    ELSIF kind = 'resolved' AND NEW.alert_id IS NOT NULL THEN
        UPDATE alert_grouping.alerts AS a
           SET state = 'resolved', resolved_at = NEW.resolved_at
         WHERE a.project_id = NEW.project_id AND a.id = NEW.alert_id AND a.state <> 'resolved';
    ELSIF kind = 'acknowledged' AND NEW.episode_id IS NOT NULL THEN
        SELECT e.* INTO ep FROM alert_grouping.episodes AS e
         WHERE e.project_id = NEW.project_id AND e.id = NEW.episode_id FOR NO KEY UPDATE;
        IF FOUND AND ep.state = 'open' AND ep.incident_id = NEW.id THEN
            UPDATE alert_grouping.episodes AS e
               SET state = 'acknowledged', acknowledged_at = NEW.acknowledged_at
             WHERE e.project_id = ep.project_id AND e.id = ep.id;
            UPDATE alert_grouping.alerts AS a
               SET state = 'acknowledged', acknowledged_at = NEW.acknowledged_at
             WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state = 'firing';
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, NEW.acknowledged_at, 'acknowledged',
                pg_catalog.jsonb_build_object('reason', 'incident_acknowledged',
                                              'incident_number', NEW.incident_number,
                                              'by', alert_grouping.current_user_id(),
                                              'alerts_acknowledged', n));
        END IF;
    ELSIF kind = 'acknowledged' AND NEW.alert_id IS NOT NULL THEN
        UPDATE alert_grouping.alerts AS a
           SET state = 'acknowledged', acknowledged_at = NEW.acknowledged_at
         WHERE a.project_id = NEW.project_id AND a.id = NEW.alert_id AND a.state = 'firing';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER incidents_before_write BEFORE INSERT OR UPDATE ON alert_grouping.incidents
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.incidents_before_write();
CREATE TRIGGER incidents_after_write AFTER INSERT OR UPDATE ON alert_grouping.incidents
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.incidents_after_write();

-- An episode as on-call people name it: its project's prefix and its number (SHOP-12, #12).
CREATE FUNCTION alert_grouping.episode_label(project_id uuid, episode_number integer)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prefix text;
BEGIN
    SELECT p.episode_number_prefix INTO prefix FROM alert_grouping.projects AS p
     WHERE p.id = episode_label.project_id;
    RETURN COALESCE(prefix, '#') || episode_number;
END
$$;

-- An episode's state changes reach its incident: resolved resolves it, acknowledged
-- acknowledges it; a reopened episode lets go of its resolved incident, so that its rule can
-- open a new one.
CREATE FUNCTION alert_grouping.episodes_state_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Taken first: Citus refuses now() inside COALESCE in a statement it routes.
    resolved_time timestamptz := COALESCE(NEW.resolved_at, pg_catalog.now());
    acknowledged_time timestamptz := COALESCE(NEW.acknowledged_at, pg_catalog.now());
BEGIN
    IF pg_catalog.current_setting('alert_grouping.restoring', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF NEW.state = 'resolved' THEN
        PERFORM alert_grouping.set_incident_reason(pg_catalog.format(
            'resolved because episode %s resolved',
            alert_grouping.episode_label(NEW.project_id, NEW.episode_number)));
        UPDATE alert_grouping.incidents AS i
           SET status = 'resolved', resolved_at = resolved_time
         WHERE i.project_id = NEW.project_id AND i.id = NEW.incident_id AND i.status <> 'resolved';
    ELSIF NEW.state = 'acknowledged' AND OLD.state = 'open' THEN
        PERFORM alert_grouping.set_incident_reason(pg_catalog.format(
            'acknowledged because episode %s was acknowledged',
            alert_grouping.episode_label(NEW.project_id, NEW.episode_number)));
        UPDATE alert_grouping.incidents AS i
           SET status = CASE WHEN i.status = 'open' THEN 'investigating'::alert_grouping.incident_status
                             ELSE i.status END,
               acknowledged_at = acknowledged_time
         WHERE i.project_id = NEW.project_id AND i.id = NEW.incident_id
           AND i.status <> 'resolved' AND i.acknowledged_at IS NULL;
    ELSIF OLD.state = 'resolved' THEN
        UPDATE alert_grouping.episodes AS e SET incident_id = NULL
         WHERE e.project_id = NEW.project_id AND e.id = NEW.id
           AND EXISTS (SELECT 1 FROM alert_grouping.incidents AS i
                        WHERE i.project_id = NEW.project_id AND i.id = NEW.incident_id
                          AND i.status = 'resolved');
    END IF;
    PERFORM alert_grouping.set_incident_reason(NULL);
    RETURN NULL;
END
$$;


-- Episodes of rules with create_incident, after alerts joined them (called by the engine):
-- an incident opens once incident_min_alerts firing members are at or above
-- incident_min_severity. Resolved and acknowledged members never count.
CREATE FUNCTION alert_grouping.consider_incidents(project_id uuid, episode_ids uuid[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep record;
    min_severity alert_grouping.severity;
    min_alerts integer;
    n integer;
    opened integer := 0;
BEGIN
    FOR ep IN
        SELECT e.id, e.episode_number, e.title, e.description, e.severity, e.rule_id,
               e.last_activity_at, r.name AS rule_name, r.episode_config AS cfg
          FROM alert_grouping.episodes AS e
          JOIN alert_grouping.grouping_rules AS r
            ON r.project_id = consider_incidents.project_id AND r.id = e.rule_id
         WHERE e.project_id = consider_incidents.project_id AND e.id = ANY (episode_ids)
           AND e.incident_id IS NULL AND e.state <> 'resolved'
         ORDER BY e.episode_number
           FOR NO KEY UPDATE OF e
    LOOP
        CONTINUE WHEN NOT COALESCE((ep.cfg ->> 'create_incident')::boolean, false);
        min_severity := COALESCE(ep.cfg ->> 'incident_min_severity', 'info')::alert_grouping.severity;
        min_alerts := COALESCE((ep.cfg ->> 'incident_min_alerts')::integer, 1);
        SELECT count(*) INTO n
          FROM (SELECT 1 FROM alert_grouping.alerts AS a
                 WHERE a.project_id = consider_incidents.project_id AND a.episode_id = ep.id
                   AND a.state = 'firing' AND a.severity >= min_severity
                 LIMIT min_alerts) AS firing;
        CONTINUE WHEN n < min_alerts;
        PERFORM alert_grouping.set_incident_reason(pg_catalog.format(
            'opened by rule "%s" with %s firing alert%s%s in episode %s',
            ep.rule_name, n, CASE WHEN n = 1 THEN '' ELSE 's' END,
            CASE WHEN ep.cfg ? 'incident_min_severity' THEN ' at or above ' || min_severity END,
            alert_grouping.episode_label(consider_incidents.project_id, ep.episode_number)));
        INSERT INTO alert_grouping.incidents
            (project_id, title, description, severity, source, episode_id, rule_id, started_at,
             escalation_policy_id)
        VALUES (consider_incidents.project_id, ep.title, ep.description, ep.severity, 'rule',
                ep.id, ep.rule_id, ep.last_activity_at,
                (ep.cfg ->> 'escalation_policy_id')::uuid);
        opened := opened + 1;
    END LOOP;
    RETURN opened;
END
$$;

-- Monitors with auto_create_incident: an incident straight from each new alert, whatever the
-- grouping rules say. It names the alert's episode when that episode has no incident yet
-- (the incident trigger links them).
CREATE FUNCTION alert_grouping.open_monitor_incidents(project_id uuid, alert_ids uuid[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    opened integer := 0;
BEGIN
    FOR a IN
        SELECT al.id, al.title, al.description, al.severity, al.created_at, al.episode_id,
               al.state, mo.id AS monitor_id, mo.name, mo.alert_after_failures,
               mo.escalation_policy_id, e.incident_id AS episode_incident
          FROM alert_grouping.alerts AS al
          JOIN alert_grouping.monitors AS mo
            ON mo.project_id = open_monitor_incidents.project_id AND mo.id = al.monitor_id
          LEFT JOIN alert_grouping.episodes AS e
            ON e.project_id = open_monitor_incidents.project_id AND e.id = al.episode_id
         WHERE al.project_id = open_monitor_incidents.project_id AND al.id = ANY (alert_ids)
         ORDER BY al.created_at, al.id
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM alert_grouping.incidents AS i
                               WHERE i.project_id = open_monitor_incidents.project_id
                                 AND i.alert_id = a.id AND i.status <> 'resolved');
        PERFORM alert_grouping.set_incident_reason(pg_catalog.format(
            'opened by monitor "%s" after %s consecutive failed check%s',
            a.name, a.alert_after_failures, CASE WHEN a.alert_after_failures = 1 THEN '' ELSE 's' END));
        INSERT INTO alert_grouping.incidents
            (project_id, title, description, severity, source, episode_id, monitor_id, alert_id,
             started_at, escalation_policy_id)
        VALUES (open_monitor_incidents.project_id, a.title, a.description, a.severity, 'monitor',
                CASE WHEN a.episode_incident IS NULL THEN a.episode_id END, a.monitor_id, a.id,
                a.created_at, a.escalation_policy_id);
        opened := opened + 1;
    END LOOP;
    RETURN opened;
END
$$;

-- Monitor incidents without an episode resolve with the monitor's alert.
CREATE FUNCTION alert_grouping.resolve_alert_incidents(project_id uuid, alert_ids uuid[],
                                                       resolved_times timestamptz[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    PERFORM alert_grouping.set_incident_reason('resolved because its monitor recovered');
    UPDATE alert_grouping.incidents AS i
       SET status = 'resolved', resolved_at = v.at
      FROM ROWS FROM (pg_catalog.unnest(alert_ids), pg_catalog.unnest(resolved_times)) AS v(id, at)
     WHERE i.project_id = resolve_alert_incidents.project_id AND i.alert_id = v.id
       AND i.status <> 'resolved' AND i.episode_id IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM alert_grouping.set_incident_reason(NULL);
    RETURN n;
END
$$;

------------------------------------------------------------------------------------------
-- acknowledge_incident, resolve_incident
------------------------------------------------------------------------------------------
CREATE FUNCTION alert_grouping.lock_incident(project_id uuid, incident_id uuid)
RETURNS alert_grouping.incidents
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inc alert_grouping.incidents;
BEGIN
    SELECT i.* INTO inc FROM alert_grouping.incidents AS i
     WHERE i.project_id = lock_incident.project_id AND i.id = lock_incident.incident_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident % not found in project %', incident_id, project_id
            USING ERRCODE = 'P0002';
    END IF;
    RETURN inc;
END
$$;

CREATE FUNCTION alert_grouping.acknowledge_incident_internal(project_id uuid, incident_id uuid)
RETURNS alert_grouping.incidents
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inc alert_grouping.incidents := alert_grouping.lock_incident(project_id, incident_id);
BEGIN
    IF inc.status = 'resolved' THEN
        RAISE EXCEPTION 'incident % is resolved', inc.incident_number
            USING ERRCODE = '55000', HINT = 'A resolved incident cannot be acknowledged.';
    ELSIF inc.acknowledged_at IS NOT NULL THEN
        RAISE EXCEPTION 'incident % is already acknowledged', inc.incident_number
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('acknowledged at %s', inc.acknowledged_at);
    END IF;
    PERFORM alert_grouping.set_incident_reason('acknowledged');
    UPDATE alert_grouping.incidents AS i
       SET acknowledged_at = pg_catalog.now(),
           status = CASE WHEN i.status = 'open' THEN 'investigating'::alert_grouping.incident_status
                         ELSE i.status END
     WHERE i.project_id = inc.project_id AND i.id = inc.id
    RETURNING i.* INTO inc;
    RETURN inc;
END
$$;

CREATE FUNCTION alert_grouping.resolve_incident_internal(project_id uuid, incident_id uuid,
                                                         message text DEFAULT NULL)
RETURNS alert_grouping.incidents
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inc alert_grouping.incidents := alert_grouping.lock_incident(project_id, incident_id);
BEGIN
    IF inc.status = 'resolved' THEN
        RAISE EXCEPTION 'incident % is already resolved', inc.incident_number
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('resolved at %s', inc.resolved_at);
    END IF;
    PERFORM alert_grouping.set_incident_reason(COALESCE(NULLIF(message, ''), 'resolved'));
    UPDATE alert_grouping.incidents AS i
       SET status = 'resolved', resolved_at = pg_catalog.now()
     WHERE i.project_id = inc.project_id AND i.id = inc.id;
    SELECT i.* INTO inc FROM alert_grouping.incidents AS i
     WHERE i.project_id = inc.project_id AND i.id = inc.id;
    RETURN inc;
END
$$;

-- As the episode functions: C wrappers that check the caller is a responder or admin of the
-- project, then run <name>_internal as the owner.
CREATE FUNCTION alert_grouping.acknowledge_incident(project_id uuid, incident_id uuid)
RETURNS alert_grouping.incidents
AS 'MODULE_PATHNAME', 'ag_api_call'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION alert_grouping.resolve_incident(project_id uuid, incident_id uuid,
                                                message text DEFAULT NULL)
RETURNS alert_grouping.incidents
AS 'MODULE_PATHNAME', 'ag_api_call'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

------------------------------------------------------------------------------------------
-- Episode auto-resolve
------------------------------------------------------------------------------------------
-- As in 0.4, and with a resolve delay the episode waits in resolve_due_at for
-- run_maintenance(); a member firing again clears it (the engine clears it with
-- all_alerts_resolved_at).
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
    delay integer;
BEGIN
    IF was_active = is_active THEN
        RETURN NULL;
    END IF;
    UPDATE alert_grouping.episodes AS e
       SET active_alert_count = e.active_alert_count + CASE WHEN is_active THEN 1 ELSE -1 END,
           all_alerts_resolved_at = CASE
               WHEN is_active THEN NULL
               WHEN e.active_alert_count = 1 THEN resolved_time
               ELSE e.all_alerts_resolved_at END,
           resolve_due_at = CASE WHEN is_active THEN NULL ELSE e.resolve_due_at END
     WHERE e.project_id = NEW.project_id AND e.id = NEW.episode_id
    RETURNING e.* INTO ep;
    IF NOT FOUND OR ep.state = 'resolved' OR ep.active_alert_count > 0 THEN
        RETURN NULL;
    END IF;
    SELECT r.episode_config INTO cfg FROM alert_grouping.grouping_rules AS r
     WHERE r.project_id = ep.project_id AND r.id = ep.rule_id;
    IF NOT COALESCE((cfg ->> 'resolve_when_alerts_resolved')::boolean, true) THEN
        RETURN NULL;
    END IF;
    delay := COALESCE((cfg ->> 'resolve_delay_minutes')::integer, 0);
    IF delay = 0 THEN
        UPDATE alert_grouping.episodes AS e
           SET state = 'resolved', resolved_at = ep.all_alerts_resolved_at
         WHERE e.project_id = ep.project_id AND e.id = ep.id;
        PERFORM alert_grouping.add_episode_event(
            ep.project_id, ep.id, ep.all_alerts_resolved_at, 'resolved',
            pg_catalog.jsonb_build_object('reason', 'all_alerts_resolved', 'last_alert_id', NEW.id));
    ELSE
        UPDATE alert_grouping.episodes AS e
           SET resolve_due_at = ep.all_alerts_resolved_at
                                + pg_catalog.make_interval(mins => delay)
         WHERE e.project_id = ep.project_id AND e.id = ep.id;
    END IF;
    RETURN NULL;
END
$$;

-- A rule that gains (or changes) an inactivity timeout schedules a check of its open episodes;
-- maintenance then moves each check to where it is due.
CREATE FUNCTION alert_grouping.rules_after_update() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (NEW.episode_config -> 'inactivity_timeout_minutes')
           IS DISTINCT FROM (OLD.episode_config -> 'inactivity_timeout_minutes')
       AND NEW.episode_config ? 'inactivity_timeout_minutes' THEN
        UPDATE alert_grouping.episodes AS e
           SET inactivity_check_at = e.last_activity_at
         WHERE e.project_id = NEW.project_id AND e.rule_id = NEW.id AND e.state <> 'resolved';
    END IF;
    RETURN NULL;
END
$$;


------------------------------------------------------------------------------------------
-- run_maintenance
------------------------------------------------------------------------------------------
-- Daily partitions of check_results (UTC days) from the day of "at" to days_ahead later. A day
-- whose results already sit in the default partition stays there (making its partition would
-- fail); retention removes them with the default partition's old rows.
CREATE FUNCTION alert_grouping.create_check_partitions(at timestamptz, days_ahead integer DEFAULT 2)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    day timestamp;
    name text;
    made text[] := '{}';
BEGIN
    FOR day IN SELECT pg_catalog.generate_series(pg_catalog.date_trunc('day', at AT TIME ZONE 'UTC'),
                                                 pg_catalog.date_trunc('day', at AT TIME ZONE 'UTC')
                                                 + pg_catalog.make_interval(days => days_ahead),
                                                 '1 day')
    LOOP
        name := 'check_results_' || pg_catalog.to_char(day, 'YYYYMMDD');
        CONTINUE WHEN pg_catalog.to_regclass('alert_grouping.' || name) IS NOT NULL;
        CONTINUE WHEN EXISTS (SELECT 1 FROM alert_grouping.check_results_default AS d
                               WHERE d.checked_at >= (day AT TIME ZONE 'UTC')
                                 AND d.checked_at < ((day + '1 day') AT TIME ZONE 'UTC'));
        EXECUTE pg_catalog.format(
            'CREATE TABLE alert_grouping.%I PARTITION OF alert_grouping.check_results '
            'FOR VALUES FROM (%L) TO (%L)', name, day AT TIME ZONE 'UTC',
            (day + '1 day') AT TIME ZONE 'UTC');
        EXECUTE pg_catalog.format('ALTER TABLE alert_grouping.%I ENABLE ROW LEVEL SECURITY', name);
        made := made || name;
    END LOOP;
    RETURN made;
END
$$;

-- The time-based transitions due at "at": episodes whose resolve delay has passed, episodes
-- inactive for their rule's inactivity_timeout_minutes (resolved with their alerts, as of the
-- moment they became inactive), and the check_results partitions ahead. It reads the due
-- rows through their indexes only, and returns what it did. Deterministic for a given "at":
-- every time it writes is a due time, not the clock.
CREATE FUNCTION alert_grouping.run_maintenance(at timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep record;
    timeout integer;
    due timestamptz;
    n integer;
    delayed_resolved integer := 0;
    inactive_resolved integer := 0;
    rescheduled integer := 0;
    cleared integer := 0;
    partitions text[];
BEGIN
    IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
        RAISE EXCEPTION 'at must be a finite time' USING ERRCODE = '22023';
    END IF;
    -- Resolve delays. Each update checks again what it read, so two passes at once act once.
    FOR ep IN SELECT e.project_id, e.id, e.resolve_due_at
                FROM alert_grouping.episodes AS e
               WHERE e.resolve_due_at <= run_maintenance.at
               ORDER BY e.resolve_due_at, e.project_id, e.id
    LOOP
        UPDATE alert_grouping.episodes AS e
           SET state = 'resolved', resolved_at = e.resolve_due_at, resolve_due_at = NULL
         WHERE e.project_id = ep.project_id AND e.id = ep.id
           AND e.resolve_due_at <= run_maintenance.at AND e.state <> 'resolved'
           AND e.active_alert_count = 0;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 1 THEN
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, ep.resolve_due_at, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'all_alerts_resolved', 'after_delay', true));
            delayed_resolved := delayed_resolved + 1;
        ELSE
            UPDATE alert_grouping.episodes AS e SET resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.resolve_due_at <= run_maintenance.at;
        END IF;
    END LOOP;

    -- Inactivity timeouts.
    FOR ep IN SELECT e.project_id, e.id, e.state, e.last_activity_at, e.inactivity_check_at,
                     r.episode_config AS cfg
                FROM alert_grouping.episodes AS e
                LEFT JOIN alert_grouping.grouping_rules AS r
                  ON r.project_id = e.project_id AND r.id = e.rule_id
               WHERE e.inactivity_check_at <= run_maintenance.at
               ORDER BY e.inactivity_check_at, e.project_id, e.id
    LOOP
        timeout := (ep.cfg ->> 'inactivity_timeout_minutes')::integer;
        due := ep.last_activity_at + pg_catalog.make_interval(mins => timeout);
        IF ep.state = 'resolved' OR timeout IS NULL THEN
            UPDATE alert_grouping.episodes AS e SET inactivity_check_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            cleared := cleared + n;
        ELSIF due > run_maintenance.at THEN
            UPDATE alert_grouping.episodes AS e SET inactivity_check_at = due
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            rescheduled := rescheduled + n;
        ELSE
            -- The episode first, so that its member trigger does not resolve it again.
            UPDATE alert_grouping.episodes AS e
               SET state = 'resolved', resolved_at = due, inactivity_check_at = NULL,
                   resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at AND e.state <> 'resolved'
               AND e.last_activity_at = ep.last_activity_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            CONTINUE WHEN n = 0;
            UPDATE alert_grouping.alerts AS a
               SET state = 'resolved', resolved_at = due
             WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state <> 'resolved';
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, due, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'inactivity_timeout',
                                              'inactivity_timeout_minutes', timeout,
                                              'last_activity_at', ep.last_activity_at,
                                              'alerts_resolved', n));
            inactive_resolved := inactive_resolved + 1;
        END IF;
    END LOOP;

    partitions := alert_grouping.create_check_partitions(run_maintenance.at);
    RETURN pg_catalog.jsonb_build_object(
        'at', run_maintenance.at,
        'episodes_resolved_after_delay', delayed_resolved,
        'episodes_resolved_inactive', inactive_resolved,
        'inactivity_checks_moved', rescheduled,
        'inactivity_checks_cleared', cleared,
        'check_partitions_created', pg_catalog.to_jsonb(partitions));
END
$$;

------------------------------------------------------------------------------------------
-- Statistics
------------------------------------------------------------------------------------------
-- Per project and UTC day: what came in, what it became, and how fast people reacted.
-- noise_reduction: the share of incoming events (alerts and their duplicates) that did not
-- become an episode of their own. security_invoker: each reader sees their projects only.
CREATE VIEW alert_grouping.daily_stats WITH (security_invoker = true) AS
WITH alert_days AS (
    SELECT a.project_id, (a.created_at AT TIME ZONE 'UTC')::date AS day,
           pg_catalog.count(*) AS alerts, COALESCE(pg_catalog.sum(a.duplicate_count), 0)::bigint AS duplicates
      FROM alert_grouping.alerts AS a GROUP BY 1, 2),
episode_days AS (
    SELECT e.project_id, (e.started_at AT TIME ZONE 'UTC')::date AS day, pg_catalog.count(*) AS episodes
      FROM alert_grouping.episodes AS e GROUP BY 1, 2),
incident_days AS (
    SELECT i.project_id, (i.started_at AT TIME ZONE 'UTC')::date AS day, pg_catalog.count(*) AS incidents,
           pg_catalog.avg(i.acknowledged_at - i.started_at) AS mean_time_to_acknowledge,
           pg_catalog.avg(i.resolved_at - i.started_at) AS mean_time_to_resolve
      FROM alert_grouping.incidents AS i GROUP BY 1, 2),
days AS (
    SELECT project_id, day FROM alert_days
    UNION SELECT project_id, day FROM episode_days
    UNION SELECT project_id, day FROM incident_days)
SELECT d.project_id, d.day,
       COALESCE(a.alerts, 0) AS alerts,
       COALESCE(a.duplicates, 0) AS duplicates,
       COALESCE(e.episodes, 0) AS episodes,
       COALESCE(i.incidents, 0) AS incidents,
       CASE WHEN COALESCE(a.alerts, 0) + COALESCE(a.duplicates, 0) > 0
            THEN pg_catalog.round(1 - COALESCE(e.episodes, 0)::numeric
                           / (a.alerts + a.duplicates), 4) END AS noise_reduction,
       i.mean_time_to_acknowledge,
       i.mean_time_to_resolve
  FROM days AS d
  LEFT JOIN alert_days AS a ON a.project_id = d.project_id AND a.day = d.day
  LEFT JOIN episode_days AS e ON e.project_id = d.project_id AND e.day = d.day
  LEFT JOIN incident_days AS i ON i.project_id = d.project_id AND i.day = d.day;

------------------------------------------------------------------------------------------
-- Row-level security
------------------------------------------------------------------------------------------
-- Viewers read; responders write check results and incidents (acknowledge, resolve, open by
-- hand) and their timeline; admins configure monitors and maintenance windows, and delete.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            ('monitors', 'admin', 'admin', 'admin'),
            ('check_results', 'responder', 'admin', 'admin'),
            ('maintenance_windows', 'admin', 'admin', 'admin'),
            ('incidents', 'responder', 'responder', 'admin'),
            ('incident_updates', 'responder', 'admin', 'admin')) AS v(tbl, ins, upd, del)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE alert_grouping.%I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR SELECT '
            'USING (project_id = ANY (alert_grouping.member_project_array(''viewer'')))',
            t.tbl || '_select', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR INSERT '
            'WITH CHECK (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_insert', t.tbl, t.ins);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR UPDATE '
            'USING (project_id = ANY (alert_grouping.member_project_array(%L))) '
            'WITH CHECK (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_update', t.tbl, t.upd, t.upd);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR DELETE '
            'USING (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_delete', t.tbl, t.del);
    END LOOP;
END
$$;

------------------------------------------------------------------------------------------
-- What a distributed database gets from distribute() instead of this script
------------------------------------------------------------------------------------------

-- The triggers 0.5 adds to tables of 0.4, and the new tables' keys to projects. On a
-- database already distributed, the coordinator sends such DDL to the workers before their
-- copy of the extension is updated (a trigger would name a function they do not have yet),
-- and Citus would make a table referencing a reference table a Citus local table at once:
-- distribute(), run again after the update, adds them. Each is made only if missing.
CREATE FUNCTION alert_grouping.add_0_5_triggers_and_keys() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        -- A distributed table takes triggers only with this (they run on its shards).
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                    WHERE g.tgrelid = 'alert_grouping.episodes'::pg_catalog.regclass
                      AND g.tgname = 'episodes_state_changed') THEN
        EXECUTE 'CREATE TRIGGER episodes_state_changed AFTER UPDATE OF state ON alert_grouping.episodes '
                'FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state AND NEW.incident_id IS NOT NULL) '
                'EXECUTE FUNCTION alert_grouping.episodes_state_changed()';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                    WHERE g.tgrelid = 'alert_grouping.grouping_rules'::pg_catalog.regclass
                      AND g.tgname = 'rules_after_update') THEN
        EXECUTE 'CREATE TRIGGER rules_after_update AFTER UPDATE OF episode_config '
                'ON alert_grouping.grouping_rules '
                'FOR EACH ROW EXECUTE FUNCTION alert_grouping.rules_after_update()';
    END IF;
    FOREACH t IN ARRAY ARRAY['monitors', 'maintenance_windows', 'incidents'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                        WHERE c.conrelid = pg_catalog.format('alert_grouping.%I', t)::pg_catalog.regclass
                          AND c.contype = 'f'
                          AND c.confrelid = 'alert_grouping.projects'::pg_catalog.regclass) THEN
            EXECUTE pg_catalog.format(
                'ALTER TABLE alert_grouping.%I ADD FOREIGN KEY (project_id) '
                'REFERENCES alert_grouping.projects (id) ON DELETE CASCADE', t);
        END IF;
    END LOOP;
END
$$;

DO $$
BEGIN
    IF NOT alert_grouping.is_distributed() THEN
        PERFORM alert_grouping.add_0_5_triggers_and_keys();
    END IF;
END
$$;

-- pg_dump keeps their rows.
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.monitors', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.check_results_default', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.maintenance_windows', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.incidents', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.incident_updates', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.incident_updates_id_seq', '');

------------------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------------------
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
        'alert_grouping.episode_owner_teams, alert_grouping.episode_labels, '
        'alert_grouping.monitors, alert_grouping.check_results, '
        'alert_grouping.maintenance_windows, alert_grouping.incidents, '
        'alert_grouping.incident_updates TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON alert_grouping.project_counters, alert_grouping.engine_errors, '
        'alert_grouping.feature_flags, alert_grouping.episode_members, '
        'alert_grouping.daily_stats TO %I', role);
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

CREATE OR REPLACE FUNCTION alert_grouping.granted_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'current_user_id()', 'member_project_ids(text)', 'has_project_role(uuid,text)',
        'flag_enabled(text,uuid)', 'fingerprint(uuid,text,jsonb)', 'dedup_key_fingerprint(text)',
        'validate_rule(jsonb,jsonb,jsonb)', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'regroup(uuid,uuid,timestamptz,timestamptz)', 'ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)']
$$;

------------------------------------------------------------------------------------------
-- distribute(): the new tables too
------------------------------------------------------------------------------------------
-- As in 0.4, with monitors, check results (a distributed partitioned table), maintenance
-- windows, incidents and their timeline co-located with alerts, and the incident functions
-- distributed.
CREATE OR REPLACE FUNCTION alert_grouping.distribute() RETURNS void
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
        'engine_errors', 'monitors', 'check_results', 'maintenance_windows', 'incidents',
        'incident_updates'];
    functions constant text[] := ARRAY['ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'regroup(uuid,uuid,timestamptz,timestamptz)',
        'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)'];
    already boolean;
    work text[];
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
    -- Distributed by an earlier version: the tenant tables added since are distributed now.
    already := alert_grouping.is_distributed();
    work := ARRAY(SELECT u.t FROM pg_catalog.unnest(tenant_tables) WITH ORDINALITY AS u(t, i)
                   WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                                      WHERE p.logicalrelid = pg_catalog.format('alert_grouping.%I', u.t)::pg_catalog.regclass)
                   ORDER BY u.i);
    IF pg_catalog.cardinality(work) = 0 THEN
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
     WHERE c.connamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.contype = 'f'
       AND c.conparentid = 0  -- a partition's copy comes and goes with its parent's
       AND (NOT already OR c.conrelid::pg_catalog.regclass::text
                           IN (SELECT 'alert_grouping.' || pg_catalog.quote_ident(w) FROM pg_catalog.unnest(work) AS w));
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
      FROM alert_grouping.project_members AS m WHERE m.db_role IS NOT NULL AND NOT already;
    CREATE TEMPORARY TABLE alert_grouping_app_roles ON COMMIT DROP AS
    SELECT ar.role::text AS role_name, ar.granted_at FROM alert_grouping.application_roles AS ar
     WHERE NOT already;

    IF NOT already THEN
        FOREACH t IN ARRAY reference_tables LOOP
            PERFORM pg_catalog.create_reference_table(pg_catalog.format('alert_grouping.%I', t));
        END LOOP;
        PERFORM pg_catalog.create_distributed_table('alert_grouping.alerts', 'project_id');
    END IF;
    FOREACH t IN ARRAY work LOOP
        CONTINUE WHEN t = 'alerts';
        PERFORM pg_catalog.create_distributed_table(pg_catalog.format('alert_grouping.%I', t),
                                                    'project_id',
                                                    colocate_with => 'alert_grouping.alerts');
    END LOOP;

    FOR fk IN SELECT * FROM pg_temp.alert_grouping_fks ORDER BY oid LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.def);
    END LOOP;
    DROP TABLE pg_temp.alert_grouping_fks;
    -- Updated while distributed: what the update left to this function.
    PERFORM alert_grouping.add_0_5_triggers_and_keys();

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
        '               (''alert_grouping.engine_errors_id_seq''::pg_catalog.regclass), '
        '               (''alert_grouping.incident_updates_id_seq''::pg_catalog.regclass)) AS s(seq)');

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
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
                AND a.grantee <> 0 AND a.grantee <> c.relowner
                AND EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS d WHERE d.logicalrelid = c.oid)
             UNION ALL
             SELECT pg_catalog.format('GRANT %s (%I) ON TABLE %s TO %s', a.privilege_type,
                                      att.attname, c.oid::pg_catalog.regclass,
                                      a.grantee::pg_catalog.regrole)
               FROM pg_catalog.pg_class AS c
               JOIN pg_catalog.pg_attribute AS att ON att.attrelid = c.oid,
                    pg_catalog.aclexplode(att.attacl) AS a
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
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
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    alert_grouping.membership_is_valid(uuid, text, timestamptz, uuid, numeric),
    alert_grouping.member_project_array(text) TO PUBLIC;

-- Roles granted access before this version get the new tables and functions too.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT ro.rolname
               FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a,
                    pg_catalog.pg_roles AS ro
              WHERE n.nspname = 'alert_grouping' AND a.privilege_type = 'USAGE'
                AND a.grantee <> n.nspowner AND ro.oid = a.grantee
              ORDER BY ro.rolname
    LOOP
        PERFORM alert_grouping.grant_access(r.rolname);
    END LOOP;
END
$$;

-- grant_access above recorded initial privileges for the relations, which a fresh install
-- has none of: they are the roles' own grants.
DELETE FROM pg_catalog.pg_init_privs AS ip
 WHERE ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.privtype = 'e'
   AND ip.objoid IN (SELECT d.objid FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                        AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                        AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                           WHERE e.extname = 'alert_grouping')
                        AND d.deptype = 'e');

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

------------------------------------------------------------------------------------------
-- Version 0.6: sql/alert_grouping--0.5--0.6.sql as it was released
------------------------------------------------------------------------------------------

-- 0.6: escalation policies page people through levels and rounds, on-call schedules say who
-- that is at any moment, every page is a row of the notifications outbox (with a NOTIFY),
-- and a background worker runs run_maintenance every second when the library is preloaded
-- (pg_cron can call the same functions instead).

------------------------------------------------------------------------------------------
-- Incidents: where their escalation stands
------------------------------------------------------------------------------------------
-- escalation_level and escalation_round: the last step notified (0 and 0 before the first);
-- next_escalation_at: when the next step is due, NULL once the policy is done or stopped.
DO $$
BEGIN
    -- The column, then its check by name: Citus takes no unnamed constraint with a column.
    EXECUTE 'ALTER TABLE alert_grouping.incidents '
            'ADD COLUMN IF NOT EXISTS escalation_round integer NOT NULL DEFAULT 0';
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                    WHERE c.conrelid = 'alert_grouping.incidents'::pg_catalog.regclass
                      AND c.conname = 'incidents_escalation_round_check') THEN
        EXECUTE 'ALTER TABLE alert_grouping.incidents ADD CONSTRAINT incidents_escalation_round_check '
                'CHECK (escalation_round >= 0)';
    END IF;
    -- Due rows only: a pass with nothing due costs one index probe, whatever is stored.
    EXECUTE 'CREATE INDEX IF NOT EXISTS incidents_next_escalation_idx '
            'ON alert_grouping.incidents (next_escalation_at) WHERE next_escalation_at IS NOT NULL';
END
$$;

------------------------------------------------------------------------------------------
-- On-call schedules
------------------------------------------------------------------------------------------
CREATE TABLE alert_grouping.on_call_schedules (
    project_id uuid NOT NULL,  -- references projects (id): see the end of this script
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    name text NOT NULL,
    description text NULL,
    time_zone text NOT NULL DEFAULT 'UTC',
    -- [{"rotation_start", "turn_length_hours", "members": [uuid...], "restrictions": [...]}],
    -- a later layer winning where layers overlap (on_call_users).
    layers jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id)
);

CREATE TABLE alert_grouping.on_call_overrides (
    project_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    schedule_id uuid NOT NULL,
    user_id uuid NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id),
    FOREIGN KEY (project_id, schedule_id)
        REFERENCES alert_grouping.on_call_schedules (project_id, id) ON DELETE CASCADE
);
CREATE INDEX on_call_overrides_schedule_idx
    ON alert_grouping.on_call_overrides (project_id, schedule_id, ends_at);

-- A member of the project, for the validation of what names users.
CREATE FUNCTION alert_grouping.is_project_member(project_id uuid, user_id uuid)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM alert_grouping.project_members AS m
                    WHERE m.project_id = is_project_member.project_id
                      AND m.user_id = is_project_member.user_id);
END
$$;

-- A layer's rotation start: with an offset it is that instant; without one it is a wall-clock
-- time of the schedule's time zone. Stored normalized, so that reading it never depends on
-- the session's TimeZone.
CREATE FUNCTION alert_grouping.schedule_time(value text, time_zone text, field text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t timestamptz;
BEGIN
    BEGIN
        IF value ~ '(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$' THEN
            t := value::timestamptz;
        ELSE
            t := pg_catalog.timezone(time_zone, value::timestamp);
        END IF;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_parameter_value THEN
        t := NULL;
    END;
    IF t IS NULL OR NOT pg_catalog.isfinite(t) THEN
        RAISE EXCEPTION '%: "%" is not a time', field, value
            USING ERRCODE = '22023', HINT = 'Write an ISO 8601 time, such as 2026-03-02T09:00:00+01:00.';
    END IF;
    RETURN t;
END
$$;

CREATE FUNCTION alert_grouping.on_call_schedules_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Unset (NULL) until the library is loaded in the session: not restoring.
    restoring boolean := COALESCE(pg_catalog.current_setting('alert_grouping.restoring', true), 'off') = 'on';
    layer jsonb;
    layers jsonb := '[]';
    item jsonb;
    r jsonb;
    field text;
    k text;
    u uuid;
    i integer;
    j integer;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.project_id <> OLD.project_id THEN
        RAISE EXCEPTION 'project_id of a schedule cannot change' USING ERRCODE = '22023';
    END IF;
    IF NEW.name IS NULL OR pg_catalog.btrim(NEW.name) = '' OR pg_catalog.length(NEW.name) > 200 THEN
        RAISE EXCEPTION 'name must be 1 to 200 characters' USING ERRCODE = '22023';
    END IF;
    IF NEW.time_zone IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names AS z WHERE z.name = NEW.time_zone) THEN
        RAISE EXCEPTION 'time_zone: unknown time zone "%"', NEW.time_zone
            USING ERRCODE = '22023',
                  HINT = 'Use a name of pg_timezone_names, such as Europe/Berlin or America/New_York.';
    END IF;
    IF pg_catalog.jsonb_typeof(NEW.layers) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'layers must be a JSON array' USING ERRCODE = '22023';
    ELSIF pg_catalog.jsonb_array_length(NEW.layers) > 20 THEN
        RAISE EXCEPTION 'layers: at most 20 layers' USING ERRCODE = '22023';
    END IF;
    FOR i IN 0 .. pg_catalog.jsonb_array_length(NEW.layers) - 1 LOOP
        layer := NEW.layers -> i;
        field := pg_catalog.format('layers[%s]', i);
        IF pg_catalog.jsonb_typeof(layer) <> 'object' THEN
            RAISE EXCEPTION '% must be an object', field USING ERRCODE = '22023';
        END IF;
        SELECT x INTO k FROM pg_catalog.jsonb_object_keys(layer) AS x
         WHERE x NOT IN ('name', 'rotation_start', 'turn_length_hours', 'members', 'restrictions')
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION '%: unknown key "%"', field, k
                USING ERRCODE = '22023',
                      HINT = 'A layer has rotation_start, turn_length_hours, members and optionally name and restrictions.';
        END IF;
        IF pg_catalog.jsonb_typeof(layer -> 'rotation_start') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION '%.rotation_start must be a time', field USING ERRCODE = '22023';
        END IF;
        -- In UTC, whatever the session's TimeZone.
        layer := pg_catalog.jsonb_set(layer, '{rotation_start}', pg_catalog.to_jsonb(
            pg_catalog.regexp_replace(pg_catalog.to_char(pg_catalog.timezone('UTC',
                alert_grouping.schedule_time(layer ->> 'rotation_start', NEW.time_zone,
                                             field || '.rotation_start')),
                'YYYY-MM-DD"T"HH24:MI:SS.US'), '\.0+$', '') || 'Z'));
        IF pg_catalog.jsonb_typeof(layer -> 'turn_length_hours') IS DISTINCT FROM 'number'
           OR (layer ->> 'turn_length_hours')::numeric * 60 < 1
           OR (layer ->> 'turn_length_hours')::numeric > 8784 THEN
            RAISE EXCEPTION '%.turn_length_hours must be a number of hours from 1/60 to 8784', field
                USING ERRCODE = '22023';
        END IF;
        IF pg_catalog.jsonb_typeof(layer -> 'members') IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_array_length(layer -> 'members') NOT BETWEEN 1 AND 100 THEN
            RAISE EXCEPTION '%.members must be an array of 1 to 100 user ids', field
                USING ERRCODE = '22023';
        END IF;
        FOR j IN 0 .. pg_catalog.jsonb_array_length(layer -> 'members') - 1 LOOP
            item := layer -> 'members' -> j;
            BEGIN
                u := (item #>> '{}')::uuid;
            EXCEPTION WHEN invalid_text_representation THEN
                u := NULL;
            END;
            IF pg_catalog.jsonb_typeof(item) <> 'string' OR u IS NULL THEN
                RAISE EXCEPTION '%.members[%] must be a user id (uuid)', field, j USING ERRCODE = '22023';
            END IF;
            IF NOT restoring AND NOT alert_grouping.is_project_member(NEW.project_id, u) THEN
                RAISE EXCEPTION '%.members[%]: user % is not a member of project %', field, j, u,
                    NEW.project_id USING ERRCODE = '22023';
            END IF;
        END LOOP;
        IF layer ? 'restrictions' THEN
            IF pg_catalog.jsonb_typeof(layer -> 'restrictions') <> 'array'
               OR pg_catalog.jsonb_array_length(layer -> 'restrictions') > 50 THEN
                RAISE EXCEPTION '%.restrictions must be an array of at most 50 restrictions', field
                    USING ERRCODE = '22023';
            END IF;
            FOR j IN 0 .. pg_catalog.jsonb_array_length(layer -> 'restrictions') - 1 LOOP
                r := layer -> 'restrictions' -> j;
                k := pg_catalog.format('%s.restrictions[%s]', field, j);
                IF pg_catalog.jsonb_typeof(r) <> 'object'
                   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(r) AS x
                               WHERE x NOT IN ('days', 'from', 'to')) THEN
                    RAISE EXCEPTION '% must be an object of days, from and to', k USING ERRCODE = '22023';
                END IF;
                IF pg_catalog.jsonb_typeof(r -> 'days') IS DISTINCT FROM 'array'
                   OR pg_catalog.jsonb_array_length(r -> 'days') = 0
                   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(r -> 'days') AS d
                               WHERE pg_catalog.jsonb_typeof(d) <> 'number'
                                  OR (d #>> '{}') NOT IN ('1', '2', '3', '4', '5', '6', '7'))
                THEN
                    RAISE EXCEPTION '%.days must be a non-empty array of ISO week days, 1 (Monday) to 7 (Sunday)', k
                        USING ERRCODE = '22023';
                END IF;
                IF pg_catalog.jsonb_typeof(r -> 'from') IS DISTINCT FROM 'string'
                   OR (r ->> 'from') !~ '^([01][0-9]|2[0-3]):[0-5][0-9]$' THEN
                    RAISE EXCEPTION '%.from must be a local time HH:MM from 00:00 to 23:59', k
                        USING ERRCODE = '22023';
                END IF;
                IF pg_catalog.jsonb_typeof(r -> 'to') IS DISTINCT FROM 'string'
                   OR (r ->> 'to') !~ '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' THEN
                    RAISE EXCEPTION '%.to must be a local time HH:MM from 00:00 to 24:00', k
                        USING ERRCODE = '22023';
                END IF;
            END LOOP;
        END IF;
        layers := layers || pg_catalog.jsonb_build_array(layer);
    END LOOP;
    NEW.layers := layers;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER on_call_schedules_before_write
    BEFORE INSERT OR UPDATE ON alert_grouping.on_call_schedules
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.on_call_schedules_before_write();

CREATE FUNCTION alert_grouping.on_call_overrides_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.project_id <> OLD.project_id THEN
        RAISE EXCEPTION 'project_id of an override cannot change' USING ERRCODE = '22023';
    END IF;
    IF NEW.starts_at IS NULL OR NEW.ends_at IS NULL
       OR NOT pg_catalog.isfinite(NEW.starts_at) OR NOT pg_catalog.isfinite(NEW.ends_at) THEN
        RAISE EXCEPTION 'starts_at and ends_at must be finite times' USING ERRCODE = '22023';
    END IF;
    IF NEW.ends_at <= NEW.starts_at THEN
        RAISE EXCEPTION 'ends_at must be later than starts_at'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('starts_at %s, ends_at %s', NEW.starts_at, NEW.ends_at);
    END IF;
    IF pg_catalog.current_setting('alert_grouping.restoring', true) IS DISTINCT FROM 'on'
       AND NOT alert_grouping.is_project_member(NEW.project_id, NEW.user_id) THEN
        RAISE EXCEPTION 'user_id: user % is not a member of project %', NEW.user_id, NEW.project_id
            USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER on_call_overrides_before_write
    BEFORE INSERT OR UPDATE ON alert_grouping.on_call_overrides
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.on_call_overrides_before_write();

-- Whether a local wall-clock time falls in one of a layer's restrictions. A restriction runs
-- on each of its days from "from" to "to"; one whose "to" is not after its "from" wraps past
-- midnight into the next day ("from" = "to": the whole 24 hours).
CREATE FUNCTION alert_grouping.within_restrictions(restrictions jsonb, local_at timestamp)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
          FROM pg_catalog.jsonb_array_elements(restrictions) AS r,
               LATERAL (SELECT (r ->> 'from')::time AS f, (r ->> 'to')::time AS t,
                               local_at::time AS now_time,
                               pg_catalog.to_jsonb(pg_catalog.date_part('isodow', local_at)::integer) AS today,
                               pg_catalog.to_jsonb((pg_catalog.date_part('isodow', local_at)::integer + 5) % 7 + 1) AS yesterday) AS x
         WHERE (x.t > x.f AND (r -> 'days') @> x.today AND x.now_time >= x.f AND x.now_time < x.t)
            OR (x.t <= x.f AND (((r -> 'days') @> x.today AND x.now_time >= x.f)
                                OR ((r -> 'days') @> x.yesterday AND x.now_time < x.t))));
$$;

-- Who a layer has on call at a time, or NULL (before its rotation starts, or outside its
-- restrictions). A turn of whole days hands off at the rotation start's local wall-clock
-- time, across DST changes; any other turn length is an exact duration.
CREATE FUNCTION alert_grouping.layer_on_call(layer jsonb, time_zone text, at timestamptz)
RETURNS uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start_at timestamptz := (layer ->> 'rotation_start')::timestamptz;
    turn_seconds numeric := (layer ->> 'turn_length_hours')::numeric * 3600;
    members jsonb := layer -> 'members';
    local_at timestamp := pg_catalog.timezone(time_zone, at);
    elapsed numeric;
    turn bigint;
BEGIN
    IF at < start_at THEN
        RETURN NULL;
    END IF;
    IF pg_catalog.jsonb_array_length(COALESCE(layer -> 'restrictions', '[]')) > 0
       AND NOT alert_grouping.within_restrictions(layer -> 'restrictions', local_at) THEN
        RETURN NULL;
    END IF;
    IF turn_seconds % 86400 = 0 THEN
        elapsed := pg_catalog.date_part('epoch', local_at - pg_catalog.timezone(time_zone, start_at));
    ELSE
        elapsed := pg_catalog.date_part('epoch', at - start_at);
    END IF;
    turn := GREATEST(pg_catalog.floor(elapsed / turn_seconds), 0);
    RETURN (members ->> (turn % pg_catalog.jsonb_array_length(members))::integer)::uuid;
END
$$;

-- Who is on call: the users of the overrides running at that time; else the last layer that
-- has someone. Empty for a schedule that does not exist (escalation names what it found).
CREATE FUNCTION alert_grouping.schedule_on_call(project_id uuid, schedule_id uuid, at timestamptz)
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
    overrides uuid[];
    u uuid;
    i integer;
BEGIN
    SELECT sc.time_zone, sc.layers INTO s FROM alert_grouping.on_call_schedules AS sc
     WHERE sc.project_id = schedule_on_call.project_id AND sc.id = schedule_on_call.schedule_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    overrides := ARRAY(SELECT DISTINCT o.user_id FROM alert_grouping.on_call_overrides AS o
                        WHERE o.project_id = schedule_on_call.project_id
                          AND o.schedule_id = schedule_on_call.schedule_id
                          AND o.ends_at > schedule_on_call.at AND o.starts_at <= schedule_on_call.at
                        ORDER BY 1);
    IF pg_catalog.cardinality(overrides) > 0 THEN
        RETURN QUERY SELECT pg_catalog.unnest(overrides);
        RETURN;
    END IF;
    FOR i IN REVERSE pg_catalog.jsonb_array_length(s.layers) - 1 .. 0 LOOP
        u := alert_grouping.layer_on_call(s.layers -> i, s.time_zone, schedule_on_call.at);
        IF u IS NOT NULL THEN
            RETURN NEXT u;
            RETURN;
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION alert_grouping.on_call_users(project_id uuid, schedule_id uuid,
                                             at timestamptz DEFAULT pg_catalog.now())
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
        RAISE EXCEPTION 'at must be a finite time' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM alert_grouping.on_call_schedules AS sc
                    WHERE sc.project_id = on_call_users.project_id AND sc.id = on_call_users.schedule_id) THEN
        RAISE EXCEPTION 'schedule % not found in project %', schedule_id, project_id
            USING ERRCODE = 'P0002';
    END IF;
    RETURN QUERY SELECT u FROM alert_grouping.schedule_on_call(project_id, schedule_id, at) AS u;
END
$$;

------------------------------------------------------------------------------------------
-- Escalation policies
------------------------------------------------------------------------------------------
CREATE TABLE alert_grouping.escalation_policies (
    project_id uuid NOT NULL,  -- references projects (id): see the end of this script
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    name text NOT NULL,
    description text NULL,
    -- [{"delay_minutes": n, "targets": [{"type": "user"|"team"|"schedule", "id": uuid}]}]
    levels jsonb NOT NULL,
    repeat_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id)
);

CREATE FUNCTION alert_grouping.escalation_policies_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Unset (NULL) until the library is loaded in the session: not restoring.
    restoring boolean := COALESCE(pg_catalog.current_setting('alert_grouping.restoring', true), 'off') = 'on';
    lvl jsonb;
    tgt jsonb;
    field text;
    k text;
    target_id uuid;
    i integer;
    j integer;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.project_id <> OLD.project_id THEN
        RAISE EXCEPTION 'project_id of an escalation policy cannot change' USING ERRCODE = '22023';
    END IF;
    IF NEW.name IS NULL OR pg_catalog.btrim(NEW.name) = '' OR pg_catalog.length(NEW.name) > 200 THEN
        RAISE EXCEPTION 'name must be 1 to 200 characters' USING ERRCODE = '22023';
    END IF;
    IF NEW.repeat_count IS NULL OR NEW.repeat_count NOT BETWEEN 0 AND 9 THEN
        RAISE EXCEPTION 'repeat_count must be from 0 to 9' USING ERRCODE = '22023',
            DETAIL = 'repeat_count is how many more rounds follow the first, as PagerDuty''s num_loops.';
    END IF;
    IF pg_catalog.jsonb_typeof(NEW.levels) IS DISTINCT FROM 'array'
       OR pg_catalog.jsonb_array_length(NEW.levels) NOT BETWEEN 1 AND 20 THEN
        RAISE EXCEPTION 'levels must be an array of 1 to 20 levels' USING ERRCODE = '22023';
    END IF;
    FOR i IN 0 .. pg_catalog.jsonb_array_length(NEW.levels) - 1 LOOP
        lvl := NEW.levels -> i;
        field := pg_catalog.format('levels[%s]', i);
        IF pg_catalog.jsonb_typeof(lvl) <> 'object' THEN
            RAISE EXCEPTION '% must be an object', field USING ERRCODE = '22023';
        END IF;
        SELECT x INTO k FROM pg_catalog.jsonb_object_keys(lvl) AS x
         WHERE x NOT IN ('delay_minutes', 'targets') LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION '%: unknown key "%"', field, k
                USING ERRCODE = '22023', HINT = 'A level has delay_minutes and targets.';
        END IF;
        IF pg_catalog.jsonb_typeof(lvl -> 'delay_minutes') IS DISTINCT FROM 'number'
           OR (lvl ->> 'delay_minutes') !~ '^[0-9]{1,5}$'
           OR (lvl ->> 'delay_minutes')::integer > 10080 THEN
            RAISE EXCEPTION '%.delay_minutes must be a whole number of minutes from 0 to 10080', field
                USING ERRCODE = '22023';
        END IF;
        IF pg_catalog.jsonb_typeof(lvl -> 'targets') IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_array_length(lvl -> 'targets') NOT BETWEEN 1 AND 50 THEN
            RAISE EXCEPTION '%.targets must be an array of 1 to 50 targets', field
                USING ERRCODE = '22023';
        END IF;
        FOR j IN 0 .. pg_catalog.jsonb_array_length(lvl -> 'targets') - 1 LOOP
            tgt := lvl -> 'targets' -> j;
            k := pg_catalog.format('%s.targets[%s]', field, j);
            IF pg_catalog.jsonb_typeof(tgt) <> 'object'
               OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(tgt) AS x
                           WHERE x NOT IN ('type', 'id', 'channel')) THEN
                RAISE EXCEPTION '% must be an object of type, id and optionally channel', k
                    USING ERRCODE = '22023';
            END IF;
            IF pg_catalog.jsonb_typeof(tgt -> 'type') IS DISTINCT FROM 'string'
               OR (tgt ->> 'type') NOT IN ('user', 'team', 'schedule') THEN
                RAISE EXCEPTION '%.type must be user, team or schedule', k
                    USING ERRCODE = '22023',
                          DETAIL = pg_catalog.format('found %s', COALESCE((tgt -> 'type')::text, 'nothing'));
            END IF;
            BEGIN
                target_id := (tgt ->> 'id')::uuid;
            EXCEPTION WHEN invalid_text_representation THEN
                target_id := NULL;
            END;
            IF pg_catalog.jsonb_typeof(tgt -> 'id') IS DISTINCT FROM 'string' OR target_id IS NULL THEN
                RAISE EXCEPTION '%.id must be a uuid', k USING ERRCODE = '22023';
            END IF;
            IF tgt ? 'channel' AND (pg_catalog.jsonb_typeof(tgt -> 'channel') <> 'string'
                                    OR (tgt ->> 'channel') !~ '^[a-z][a-z0-9_-]{0,31}$') THEN
                RAISE EXCEPTION '%.channel must be a lower-case name of at most 32 characters', k
                    USING ERRCODE = '22023';
            END IF;
            CONTINUE WHEN restoring;
            IF tgt ->> 'type' = 'user' AND NOT alert_grouping.is_project_member(NEW.project_id, target_id) THEN
                RAISE EXCEPTION '%.id: user % is not a member of project %', k, target_id, NEW.project_id
                    USING ERRCODE = '22023';
            ELSIF tgt ->> 'type' = 'team'
                  AND NOT EXISTS (SELECT 1 FROM alert_grouping.teams AS t
                                   WHERE t.project_id = NEW.project_id AND t.id = target_id) THEN
                RAISE EXCEPTION '%.id: team % not found in project %', k, target_id, NEW.project_id
                    USING ERRCODE = '22023';
            ELSIF tgt ->> 'type' = 'schedule'
                  AND NOT EXISTS (SELECT 1 FROM alert_grouping.on_call_schedules AS s
                                   WHERE s.project_id = NEW.project_id AND s.id = target_id) THEN
                RAISE EXCEPTION '%.id: schedule % not found in project %', k, target_id, NEW.project_id
                    USING ERRCODE = '22023';
            END IF;
        END LOOP;
    END LOOP;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER escalation_policies_before_write
    BEFORE INSERT OR UPDATE ON alert_grouping.escalation_policies
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.escalation_policies_before_write();

------------------------------------------------------------------------------------------
-- Notifications: the outbox
------------------------------------------------------------------------------------------
-- One row per person paged for a step of an incident's escalation, never two (the unique
-- key); a delivery process LISTENs on alert_grouping_notifications and sets delivered_at.
CREATE TABLE alert_grouping.notifications (
    project_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    incident_id uuid NOT NULL,
    user_id uuid NOT NULL,
    level integer NOT NULL CHECK (level >= 1),
    round integer NOT NULL CHECK (round >= 1),
    channel text NOT NULL DEFAULT 'default',
    reason text NOT NULL,  -- how the policy reached the user: directly, a team, a schedule
    due_at timestamptz NOT NULL,  -- when the step was due (a late pass writes it later)
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    delivered_at timestamptz NULL,
    PRIMARY KEY (project_id, id),
    CONSTRAINT notifications_once UNIQUE (project_id, incident_id, level, round, user_id),
    FOREIGN KEY (project_id, incident_id)
        REFERENCES alert_grouping.incidents (project_id, id) ON DELETE CASCADE
);
CREATE INDEX notifications_undelivered_idx ON alert_grouping.notifications (project_id, created_at)
    WHERE delivered_at IS NULL;

------------------------------------------------------------------------------------------
-- Incidents start escalating
------------------------------------------------------------------------------------------
-- As in 0.5, and: an incident with a policy, neither acknowledged nor resolved, is due for its
-- first step when it starts; acknowledging or resolving it stops its escalation; a policy
-- given to an open incident later starts from its first level then.
CREATE OR REPLACE FUNCTION alert_grouping.incidents_before_write() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Unset (NULL) until the library is loaded in the session: not restoring.
    restoring boolean := COALESCE(pg_catalog.current_setting('alert_grouping.restoring', true), 'off') = 'on';
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT restoring THEN
            IF NEW.incident_number IS NOT NULL THEN
                RAISE EXCEPTION 'incident_number is assigned by alert_grouping'
                    USING ERRCODE = '428C9',
                          HINT = 'Leave incident_number out: each project numbers its incidents from 1. '
                                 'To restore a dump, run pg_restore with '
                                 'PGOPTIONS=''-c alert_grouping.restoring=on''.';
            END IF;
            INSERT INTO alert_grouping.project_counters AS c (project_id, last_incident_number)
            VALUES (NEW.project_id, 1)
            ON CONFLICT (project_id) DO UPDATE
               SET last_incident_number = c.last_incident_number + 1
            RETURNING c.last_incident_number INTO NEW.incident_number;
        END IF;
        IF NEW.status = 'resolved' THEN
            NEW.resolved_at := COALESCE(NEW.resolved_at, pg_catalog.now());
        ELSE
            NEW.resolved_at := NULL;
        END IF;
        IF NEW.status IN ('investigating', 'identified', 'monitoring') THEN
            NEW.acknowledged_at := COALESCE(NEW.acknowledged_at, NEW.started_at);
        END IF;
        IF NOT restoring THEN
            IF NEW.escalation_policy_id IS NULL OR NEW.acknowledged_at IS NOT NULL
               OR NEW.status = 'resolved' THEN
                NEW.next_escalation_at := NULL;
            ELSIF NEW.escalation_level = 0 AND NEW.escalation_round = 0 THEN
                NEW.next_escalation_at := COALESCE(NEW.next_escalation_at, NEW.started_at);
            END IF;
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.project_id <> OLD.project_id THEN
        RAISE EXCEPTION 'project_id of an incident cannot change' USING ERRCODE = '22023';
    END IF;
    IF NEW.incident_number IS DISTINCT FROM OLD.incident_number THEN
        RAISE EXCEPTION 'incident_number cannot change' USING ERRCODE = '22023';
    END IF;
    IF NEW.status = 'resolved' AND OLD.status <> 'resolved' THEN
        IF NEW.resolved_at IS NOT DISTINCT FROM OLD.resolved_at THEN
            NEW.resolved_at := pg_catalog.now();
        END IF;
    ELSIF NEW.status <> 'resolved' THEN
        NEW.resolved_at := NULL;
    END IF;
    IF NEW.status IN ('investigating', 'identified', 'monitoring')
       AND NEW.acknowledged_at IS NULL THEN
        NEW.acknowledged_at := pg_catalog.now();
    END IF;
    IF NEW.acknowledged_at IS NOT NULL OR NEW.status = 'resolved' OR NEW.escalation_policy_id IS NULL THEN
        NEW.next_escalation_at := NULL;
    ELSIF OLD.escalation_policy_id IS DISTINCT FROM NEW.escalation_policy_id
          AND NEW.next_escalation_at IS NOT DISTINCT FROM OLD.next_escalation_at THEN
        NEW.escalation_level := 0;
        NEW.escalation_round := 0;
        NEW.next_escalation_at := pg_catalog.now();
    END IF;
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;

------------------------------------------------------------------------------------------
-- process_escalations
------------------------------------------------------------------------------------------
-- Where a due incident's escalation stands, as a pass reads and locks it.
CREATE TYPE alert_grouping.escalation_position AS (
    id uuid,
    status alert_grouping.incident_status,
    acknowledged_at timestamptz,
    escalation_policy_id uuid,
    escalation_level integer,
    escalation_round integer,
    next_escalation_at timestamptz
);

-- The steps of a batch of due incidents of one project up to "at", and who each step pages.
-- A policy's steps run level 1 to n, then again from level 1 for repeat_count more rounds;
-- step k+1 is due delay_minutes (of level k) after step k, and the first step when the
-- incident starts. One row per person paged (person NULL: the target reached nobody), with
-- when the incident's next step is due after its last step here.
CREATE FUNCTION alert_grouping.due_escalation_steps(project_id uuid,
                                                    batch alert_grouping.escalation_position[],
                                                    at timestamptz, resolve_schedules boolean)
RETURNS TABLE (incident_id uuid, status alert_grouping.incident_status, step integer,
               level integer, round integer, due_at timestamptz, next_at timestamptz,
               last_step boolean, step_label text, target_ord integer, target_type text,
               schedule_id uuid, user_id uuid, channel text, reason text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    -- PL/pgSQL, not SQL: Citus plans no SQL function whose statement has parameters.
    RETURN QUERY
    WITH due AS (  -- the batch as the caller read and locked it
        SELECT i.id, i.status, i.next_escalation_at, i.escalation_policy_id AS policy_id,
               i.escalation_level, i.escalation_round
          FROM pg_catalog.unnest(batch) AS i
         WHERE i.next_escalation_at <= due_escalation_steps.at
           AND i.acknowledged_at IS NULL AND i.status <> 'resolved'),
    policies AS (  -- the few policies of the due incidents, read once each
        SELECT p.id AS policy_id, p.name, p.levels, p.repeat_count,
               pg_catalog.jsonb_array_length(p.levels) AS n_levels
          FROM alert_grouping.escalation_policies AS p
         WHERE p.project_id = due_escalation_steps.project_id
           AND p.id IN (SELECT d.policy_id FROM due AS d)),
    policy_levels AS (
        SELECT pol.policy_id, e.ord::integer AS level, e.lvl -> 'targets' AS targets,
               pg_catalog.sum((e.lvl ->> 'delay_minutes')::integer) OVER w
                   - (e.lvl ->> 'delay_minutes')::integer AS start_minute,
               pg_catalog.sum((e.lvl ->> 'delay_minutes')::integer) OVER (PARTITION BY pol.policy_id) AS cycle
          FROM policies AS pol,
               pg_catalog.jsonb_array_elements(pol.levels) WITH ORDINALITY AS e(lvl, ord)
        WINDOW w AS (PARTITION BY pol.policy_id ORDER BY e.ord)),
    steps AS (  -- every step of each policy, with its minute from the first step
        SELECT pl.policy_id, (r.round - 1) * pol.n_levels + pl.level - 1 AS step, pl.level, r.round,
               (r.round - 1) * pl.cycle + pl.start_minute AS minute, pl.targets,
               pg_catalog.format('level %s of %s, round %s of %s, of policy "%s"', pl.level,
                                 pol.n_levels, r.round, pol.repeat_count + 1, pol.name) AS label
          FROM policy_levels AS pl
          JOIN policies AS pol ON pol.policy_id = pl.policy_id
          JOIN (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) AS r(round)
            ON r.round <= pol.repeat_count + 1),
    positioned AS (  -- the step each incident is due for
        SELECT d.id, d.status, d.next_escalation_at, d.policy_id,
               CASE WHEN d.escalation_round = 0 THEN 0
                    ELSE (d.escalation_round - 1) * pol.n_levels
                         + LEAST(d.escalation_level, pol.n_levels) END AS position
          FROM due AS d JOIN policies AS pol ON pol.policy_id = d.policy_id),
    due_steps AS (
        SELECT d.id, d.status, st.step, st.level, st.round, st.targets, st.label, s.due_at, s.next_at,
               s.next_at IS NULL OR s.next_at > due_escalation_steps.at AS last_step
          FROM positioned AS d
          JOIN steps AS cur ON cur.policy_id = d.policy_id AND cur.step = d.position
          JOIN steps AS st ON st.policy_id = d.policy_id AND st.step >= d.position
          LEFT JOIN steps AS nx ON nx.policy_id = d.policy_id AND nx.step = st.step + 1
         CROSS JOIN LATERAL (
               SELECT d.next_escalation_at + pg_catalog.make_interval(mins => (st.minute - cur.minute)::integer) AS due_at,
                      d.next_escalation_at + pg_catalog.make_interval(mins => (nx.minute - cur.minute)::integer) AS next_at) AS s
         WHERE s.due_at <= due_escalation_steps.at)
    SELECT ds.id, ds.status, ds.step, ds.level, ds.round, ds.due_at, ds.next_at, ds.last_step,
           ds.label, t.ord::integer, t.tgt ->> 'type',
           CASE WHEN t.tgt ->> 'type' = 'schedule' THEN (t.tgt ->> 'id')::uuid END, rcpt.user_id,
           COALESCE(t.tgt ->> 'channel', 'default'),
           CASE t.tgt ->> 'type'
               WHEN 'user' THEN 'directly'
               WHEN 'team' THEN pg_catalog.format('team "%s"', COALESCE(tm.name, t.tgt ->> 'id'))
               ELSE pg_catalog.format('on call for schedule "%s"', COALESCE(sc.name, t.tgt ->> 'id'))
           END
      FROM due_steps AS ds
     CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(ds.targets) WITH ORDINALITY AS t(tgt, ord)
      LEFT JOIN alert_grouping.teams AS tm
        ON t.tgt ->> 'type' = 'team' AND tm.project_id = due_escalation_steps.project_id
       AND tm.id = (t.tgt ->> 'id')::uuid
      LEFT JOIN alert_grouping.on_call_schedules AS sc
        ON t.tgt ->> 'type' = 'schedule' AND sc.project_id = due_escalation_steps.project_id
       AND sc.id = (t.tgt ->> 'id')::uuid
      -- Who is on call for a schedule, unless the caller resolves it (see escalate_incidents).
      LEFT JOIN LATERAL (
            SELECT x.user_id
              FROM (SELECT (t.tgt ->> 'id')::uuid AS user_id WHERE t.tgt ->> 'type' = 'user'
                    UNION ALL
                    SELECT m.user_id FROM alert_grouping.team_members AS m
                     WHERE t.tgt ->> 'type' = 'team' AND m.project_id = due_escalation_steps.project_id
                       AND m.team_id = (t.tgt ->> 'id')::uuid
                    UNION ALL
                    SELECT oc.oc FROM alert_grouping.schedule_on_call(
                               due_escalation_steps.project_id, (t.tgt ->> 'id')::uuid, ds.due_at) AS oc(oc)
                     WHERE t.tgt ->> 'type' = 'schedule' AND resolve_schedules) AS x
             WHERE EXISTS (SELECT 1 FROM alert_grouping.project_members AS pm
                            WHERE pm.project_id = due_escalation_steps.project_id
                              AND pm.user_id = x.user_id)) AS rcpt
        ON true;
END
$$;

-- Advances a batch of incidents of one project (read and locked by the caller) through every step due
-- by "at": the notifications (new ones only: the unique key), one timeline entry per step
-- naming who was paged and why, and where each incident's escalation stands. Returns the
-- ids of the notifications written.
CREATE FUNCTION alert_grouping.escalate_incidents(project_id uuid,
                                                  batch alert_grouping.escalation_position[],
                                                  at timestamptz)
RETURNS uuid[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s_incident uuid[];
    s_status alert_grouping.incident_status[];
    s_step integer[];
    s_level integer[];
    s_round integer[];
    s_due timestamptz[];
    s_next timestamptz[];
    s_last boolean[];
    s_label text[];
    s_ord integer[];
    s_type text[];
    s_schedule uuid[];
    s_user uuid[];
    s_channel text[];
    s_reason text[];
    written uuid[];
    stopped record;
    stopped_ids uuid[];
    policy_exists boolean;
    distributed constant boolean := alert_grouping.is_distributed();
BEGIN
    SELECT pg_catalog.array_agg(d.incident_id), pg_catalog.array_agg(d.status), pg_catalog.array_agg(d.step),
           pg_catalog.array_agg(d.level), pg_catalog.array_agg(d.round), pg_catalog.array_agg(d.due_at),
           pg_catalog.array_agg(d.next_at), pg_catalog.array_agg(d.last_step), pg_catalog.array_agg(d.step_label),
           pg_catalog.array_agg(d.target_ord), pg_catalog.array_agg(d.target_type),
           pg_catalog.array_agg(d.schedule_id), pg_catalog.array_agg(d.user_id),
           pg_catalog.array_agg(d.channel), pg_catalog.array_agg(d.reason)
      INTO s_incident, s_status, s_step, s_level, s_round, s_due, s_next, s_last, s_label, s_ord,
           s_type, s_schedule, s_user, s_channel, s_reason
      FROM alert_grouping.due_escalation_steps(escalate_incidents.project_id, batch,
                                               escalate_incidents.at, NOT distributed) AS d;

    -- On Citus, who is on call for the schedule targets (at each step's due time) is resolved
    -- in a query of its own, which reads no table: the query above runs on the project's
    -- shards, where a function reading distributed tables cannot run.
    IF distributed THEN
        SELECT pg_catalog.array_agg(x.incident_id), pg_catalog.array_agg(x.status),
               pg_catalog.array_agg(x.step), pg_catalog.array_agg(x.level),
               pg_catalog.array_agg(x.round), pg_catalog.array_agg(x.due_at),
               pg_catalog.array_agg(x.next_at), pg_catalog.array_agg(x.last_step),
               pg_catalog.array_agg(x.label), pg_catalog.array_agg(x.ord),
               pg_catalog.array_agg(x.target_type), pg_catalog.array_agg(x.who),
               pg_catalog.array_agg(x.channel), pg_catalog.array_agg(x.reason)
          INTO s_incident, s_status, s_step, s_level, s_round, s_due, s_next, s_last, s_label, s_ord,
               s_type, s_user, s_channel, s_reason
          FROM (SELECT r.*, COALESCE(oc.user_id, r.user_id) AS who
                  FROM ROWS FROM (pg_catalog.unnest(s_incident), pg_catalog.unnest(s_status),
                                  pg_catalog.unnest(s_step), pg_catalog.unnest(s_level),
                                  pg_catalog.unnest(s_round), pg_catalog.unnest(s_due),
                                  pg_catalog.unnest(s_next), pg_catalog.unnest(s_last),
                                  pg_catalog.unnest(s_label), pg_catalog.unnest(s_ord),
                                  pg_catalog.unnest(s_type), pg_catalog.unnest(s_schedule),
                                  pg_catalog.unnest(s_user), pg_catalog.unnest(s_channel),
                                  pg_catalog.unnest(s_reason))
                       AS r(incident_id, status, step, level, round, due_at, next_at, last_step, label,
                            ord, target_type, schedule_id, user_id, channel, reason)
                  LEFT JOIN LATERAL (
                        SELECT u.u AS user_id
                          FROM alert_grouping.schedule_on_call(escalate_incidents.project_id,
                                                               r.schedule_id, r.due_at) AS u(u)
                         WHERE r.schedule_id IS NOT NULL
                           AND alert_grouping.is_project_member(escalate_incidents.project_id, u.u)) AS oc
                    ON true) AS x;
    END IF;

    -- One page per person and step, for the first target that reached them.
    WITH page AS (
        INSERT INTO alert_grouping.notifications AS n
            (project_id, incident_id, user_id, level, round, channel, reason, due_at)
        SELECT DISTINCT ON (r.incident_id, r.level, r.round, r.user_id)
               escalate_incidents.project_id, r.incident_id, r.user_id, r.level, r.round, r.channel,
               r.reason, r.due_at
          FROM ROWS FROM (pg_catalog.unnest(s_incident), pg_catalog.unnest(s_level),
                          pg_catalog.unnest(s_round), pg_catalog.unnest(s_user),
                          pg_catalog.unnest(s_channel), pg_catalog.unnest(s_reason),
                          pg_catalog.unnest(s_due), pg_catalog.unnest(s_ord))
               AS r(incident_id, level, round, user_id, channel, reason, due_at, ord)
         WHERE r.user_id IS NOT NULL
         ORDER BY r.incident_id, r.level, r.round, r.user_id, r.ord
        ON CONFLICT (project_id, incident_id, level, round, user_id) DO NOTHING
        RETURNING n.id)
    SELECT pg_catalog.array_agg(page.id) INTO written FROM page;

    -- The timeline: each step, who it paged (once each, as the pages) and why.
    INSERT INTO alert_grouping.incident_updates
        (project_id, id, incident_id, at, status, kind, message, created_by)
    OVERRIDING SYSTEM VALUE
    SELECT escalate_incidents.project_id,
           pg_catalog.nextval('alert_grouping.incident_updates_id_seq'::pg_catalog.regclass),
           g.incident_id, g.due_at, g.status, 'escalated', g.message, NULL
      FROM (SELECT r.incident_id, r.step, pg_catalog.min(r.due_at) AS due_at, pg_catalog.min(r.status) AS status,
                   pg_catalog.format('escalated to %s: %s', pg_catalog.min(r.label),
                       COALESCE(pg_catalog.string_agg(
                                    -- A target that reached nobody, said once for both paths.
                                    CASE WHEN r.user_id IS NOT NULL
                                         THEN pg_catalog.format('paged user %s (%s)', r.user_id, r.reason)
                                         WHEN r.target_type = 'user' THEN r.reason || ': not a member any more'
                                         WHEN r.target_type = 'team' THEN r.reason || ': nobody in it'
                                         ELSE r.reason || ': nobody on call' END,
                                    '; ' ORDER BY r.ord, r.user_id), 'nobody to page')) AS message
              FROM (SELECT DISTINCT ON (x.incident_id, x.step, x.user_id,
                                        CASE WHEN x.user_id IS NULL THEN x.ord END) x.*
                      FROM ROWS FROM (pg_catalog.unnest(s_incident), pg_catalog.unnest(s_step),
                                      pg_catalog.unnest(s_due), pg_catalog.unnest(s_status),
                                      pg_catalog.unnest(s_label), pg_catalog.unnest(s_user),
                                      pg_catalog.unnest(s_reason), pg_catalog.unnest(s_ord),
                                      pg_catalog.unnest(s_type))
                           AS x(incident_id, step, due_at, status, label, user_id, reason, ord, target_type)
                     ORDER BY x.incident_id, x.step, x.user_id,
                              CASE WHEN x.user_id IS NULL THEN x.ord END, x.ord) AS r
             GROUP BY r.incident_id, r.step) AS g
     ORDER BY g.incident_id, g.step;

    -- Where each escalation stands; the others (stopped) let go of their due time.
    UPDATE alert_grouping.incidents AS i
       SET escalation_level = v.level, escalation_round = v.round, next_escalation_at = v.next_at
      FROM (SELECT DISTINCT r.incident_id, r.level, r.round, r.next_at
              FROM ROWS FROM (pg_catalog.unnest(s_incident), pg_catalog.unnest(s_level),
                              pg_catalog.unnest(s_round), pg_catalog.unnest(s_next),
                              pg_catalog.unnest(s_last))
                   AS r(incident_id, level, round, next_at, last_step)
             WHERE r.last_step) AS v
     WHERE i.project_id = escalate_incidents.project_id AND i.id = v.incident_id;
    -- The rest of the batch stopped escalating: acknowledged, resolved, its policy taken away,
    -- or gone (which its timeline says), or left with no step at this position.
    stopped_ids := ARRAY(SELECT b.id FROM pg_catalog.unnest(batch) AS b
                         EXCEPT SELECT pg_catalog.unnest(s_incident));
    IF pg_catalog.cardinality(stopped_ids) = 0 THEN
        RETURN COALESCE(written, '{}');
    END IF;
    FOR stopped IN
        UPDATE alert_grouping.incidents AS i SET next_escalation_at = NULL
         WHERE i.project_id = escalate_incidents.project_id AND i.id = ANY (stopped_ids)
           AND i.next_escalation_at <= escalate_incidents.at
        RETURNING i.id, i.status, i.acknowledged_at, i.escalation_policy_id
    LOOP
        CONTINUE WHEN stopped.acknowledged_at IS NOT NULL OR stopped.status = 'resolved'
                      OR stopped.escalation_policy_id IS NULL;
        -- Read first: on Citus a statement reading a distributed table runs on its shard,
        -- where add_incident_update could not write.
        policy_exists := EXISTS (SELECT 1 FROM alert_grouping.escalation_policies AS p
                                  WHERE p.project_id = escalate_incidents.project_id
                                    AND p.id = stopped.escalation_policy_id);
        PERFORM alert_grouping.add_incident_update(
            escalate_incidents.project_id, stopped.id, escalate_incidents.at, stopped.status,
            'escalation_stopped',
            CASE WHEN policy_exists
                 THEN 'escalation stopped: its policy has no step after where it stood'
                 ELSE pg_catalog.format('escalation stopped: policy %s no longer exists',
                                        stopped.escalation_policy_id) END);
    END LOOP;
    RETURN COALESCE(written, '{}');
END
$$;

-- Every due step of every incident that escalates, as of "at"; a late pass catches up on
-- every step that became due since. Incidents are taken in batches, locked with SKIP LOCKED:
-- two passes at once share the work, and the unique key of notifications holds whatever
-- happens. Each notification written is announced on alert_grouping_notifications (its id).
CREATE FUNCTION alert_grouping.process_escalations(at timestamptz DEFAULT pg_catalog.now())
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    batch_size constant integer := 5000;
    project uuid;
    batch alert_grouping.escalation_position[];
    b_id uuid[];
    b_status alert_grouping.incident_status[];
    b_acknowledged timestamptz[];
    b_policy uuid[];
    b_level integer[];
    b_round integer[];
    b_next timestamptz[];
    written uuid[];
    done uuid[] := '{}';
    total integer := 0;
BEGIN
    IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
        RAISE EXCEPTION 'at must be a finite time' USING ERRCODE = '22023';
    END IF;
    -- The projects with something due, one at a time, earliest first: an ordered probe of the
    -- partial index, which the planner takes even when the statistics think everything is due.
    LOOP
        SELECT i.project_id INTO project FROM alert_grouping.incidents AS i
         WHERE i.next_escalation_at <= process_escalations.at AND i.project_id <> ALL (done)
         ORDER BY i.next_escalation_at
         LIMIT 1;
        EXIT WHEN NOT FOUND;
        done := done || project;
        LOOP
            -- Read with where each escalation stands, so that the steps need not read the
            -- incidents again.
            SELECT pg_catalog.array_agg(x.id), pg_catalog.array_agg(x.status),
                   pg_catalog.array_agg(x.acknowledged_at), pg_catalog.array_agg(x.escalation_policy_id),
                   pg_catalog.array_agg(x.escalation_level), pg_catalog.array_agg(x.escalation_round),
                   pg_catalog.array_agg(x.next_escalation_at)
              INTO b_id, b_status, b_acknowledged, b_policy, b_level, b_round, b_next
              FROM (SELECT i.id, i.status, i.acknowledged_at, i.escalation_policy_id, i.escalation_level,
                           i.escalation_round, i.next_escalation_at
                      FROM alert_grouping.incidents AS i
                     WHERE i.project_id = project
                       AND i.next_escalation_at <= process_escalations.at
                     ORDER BY i.next_escalation_at, i.id
                     LIMIT batch_size
                       FOR NO KEY UPDATE SKIP LOCKED) AS x;
            EXIT WHEN b_id IS NULL;
            batch := ARRAY(SELECT ROW(r.*)::alert_grouping.escalation_position
                             FROM ROWS FROM (pg_catalog.unnest(b_id), pg_catalog.unnest(b_status),
                                             pg_catalog.unnest(b_acknowledged), pg_catalog.unnest(b_policy),
                                             pg_catalog.unnest(b_level), pg_catalog.unnest(b_round),
                                             pg_catalog.unnest(b_next)) AS r);
            written := alert_grouping.escalate_incidents(project, batch, process_escalations.at);
            PERFORM pg_catalog.pg_notify('alert_grouping_notifications', w::text)
               FROM pg_catalog.unnest(written) AS w;
            total := total + pg_catalog.cardinality(written);
            EXIT WHEN pg_catalog.cardinality(batch) < batch_size;
        END LOOP;
    END LOOP;
    RETURN total;
END
$$;

------------------------------------------------------------------------------------------
-- run_maintenance: escalations too
------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION alert_grouping.run_maintenance(at timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep record;
    timeout integer;
    due timestamptz;
    n integer;
    delayed_resolved integer := 0;
    inactive_resolved integer := 0;
    rescheduled integer := 0;
    cleared integer := 0;
    notified integer;
    partitions text[];
BEGIN
    IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
        RAISE EXCEPTION 'at must be a finite time' USING ERRCODE = '22023';
    END IF;
    -- Resolve delays. Each update checks again what it read, so two passes at once act once.
    FOR ep IN SELECT e.project_id, e.id, e.resolve_due_at
                FROM alert_grouping.episodes AS e
               WHERE e.resolve_due_at <= run_maintenance.at
               ORDER BY e.resolve_due_at, e.project_id, e.id
    LOOP
        UPDATE alert_grouping.episodes AS e
           SET state = 'resolved', resolved_at = e.resolve_due_at, resolve_due_at = NULL
         WHERE e.project_id = ep.project_id AND e.id = ep.id
           AND e.resolve_due_at <= run_maintenance.at AND e.state <> 'resolved'
           AND e.active_alert_count = 0;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 1 THEN
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, ep.resolve_due_at, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'all_alerts_resolved', 'after_delay', true));
            delayed_resolved := delayed_resolved + 1;
        ELSE
            UPDATE alert_grouping.episodes AS e SET resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.resolve_due_at <= run_maintenance.at;
        END IF;
    END LOOP;

    -- Inactivity timeouts.
    FOR ep IN SELECT e.project_id, e.id, e.state, e.last_activity_at, e.inactivity_check_at,
                     r.episode_config AS cfg
                FROM alert_grouping.episodes AS e
                LEFT JOIN alert_grouping.grouping_rules AS r
                  ON r.project_id = e.project_id AND r.id = e.rule_id
               WHERE e.inactivity_check_at <= run_maintenance.at
               ORDER BY e.inactivity_check_at, e.project_id, e.id
    LOOP
        timeout := (ep.cfg ->> 'inactivity_timeout_minutes')::integer;
        due := ep.last_activity_at + pg_catalog.make_interval(mins => timeout);
        IF ep.state = 'resolved' OR timeout IS NULL THEN
            UPDATE alert_grouping.episodes AS e SET inactivity_check_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            cleared := cleared + n;
        ELSIF due > run_maintenance.at THEN
            UPDATE alert_grouping.episodes AS e SET inactivity_check_at = due
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            rescheduled := rescheduled + n;
        ELSE
            -- The episode first, so that its member trigger does not resolve it again.
            UPDATE alert_grouping.episodes AS e
               SET state = 'resolved', resolved_at = due, inactivity_check_at = NULL,
                   resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at AND e.state <> 'resolved'
               AND e.last_activity_at = ep.last_activity_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            CONTINUE WHEN n = 0;
            UPDATE alert_grouping.alerts AS a
               SET state = 'resolved', resolved_at = due
             WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state <> 'resolved';
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, due, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'inactivity_timeout',
                                              'inactivity_timeout_minutes', timeout,
                                              'last_activity_at', ep.last_activity_at,
                                              'alerts_resolved', n));
            inactive_resolved := inactive_resolved + 1;
        END IF;
    END LOOP;

    -- After the resolves above, which stop the escalation of their incidents.
    notified := alert_grouping.process_escalations(run_maintenance.at);

    partitions := alert_grouping.create_check_partitions(run_maintenance.at);
    RETURN pg_catalog.jsonb_build_object(
        'at', run_maintenance.at,
        'episodes_resolved_after_delay', delayed_resolved,
        'episodes_resolved_inactive', inactive_resolved,
        'inactivity_checks_moved', rescheduled,
        'inactivity_checks_cleared', cleared,
        'notifications', notified,
        'check_partitions_created', pg_catalog.to_jsonb(partitions));
END
$$;

------------------------------------------------------------------------------------------
-- The background worker's passes and their history
------------------------------------------------------------------------------------------
-- The node's own log of the worker's passes that did something or failed (idle passes are
-- not written). Not a tenant table: on Citus it stays on the coordinator, where the worker runs.
CREATE TABLE alert_grouping.worker_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    ok boolean NOT NULL,
    result jsonb NULL,         -- run_maintenance's answer
    sqlstate text NULL,        -- the error of a failed pass
    error text NULL,
    consecutive_failures integer NOT NULL DEFAULT 0,
    retry_after interval NULL  -- the backoff before the next attempt
);
CREATE INDEX worker_runs_started_idx ON alert_grouping.worker_runs (started_at);

-- Whether run_maintenance's answer says it changed something.
CREATE FUNCTION alert_grouping.maintenance_acted(result jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(result) AS e
                    WHERE e.key <> 'at' AND e.value NOT IN ('0'::jsonb, '[]'::jsonb, 'null'::jsonb));
$$;

-- One pass of the worker, in the worker's transaction. On a Citus worker node it does nothing:
-- the coordinator's pass reaches every project.
CREATE FUNCTION alert_grouping.worker_pass(started_at timestamptz, history_days integer DEFAULT 90)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    IF alert_grouping.on_citus_worker() THEN
        RETURN NULL;
    END IF;
    result := alert_grouping.run_maintenance(pg_catalog.now());
    IF alert_grouping.maintenance_acted(result) THEN
        INSERT INTO alert_grouping.worker_runs (started_at, ok, result)
        VALUES (worker_pass.started_at, true, result);
    END IF;
    DELETE FROM alert_grouping.worker_runs AS w
     WHERE w.started_at < pg_catalog.now() - pg_catalog.make_interval(days => history_days);
    RETURN result;
END
$$;

-- A failed pass, recorded by the worker in a transaction of its own after the pass rolled back.
CREATE FUNCTION alert_grouping.record_worker_failure(started_at timestamptz, sqlstate text,
                                                     error text, consecutive_failures integer,
                                                     retry_after interval)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO alert_grouping.worker_runs
        (started_at, ok, sqlstate, error, consecutive_failures, retry_after)
    VALUES (started_at, false, sqlstate, error, consecutive_failures, retry_after);
$$;

------------------------------------------------------------------------------------------
-- Row-level security
------------------------------------------------------------------------------------------
-- Viewers (and so responders) read schedules, policies and who was paged; admins write
-- policies, schedules and overrides; a delivery process marks notifications delivered as a
-- responder.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            ('escalation_policies', 'admin', 'admin', 'admin'),
            ('on_call_schedules', 'admin', 'admin', 'admin'),
            ('on_call_overrides', 'admin', 'admin', 'admin'),
            ('notifications', 'admin', 'responder', 'admin')) AS v(tbl, ins, upd, del)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE alert_grouping.%I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR SELECT '
            'USING (project_id = ANY (alert_grouping.member_project_array(''viewer'')))',
            t.tbl || '_select', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR INSERT '
            'WITH CHECK (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_insert', t.tbl, t.ins);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR UPDATE '
            'USING (project_id = ANY (alert_grouping.member_project_array(%L))) '
            'WITH CHECK (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_update', t.tbl, t.upd, t.upd);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR DELETE '
            'USING (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_delete', t.tbl, t.del);
    END LOOP;
END
$$;

------------------------------------------------------------------------------------------
-- What a distributed database gets from distribute() instead of this script
------------------------------------------------------------------------------------------
-- The new tables' keys to projects (as 0.5's, see add_0_5_triggers_and_keys).
CREATE FUNCTION alert_grouping.add_0_6_keys() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['on_call_schedules', 'escalation_policies'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                        WHERE c.conrelid = pg_catalog.format('alert_grouping.%I', t)::pg_catalog.regclass
                          AND c.contype = 'f'
                          AND c.confrelid = 'alert_grouping.projects'::pg_catalog.regclass) THEN
            EXECUTE pg_catalog.format(
                'ALTER TABLE alert_grouping.%I ADD FOREIGN KEY (project_id) '
                'REFERENCES alert_grouping.projects (id) ON DELETE CASCADE', t);
        END IF;
    END LOOP;
END
$$;

DO $$
BEGIN
    IF NOT alert_grouping.is_distributed() THEN
        PERFORM alert_grouping.add_0_6_keys();
    END IF;
END
$$;

-- pg_dump keeps their rows.
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.on_call_schedules', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.on_call_overrides', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.escalation_policies', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.notifications', '');

------------------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------------------
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
        'alert_grouping.episode_owner_teams, alert_grouping.episode_labels, '
        'alert_grouping.monitors, alert_grouping.check_results, '
        'alert_grouping.maintenance_windows, alert_grouping.incidents, '
        'alert_grouping.incident_updates, alert_grouping.escalation_policies, '
        'alert_grouping.on_call_schedules, alert_grouping.on_call_overrides TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON alert_grouping.project_counters, alert_grouping.engine_errors, '
        'alert_grouping.feature_flags, alert_grouping.episode_members, '
        'alert_grouping.daily_stats TO %I', role);
    EXECUTE pg_catalog.format('GRANT SELECT, UPDATE ON alert_grouping.projects TO %I', role);
    -- The outbox is written by the escalation passes; readers mark what they delivered.
    EXECUTE pg_catalog.format(
        'GRANT SELECT, UPDATE (delivered_at) ON alert_grouping.notifications TO %I', role);
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

CREATE OR REPLACE FUNCTION alert_grouping.granted_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'current_user_id()', 'member_project_ids(text)', 'has_project_role(uuid,text)',
        'flag_enabled(text,uuid)', 'fingerprint(uuid,text,jsonb)', 'dedup_key_fingerprint(text)',
        'validate_rule(jsonb,jsonb,jsonb)', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'regroup(uuid,uuid,timestamptz,timestamptz)', 'ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)',
        'on_call_users(uuid,uuid,timestamptz)']
$$;

------------------------------------------------------------------------------------------
-- distribute(): the new tables too
------------------------------------------------------------------------------------------
-- As in 0.5, with schedules, their overrides, escalation policies and notifications
-- co-located with alerts, and on_call_users distributed. worker_runs stays on each node.
CREATE OR REPLACE FUNCTION alert_grouping.distribute() RETURNS void
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
        'engine_errors', 'monitors', 'check_results', 'maintenance_windows', 'incidents',
        'incident_updates', 'on_call_schedules', 'on_call_overrides', 'escalation_policies',
        'notifications'];
    functions constant text[] := ARRAY['ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'regroup(uuid,uuid,timestamptz,timestamptz)',
        'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)',
        'on_call_users(uuid,uuid,timestamptz)'];
    already boolean;
    work text[];
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
    -- Distributed by an earlier version: the tenant tables added since are distributed now.
    already := alert_grouping.is_distributed();
    work := ARRAY(SELECT u.t FROM pg_catalog.unnest(tenant_tables) WITH ORDINALITY AS u(t, i)
                   WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                                      WHERE p.logicalrelid = pg_catalog.format('alert_grouping.%I', u.t)::pg_catalog.regclass)
                   ORDER BY u.i);
    IF pg_catalog.cardinality(work) = 0 THEN
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
     WHERE c.connamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.contype = 'f'
       AND c.conparentid = 0  -- a partition's copy comes and goes with its parent's
       AND (NOT already OR c.conrelid::pg_catalog.regclass::text
                           IN (SELECT 'alert_grouping.' || pg_catalog.quote_ident(w) FROM pg_catalog.unnest(work) AS w));
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
      FROM alert_grouping.project_members AS m WHERE m.db_role IS NOT NULL AND NOT already;
    CREATE TEMPORARY TABLE alert_grouping_app_roles ON COMMIT DROP AS
    SELECT ar.role::text AS role_name, ar.granted_at FROM alert_grouping.application_roles AS ar
     WHERE NOT already;

    IF NOT already THEN
        FOREACH t IN ARRAY reference_tables LOOP
            PERFORM pg_catalog.create_reference_table(pg_catalog.format('alert_grouping.%I', t));
        END LOOP;
        PERFORM pg_catalog.create_distributed_table('alert_grouping.alerts', 'project_id');
    END IF;
    FOREACH t IN ARRAY work LOOP
        CONTINUE WHEN t = 'alerts';
        PERFORM pg_catalog.create_distributed_table(pg_catalog.format('alert_grouping.%I', t),
                                                    'project_id',
                                                    colocate_with => 'alert_grouping.alerts');
    END LOOP;

    FOR fk IN SELECT * FROM pg_temp.alert_grouping_fks ORDER BY oid LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.def);
    END LOOP;
    DROP TABLE pg_temp.alert_grouping_fks;
    -- Updated while distributed: what the update left to this function.
    PERFORM alert_grouping.add_0_5_triggers_and_keys();
    PERFORM alert_grouping.add_0_6_keys();

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
        '               (''alert_grouping.engine_errors_id_seq''::pg_catalog.regclass), '
        '               (''alert_grouping.incident_updates_id_seq''::pg_catalog.regclass)) AS s(seq)');

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
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
                AND a.grantee <> 0 AND a.grantee <> c.relowner
                AND EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS d WHERE d.logicalrelid = c.oid)
             UNION ALL
             SELECT pg_catalog.format('GRANT %s (%I) ON TABLE %s TO %s', a.privilege_type,
                                      att.attname, c.oid::pg_catalog.regclass,
                                      a.grantee::pg_catalog.regrole)
               FROM pg_catalog.pg_class AS c
               JOIN pg_catalog.pg_attribute AS att ON att.attrelid = c.oid,
                    pg_catalog.aclexplode(att.attacl) AS a
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
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

-- Internal: never executable by PUBLIC, except the check constraint's and the policies', and
-- what the validation triggers and on_call_users call as the role that writes or reads (each
-- reads through that role's policies, or reads nothing).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    alert_grouping.membership_is_valid(uuid, text, timestamptz, uuid, numeric),
    alert_grouping.member_project_array(text),
    alert_grouping.is_project_member(uuid, uuid),
    alert_grouping.schedule_time(text, text, text),
    alert_grouping.within_restrictions(jsonb, timestamp),
    alert_grouping.layer_on_call(jsonb, text, timestamptz),
    alert_grouping.schedule_on_call(uuid, uuid, timestamptz) TO PUBLIC;

-- Roles granted access before this version get the new tables and functions too.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT ro.rolname
               FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a,
                    pg_catalog.pg_roles AS ro
              WHERE n.nspname = 'alert_grouping' AND a.privilege_type = 'USAGE'
                AND a.grantee <> n.nspowner AND ro.oid = a.grantee
              ORDER BY ro.rolname
    LOOP
        PERFORM alert_grouping.grant_access(r.rolname);
    END LOOP;
END
$$;

-- grant_access above recorded initial privileges for the relations, which a fresh install
-- has none of: they are the roles' own grants.
DELETE FROM pg_catalog.pg_init_privs AS ip
 WHERE ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.privtype = 'e'
   AND ip.objoid IN (SELECT d.objid FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                        AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                        AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                           WHERE e.extname = 'alert_grouping')
                        AND d.deptype = 'e');

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

------------------------------------------------------------------------------------------
-- Version 0.7: sql/alert_grouping--0.6--0.7.sql as it was released
------------------------------------------------------------------------------------------

-- 0.7: uptime, time-weighted to the second, with incremental hourly and daily rollups fed by
-- an arrival queue; status page components and their history; layered retention (raw checks
-- dropped by whole partitions, once rolled up); metrics (the stats view, Prometheus text,
-- event counters in shared memory when preloaded).

------------------------------------------------------------------------------------------
-- Uptime from raw check results
------------------------------------------------------------------------------------------
CREATE FUNCTION alert_grouping.multirange_seconds(m tstzmultirange) RETURNS numeric
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.sum(EXTRACT(EPOCH FROM pg_catalog.upper(r) - pg_catalog.lower(r))), 0)
      FROM pg_catalog.unnest(m) AS r;
$$;

-- What uptime_seconds and uptime check first: a finite range, and the monitor (as the caller
-- reads it). Returns how long a check of the monitor holds: two check intervals.
CREATE FUNCTION alert_grouping.uptime_hold(project_id uuid, monitor_id uuid, from_ts timestamptz,
                                           to_ts timestamptz)
RETURNS interval
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hold interval;
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL OR NOT pg_catalog.isfinite(from_ts) OR NOT pg_catalog.isfinite(to_ts)
       OR to_ts < from_ts THEN
        RAISE EXCEPTION 'from_ts and to_ts must be finite times, from_ts not after to_ts'
            USING ERRCODE = '22023';
    END IF;
    SELECT 2 * m.check_interval INTO hold FROM alert_grouping.monitors AS m
     WHERE m.project_id = uptime_hold.project_id AND m.id = uptime_hold.monitor_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'monitor % not found in project %', monitor_id, project_id
            USING ERRCODE = 'P0002';
    END IF;
    RETURN hold;
END
$$;

-- Time-weighted uptime of a monitor over [from_ts, to_ts), from its raw check results: each
-- check's state holds from its checked_at until the next check, at most two check intervals;
-- time no check covers is unknown; time in a maintenance window of the monitor is
-- maintenance, whatever the checks said. Exact to the microsecond (seconds as numeric).
CREATE FUNCTION alert_grouping.uptime_seconds(project_id uuid, monitor_id uuid,
                                              from_ts timestamptz, to_ts timestamptz,
                                              OUT up_seconds numeric, OUT down_seconds numeric,
                                              OUT maintenance_seconds numeric,
                                              OUT unknown_seconds numeric,
                                              OUT checks integer, OUT failures integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hold interval;
    span tstzmultirange;
    maintenance tstzmultirange;
    up tstzmultirange;
    down tstzmultirange;
BEGIN
    hold := alert_grouping.uptime_hold(project_id, monitor_id, from_ts, to_ts);
    span := pg_catalog.tstzmultirange(pg_catalog.tstzrange(from_ts, to_ts, '[)'));
    SELECT COALESCE(pg_catalog.range_agg(pg_catalog.tstzrange(w.starts_at, w.ends_at, '[)')),
                    '{}'::tstzmultirange) * span
      INTO maintenance
      FROM alert_grouping.maintenance_windows AS w
     WHERE w.project_id = uptime_seconds.project_id
       AND (w.monitor_ids IS NULL OR uptime_seconds.monitor_id = ANY (w.monitor_ids))
       AND w.starts_at < to_ts AND w.ends_at > from_ts;
    -- The last check before the range (its state may hold into it) and the checks in it; of
    -- two checks at the same time, a failure wins.
    WITH c AS (
        (SELECT r.checked_at, r.ok FROM alert_grouping.check_results AS r
          WHERE r.project_id = uptime_seconds.project_id AND r.monitor_id = uptime_seconds.monitor_id
            AND r.checked_at < from_ts AND r.checked_at >= from_ts - hold
          ORDER BY r.checked_at DESC, r.ok LIMIT 1)
        UNION ALL
        (SELECT r.checked_at, r.ok FROM alert_grouping.check_results AS r
          WHERE r.project_id = uptime_seconds.project_id AND r.monitor_id = uptime_seconds.monitor_id
            AND r.checked_at >= from_ts AND r.checked_at < to_ts)),
    held AS (
        SELECT c.ok, c.checked_at >= from_ts AS counted,
               pg_catalog.tstzrange(c.checked_at,
                                    LEAST(pg_catalog.lead(c.checked_at) OVER w, c.checked_at + hold),
                                    '[)') AS r
          FROM c
        WINDOW w AS (ORDER BY c.checked_at, c.ok DESC))
    SELECT COALESCE(pg_catalog.range_agg(h.r) FILTER (WHERE h.ok), '{}'::tstzmultirange) * span - maintenance,
           COALESCE(pg_catalog.range_agg(h.r) FILTER (WHERE NOT h.ok), '{}'::tstzmultirange) * span - maintenance,
           pg_catalog.count(*) FILTER (WHERE h.counted),
           pg_catalog.count(*) FILTER (WHERE h.counted AND NOT h.ok)
      INTO up, down, checks, failures
      FROM held AS h;
    up_seconds := alert_grouping.multirange_seconds(up);
    down_seconds := alert_grouping.multirange_seconds(down);
    maintenance_seconds := alert_grouping.multirange_seconds(maintenance);
    unknown_seconds := alert_grouping.multirange_seconds(span - up - down - maintenance);
END
$$;


------------------------------------------------------------------------------------------
-- Rollups
------------------------------------------------------------------------------------------
-- Hourly and daily buckets of uptime_seconds, exact: a bucket holds what uptime_seconds gives
-- for its hour (or day) from the raw data as it was when the bucket was written.
CREATE TABLE alert_grouping.uptime_rollups (
    project_id uuid NOT NULL,
    monitor_id uuid NOT NULL,
    granularity text NOT NULL CHECK (granularity IN ('hour', 'day')),
    bucket_start timestamptz NOT NULL,
    up_seconds numeric NOT NULL,
    down_seconds numeric NOT NULL,
    maintenance_seconds numeric NOT NULL,
    unknown_seconds numeric NOT NULL,
    checks integer NOT NULL,
    failures integer NOT NULL,
    rolled_up_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, monitor_id, granularity, bucket_start)
);

-- Per monitor: every hour before rolled_up_until has its hourly bucket.
CREATE TABLE alert_grouping.uptime_rollup_state (
    project_id uuid NOT NULL,
    monitor_id uuid NOT NULL,
    rolled_up_until timestamptz NOT NULL,
    PRIMARY KEY (project_id, monitor_id)
);

-- What arrived since the last rollup: the span of time whose uptime it may change (the check
-- results of a statement, per monitor; a maintenance window written or removed, monitor_id
-- NULL for all the project's monitors). Written in the writer's transaction, so nothing
-- committed is missed, whatever its checked_at.
CREATE TABLE alert_grouping.uptime_changes (
    project_id uuid NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    monitor_id uuid NULL,
    from_ts timestamptz NOT NULL,
    to_ts timestamptz NOT NULL,
    PRIMARY KEY (project_id, id)
);

CREATE FUNCTION alert_grouping.check_results_changed() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    proj uuid;
    mons uuid[];
    froms timestamptz[];
    tos timestamptz[];
BEGIN
    -- A restore brings the queue (and the history) as they were.
    IF COALESCE(pg_catalog.current_setting('alert_grouping.restoring', true), 'off') = 'on' THEN
        RETURN NULL;
    END IF;
    -- Per project, read from the statement's rows first: on Citus this trigger runs on a
    -- shard, whose statements must name one project (and take ids from the sequence by name).
    FOR proj, mons, froms, tos IN
        SELECT n.project_id, pg_catalog.array_agg(n.monitor_id), pg_catalog.array_agg(n.f),
               pg_catalog.array_agg(n.t)
          FROM (SELECT r.project_id, r.monitor_id, pg_catalog.min(r.checked_at) AS f,
                       pg_catalog.max(r.checked_at) AS t
                  FROM changed_rows AS r GROUP BY r.project_id, r.monitor_id) AS n
         GROUP BY n.project_id
    LOOP
        INSERT INTO alert_grouping.uptime_changes (project_id, id, monitor_id, from_ts, to_ts)
        OVERRIDING SYSTEM VALUE
        SELECT proj, pg_catalog.nextval('alert_grouping.uptime_changes_id_seq'::pg_catalog.regclass),
               v.m, v.f, v.t
          FROM ROWS FROM (pg_catalog.unnest(mons), pg_catalog.unnest(froms), pg_catalog.unnest(tos)) AS v(m, f, t);
    END LOOP;
    RETURN NULL;
END
$$;

-- (its trigger: add_0_7_triggers_and_keys, at the end)

CREATE FUNCTION alert_grouping.maintenance_windows_changed() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A restore brings the queue (and the history) as they were.
    IF COALESCE(pg_catalog.current_setting('alert_grouping.restoring', true), 'off') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO alert_grouping.uptime_changes (project_id, id, monitor_id, from_ts, to_ts)
        OVERRIDING SYSTEM VALUE
        SELECT OLD.project_id, pg_catalog.nextval('alert_grouping.uptime_changes_id_seq'::pg_catalog.regclass),
               m, OLD.starts_at, OLD.ends_at
          FROM pg_catalog.unnest(COALESCE(OLD.monitor_ids, ARRAY[NULL::uuid])) AS m;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO alert_grouping.uptime_changes (project_id, id, monitor_id, from_ts, to_ts)
        OVERRIDING SYSTEM VALUE
        SELECT NEW.project_id, pg_catalog.nextval('alert_grouping.uptime_changes_id_seq'::pg_catalog.regclass),
               m, NEW.starts_at, NEW.ends_at
          FROM pg_catalog.unnest(COALESCE(NEW.monitor_ids, ARRAY[NULL::uuid])) AS m;
    END IF;
    RETURN NULL;
END
$$;

-- (its trigger: add_0_7_triggers_and_keys, at the end)

-- The hour (or day) a time falls in, in UTC.
CREATE FUNCTION alert_grouping.bucket_floor(t timestamptz, granularity text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.date_bin(CASE granularity WHEN 'hour' THEN interval '1 hour' WHEN 'day' THEN interval '1 day' END,
                               t, timestamptz '2000-01-01 00:00:00+00');
$$;

-- The hourly buckets of a project's monitors from the raw data, each monitor over its own
-- [from_ts, to_ts) of whole hours: what uptime_seconds gives for each hour, computed for all of
-- them at once (each check's held time cut at the hours it spans).
CREATE FUNCTION alert_grouping.hourly_uptime(project_id uuid, monitor_ids uuid[],
                                             from_ts timestamptz[], to_ts timestamptz[])
RETURNS TABLE (monitor_id uuid, bucket_start timestamptz, up_seconds numeric,
               down_seconds numeric, maintenance_seconds numeric, unknown_seconds numeric,
               checks integer, failures integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH span AS (
        SELECT v.m AS monitor_id, v.f, v.t, 2 * mo.check_interval AS hold,
               (SELECT pg_catalog.range_agg(pg_catalog.tstzrange(w.starts_at, w.ends_at, '[)'))
                  FROM alert_grouping.maintenance_windows AS w
                 WHERE w.project_id = hourly_uptime.project_id
                   AND (w.monitor_ids IS NULL OR v.m = ANY (w.monitor_ids))
                   AND w.starts_at < v.t AND w.ends_at > v.f) AS maintenance
          FROM ROWS FROM (pg_catalog.unnest(monitor_ids), pg_catalog.unnest(from_ts),
                          pg_catalog.unnest(to_ts)) AS v(m, f, t)
          JOIN alert_grouping.monitors AS mo
            ON mo.project_id = hourly_uptime.project_id AND mo.id = v.m
         WHERE v.f < v.t),
    -- The last check before each span (its state may hold into it) and the checks in it.
    c AS (
        SELECT sp.monitor_id, sp.f, sp.t, sp.hold, sp.maintenance, b.checked_at, b.ok, false AS counted
          FROM span AS sp
          CROSS JOIN LATERAL (
              SELECT r.checked_at, r.ok FROM alert_grouping.check_results AS r
               WHERE r.project_id = hourly_uptime.project_id AND r.monitor_id = sp.monitor_id
                 AND r.checked_at < sp.f AND r.checked_at >= sp.f - sp.hold
               ORDER BY r.checked_at DESC, r.ok LIMIT 1) AS b
        UNION ALL
        SELECT sp.monitor_id, sp.f, sp.t, sp.hold, sp.maintenance, r.checked_at, r.ok, true
          FROM span AS sp
          JOIN alert_grouping.check_results AS r
            ON r.project_id = hourly_uptime.project_id AND r.monitor_id = sp.monitor_id
           AND r.checked_at >= sp.f AND r.checked_at < sp.t),
    -- What each check holds within its span; of two checks at the same time, the failure
    -- (the success before it holds nothing).
    held AS (
        SELECT c.monitor_id, c.f, c.maintenance, c.ok, c.counted, c.checked_at,
               GREATEST(c.checked_at, c.f) AS hs,
               LEAST(pg_catalog.lead(c.checked_at) OVER w, c.checked_at + c.hold, c.t) AS he
          FROM c
        WINDOW w AS (PARTITION BY c.monitor_id, c.f ORDER BY c.checked_at, c.ok DESC)),
    -- Cut at the hours it spans (most lie in one). The hour it starts in is bucket_floor's,
    -- written out: a function with settings of its own is not inlined, and this runs once a
    -- check. Durations in whole microseconds (the float8 epoch of an interval under a few
    -- centuries is exact once rounded), summed as integers.
    pieces AS (
        SELECT h.monitor_id, h.f, h.maintenance, h.ok, h.counted, h.hs, h.he, h.hb,
               pg_catalog.generate_series(h.hb, CASE WHEN h.he <= h.hb + interval '1 hour' THEN h.hb
                                                     ELSE h.he - interval '1 microsecond' END,
                                          interval '1 hour') AS bucket
          FROM (SELECT held.*, pg_catalog.date_bin(interval '1 hour', held.hs,
                                                   timestamptz '2000-01-01 00:00:00+00') AS hb
                  FROM held) AS h),
    counted AS (
        SELECT p.monitor_id, p.f, p.bucket, p.ok, p.counted AND p.bucket = p.hb AS counted,
               CASE WHEN p.maintenance IS NULL
                    THEN pg_catalog.round(pg_catalog.date_part('epoch',
                             LEAST(p.he, p.bucket + interval '1 hour') - GREATEST(p.hs, p.bucket)) * 1000000)::bigint
                    ELSE (alert_grouping.multirange_seconds(
                              pg_catalog.tstzmultirange(pg_catalog.tstzrange(GREATEST(p.hs, p.bucket),
                                                                             LEAST(p.he, p.bucket + interval '1 hour'), '[)'))
                              - p.maintenance) * 1000000)::bigint END AS us
          FROM pieces AS p),
    per_hour AS (
        SELECT p.monitor_id, p.f, p.bucket,
               pg_catalog.round(COALESCE(pg_catalog.sum(p.us) FILTER (WHERE p.ok), 0)::numeric / 1000000, 6) AS up,
               pg_catalog.round(COALESCE(pg_catalog.sum(p.us) FILTER (WHERE NOT p.ok), 0)::numeric / 1000000, 6) AS down,
               pg_catalog.count(*) FILTER (WHERE p.counted) AS checks,
               pg_catalog.count(*) FILTER (WHERE p.counted AND NOT p.ok) AS failures
          FROM counted AS p
         GROUP BY p.monitor_id, p.f, p.bucket)
    SELECT sp.monitor_id, hr, COALESCE(ph.up, 0), COALESCE(ph.down, 0), hm.maint,
           3600 - COALESCE(ph.up, 0) - COALESCE(ph.down, 0) - hm.maint,
           COALESCE(ph.checks, 0)::integer, COALESCE(ph.failures, 0)::integer
      FROM span AS sp
     CROSS JOIN LATERAL pg_catalog.generate_series(sp.f, sp.t - interval '1 hour', interval '1 hour') AS hr
     CROSS JOIN LATERAL (SELECT CASE WHEN sp.maintenance IS NULL THEN 0::numeric
                                     ELSE alert_grouping.multirange_seconds(
                                              sp.maintenance * pg_catalog.tstzmultirange(
                                                  pg_catalog.tstzrange(hr, hr + interval '1 hour', '[)'))) END AS maint) AS hm
      LEFT JOIN per_hour AS ph ON ph.monitor_id = sp.monitor_id AND ph.f = sp.f AND ph.bucket = hr;
END
$$;

-- Writes the hourly buckets of a project's monitors, each over its own [from_ts, to_ts) (whole
-- hours), from the raw data, and the daily buckets of the days they fall in. Returns the
-- buckets written.
CREATE FUNCTION alert_grouping.write_rollups(project_id uuid, monitor_ids uuid[],
                                             from_ts timestamptz[], to_ts timestamptz[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    hours integer;
    days integer;
    b_monitor uuid[];
    b_start timestamptz[];
    b_up numeric[];
    b_down numeric[];
    b_maintenance numeric[];
    b_unknown numeric[];
    b_checks integer[];
    b_failures integer[];
BEGIN
    IF monitor_ids IS NULL OR pg_catalog.cardinality(monitor_ids) = 0 THEN
        RETURN 0;
    END IF;
    -- Computed first, then written: on Citus a statement may not read the shards it writes
    -- through a function.
    SELECT pg_catalog.array_agg(s.monitor_id), pg_catalog.array_agg(s.bucket_start),
           pg_catalog.array_agg(s.up_seconds), pg_catalog.array_agg(s.down_seconds),
           pg_catalog.array_agg(s.maintenance_seconds), pg_catalog.array_agg(s.unknown_seconds),
           pg_catalog.array_agg(s.checks), pg_catalog.array_agg(s.failures)
      INTO b_monitor, b_start, b_up, b_down, b_maintenance, b_unknown, b_checks, b_failures
      FROM alert_grouping.hourly_uptime(write_rollups.project_id, monitor_ids, from_ts, to_ts) AS s;
    IF b_monitor IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO alert_grouping.uptime_rollups AS u
        (project_id, monitor_id, granularity, bucket_start, up_seconds, down_seconds,
         maintenance_seconds, unknown_seconds, checks, failures)
    SELECT write_rollups.project_id, v.m, 'hour', v.h, v.up, v.down, v.maintenance,
           v.unknown, v.checks, v.failures
      FROM ROWS FROM (pg_catalog.unnest(b_monitor), pg_catalog.unnest(b_start), pg_catalog.unnest(b_up),
                      pg_catalog.unnest(b_down), pg_catalog.unnest(b_maintenance),
                      pg_catalog.unnest(b_unknown), pg_catalog.unnest(b_checks),
                      pg_catalog.unnest(b_failures))
           AS v(m, h, up, down, maintenance, unknown, checks, failures)
    ON CONFLICT (project_id, monitor_id, granularity, bucket_start) DO UPDATE
       SET up_seconds = EXCLUDED.up_seconds, down_seconds = EXCLUDED.down_seconds,
           maintenance_seconds = EXCLUDED.maintenance_seconds,
           unknown_seconds = EXCLUDED.unknown_seconds, checks = EXCLUDED.checks,
           failures = EXCLUDED.failures, rolled_up_at = EXCLUDED.rolled_up_at;
    GET DIAGNOSTICS hours = ROW_COUNT;
    -- A day's bucket: the sum of its hours rolled up so far.
    INSERT INTO alert_grouping.uptime_rollups AS u
        (project_id, monitor_id, granularity, bucket_start, up_seconds, down_seconds,
         maintenance_seconds, unknown_seconds, checks, failures)
    SELECT write_rollups.project_id, d.m, 'day', d.day, t.up, t.down, t.maintenance, t.unknown,
           t.checks, t.failures
      FROM (SELECT DISTINCT v.m, pg_catalog.date_bin(interval '1 day', v.h, timestamptz '2000-01-01 00:00:00+00') AS day
              FROM ROWS FROM (pg_catalog.unnest(b_monitor), pg_catalog.unnest(b_start)) AS v(m, h)) AS d
     CROSS JOIN LATERAL (
           SELECT pg_catalog.sum(r.up_seconds) AS up, pg_catalog.sum(r.down_seconds) AS down,
                  pg_catalog.sum(r.maintenance_seconds) AS maintenance,
                  pg_catalog.sum(r.unknown_seconds) AS unknown, pg_catalog.sum(r.checks) AS checks,
                  pg_catalog.sum(r.failures) AS failures
             FROM alert_grouping.uptime_rollups AS r
            WHERE r.project_id = write_rollups.project_id
              -- As row comparisons, which only the primary key serves: right after a first
              -- rollup the statistics may say the table is empty, and another index look cheap.
              AND (r.monitor_id, r.granularity, r.bucket_start) >= (d.m, 'hour', d.day)
              AND (r.monitor_id, r.granularity, r.bucket_start) < (d.m, 'hour', d.day + interval '1 day')) AS t
    ON CONFLICT (project_id, monitor_id, granularity, bucket_start) DO UPDATE
       SET up_seconds = EXCLUDED.up_seconds, down_seconds = EXCLUDED.down_seconds,
           maintenance_seconds = EXCLUDED.maintenance_seconds,
           unknown_seconds = EXCLUDED.unknown_seconds, checks = EXCLUDED.checks,
           failures = EXCLUDED.failures, rolled_up_at = EXCLUDED.rolled_up_at;
    GET DIAGNOSTICS days = ROW_COUNT;
    RETURN hours + days;
END
$$;

-- Brings the rollups up to date as of "at": the hours that changed since the last run (late
-- results correct the buckets they fall in, and those their state carries into), then the
-- hours completed since (every monitor with results). Reads only what arrived since the last
-- run and the hours it touches; a second run with nothing new does nothing and returns 0.
-- Returns the buckets written.
-- One project's part of rollup_uptime (below).
CREATE FUNCTION alert_grouping.rollup_project_uptime(project_id uuid, target timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    -- The hours of a monitor rolled up in one statement: a week (memory stays bounded
    -- however long the rollups have waited).
    step constant interval := interval '7 days';
    batch constant integer := 1000;
    fresh uuid[];
    mons uuid[];
    froms timestamptz[];
    tos timestamptz[];
    written integer := 0;
BEGIN
    -- Monitors whose first results arrived: their rollups start at their first result's hour
    -- (the completed hours below), so the changes pass leaves them out.
    WITH added AS (
        INSERT INTO alert_grouping.uptime_rollup_state AS s (project_id, monitor_id, rolled_up_until)
        SELECT c.project_id, c.monitor_id, alert_grouping.bucket_floor(first_check.t, 'hour')
          FROM (SELECT DISTINCT c.project_id, c.monitor_id FROM alert_grouping.uptime_changes AS c
                 WHERE c.project_id = rollup_project_uptime.project_id AND c.monitor_id IS NOT NULL) AS c
         CROSS JOIN LATERAL (SELECT pg_catalog.min(r.checked_at) AS t FROM alert_grouping.check_results AS r
                              WHERE r.project_id = c.project_id AND r.monitor_id = c.monitor_id) AS first_check
         WHERE first_check.t IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM alert_grouping.uptime_rollup_state AS x
                            WHERE x.project_id = c.project_id AND x.monitor_id = c.monitor_id)
        ON CONFLICT (project_id, monitor_id) DO NOTHING
        RETURNING s.monitor_id)
    SELECT pg_catalog.array_agg(a.monitor_id) INTO fresh FROM added AS a;

    -- What changed in hours already rolled up: those hours again, each monitor's overlapping
    -- spans once. A change names a monitor, or (a maintenance window of all of them) none.
    WITH taken AS (DELETE FROM alert_grouping.uptime_changes AS c
                    WHERE c.project_id = rollup_project_uptime.project_id RETURNING c.*),
    targets AS (
        SELECT t.monitor_id, t.from_ts, t.to_ts FROM taken AS t WHERE t.monitor_id IS NOT NULL
        UNION ALL
        SELECT s.monitor_id, t.from_ts, t.to_ts
          FROM taken AS t JOIN alert_grouping.uptime_rollup_state AS s
            ON s.project_id = rollup_project_uptime.project_id
         WHERE t.monitor_id IS NULL),
    spans AS (
        SELECT s.monitor_id,
               alert_grouping.bucket_floor(t.from_ts - 2 * m.check_interval, 'hour') AS from_hour,
               LEAST(alert_grouping.bucket_floor(t.to_ts + 2 * m.check_interval, 'hour') + interval '1 hour',
                     s.rolled_up_until) AS to_hour
          FROM targets AS t
          JOIN alert_grouping.uptime_rollup_state AS s
            ON s.project_id = rollup_project_uptime.project_id AND s.monitor_id = t.monitor_id
          JOIN alert_grouping.monitors AS m
            ON m.project_id = rollup_project_uptime.project_id AND m.id = t.monitor_id
         WHERE fresh IS NULL OR NOT t.monitor_id = ANY (fresh)),
    merged AS (
        SELECT g.monitor_id, r FROM (
            SELECT sp.monitor_id, pg_catalog.range_agg(pg_catalog.tstzrange(sp.from_hour, sp.to_hour, '[)')) AS hours
              FROM spans AS sp WHERE sp.from_hour < sp.to_hour
             GROUP BY sp.monitor_id) AS g,
            pg_catalog.unnest(g.hours) AS r)
    SELECT pg_catalog.array_agg(x.monitor_id), pg_catalog.array_agg(pg_catalog.lower(x.r)),
           pg_catalog.array_agg(pg_catalog.upper(x.r))
      INTO mons, froms, tos FROM merged AS x;
    written := written + alert_grouping.write_rollups(project_id, mons, froms, tos);

    -- A monitor deleted since has its state let go.
    DELETE FROM alert_grouping.uptime_rollup_state AS s
     WHERE s.project_id = rollup_project_uptime.project_id
       AND NOT EXISTS (SELECT 1 FROM alert_grouping.monitors AS m
                        WHERE m.project_id = rollup_project_uptime.project_id AND m.id = s.monitor_id);

    -- The hours completed since the last run, a batch of monitors and up to a week at a time.
    LOOP
        SELECT pg_catalog.array_agg(s.monitor_id), pg_catalog.array_agg(s.rolled_up_until),
               pg_catalog.array_agg(LEAST(s.rolled_up_until + step, target))
          INTO mons, froms, tos
          FROM (SELECT s.monitor_id, s.rolled_up_until FROM alert_grouping.uptime_rollup_state AS s
                 WHERE s.project_id = rollup_project_uptime.project_id AND s.rolled_up_until < target
                 ORDER BY s.monitor_id LIMIT batch
                   FOR UPDATE SKIP LOCKED) AS s;
        EXIT WHEN mons IS NULL;
        written := written + alert_grouping.write_rollups(project_id, mons, froms, tos);
        UPDATE alert_grouping.uptime_rollup_state AS s SET rolled_up_until = v.t
          FROM ROWS FROM (pg_catalog.unnest(mons), pg_catalog.unnest(tos)) AS v(m, t)
         WHERE s.project_id = rollup_project_uptime.project_id AND s.monitor_id = v.m;
    END LOOP;
    RETURN written;
END
$$;

CREATE FUNCTION alert_grouping.rollup_uptime(at timestamptz DEFAULT pg_catalog.now())
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target constant timestamptz := alert_grouping.bucket_floor(at, 'hour');
    project uuid;
    written integer := 0;
BEGIN
    IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
        RAISE EXCEPTION 'at must be a finite time' USING ERRCODE = '22023';
    END IF;
    -- One project at a time: on Citus each statement then runs on that project's shards.
    FOR project IN SELECT c.project_id FROM alert_grouping.uptime_changes AS c
                   UNION
                   SELECT s.project_id FROM alert_grouping.uptime_rollup_state AS s
                    WHERE s.rolled_up_until < target
    LOOP
        written := written + alert_grouping.rollup_project_uptime(project, target);
    END LOOP;
    RETURN written;
END
$$;

-- Uptime of a monitor over [from_ts, to_ts): up / (up + down), maintenance and unknown time
-- left out; NULL when nothing is known. The hours rolled up come from the rollups (whole days
-- from the daily ones), the rest from the raw data; the answer is the raw data's exactly (a
-- change not rolled up yet makes it read the raw data).
CREATE FUNCTION alert_grouping.uptime(project_id uuid, monitor_id uuid, from_ts timestamptz,
                                      to_ts timestamptz)
RETURNS numeric
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
    up numeric := 0;
    down numeric := 0;
    until timestamptz;
    first_bucket timestamptz;
    hold interval;
    h1 timestamptz;
    h2 timestamptz;
    d1 timestamptz;
    d2 timestamptz;
BEGIN
    hold := alert_grouping.uptime_hold(project_id, monitor_id, from_ts, to_ts);
    SELECT st.rolled_up_until INTO until FROM alert_grouping.uptime_rollup_state AS st
     WHERE st.project_id = uptime.project_id AND st.monitor_id = uptime.monitor_id;
    -- The rollups start at the monitor's first bucket: its first day once the older hours
    -- are past their retention.
    SELECT LEAST((SELECT r.bucket_start FROM alert_grouping.uptime_rollups AS r
                   WHERE r.project_id = uptime.project_id AND r.monitor_id = uptime.monitor_id
                     AND r.granularity = 'hour' ORDER BY r.bucket_start LIMIT 1),
                 (SELECT r.bucket_start FROM alert_grouping.uptime_rollups AS r
                   WHERE r.project_id = uptime.project_id AND r.monitor_id = uptime.monitor_id
                     AND r.granularity = 'day' ORDER BY r.bucket_start LIMIT 1))
      INTO first_bucket;
    h1 := GREATEST(alert_grouping.bucket_floor(from_ts + interval '1 hour' - interval '1 microsecond', 'hour'), first_bucket);
    h2 := LEAST(alert_grouping.bucket_floor(to_ts, 'hour'), until);
    IF until IS NULL OR h1 IS NULL OR h1 >= h2
       OR EXISTS (SELECT 1 FROM alert_grouping.uptime_changes AS c
                   WHERE c.project_id = uptime.project_id
                     AND (c.monitor_id IS NULL OR c.monitor_id = uptime.monitor_id)
                     AND c.from_ts - hold < h2 AND c.to_ts + hold >= h1) THEN
        s := alert_grouping.uptime_seconds(project_id, monitor_id, from_ts, to_ts);
        RETURN CASE WHEN s.up_seconds + s.down_seconds > 0
                    THEN s.up_seconds / (s.up_seconds + s.down_seconds) END;
    END IF;
    -- The edges from the raw data (none when the range starts and ends on the hour).
    IF from_ts < h1 THEN
        s := alert_grouping.uptime_seconds(project_id, monitor_id, from_ts, h1);
        up := up + s.up_seconds; down := down + s.down_seconds;
    END IF;
    IF h2 < to_ts THEN
        s := alert_grouping.uptime_seconds(project_id, monitor_id, h2, to_ts);
        up := up + s.up_seconds; down := down + s.down_seconds;
    END IF;
    -- Whole days from the daily buckets, the hours around them from the hourly ones (one
    -- range each: a plan for all of them would read every hour of the monitor).
    d1 := alert_grouping.bucket_floor(h1 + interval '1 day' - interval '1 microsecond', 'day');
    d2 := alert_grouping.bucket_floor(h2, 'day');
    IF d1 >= d2 THEN
        d1 := h2;
        d2 := h2;
    END IF;
    SELECT up + COALESCE(pg_catalog.sum(r.up_seconds), 0), down + COALESCE(pg_catalog.sum(r.down_seconds), 0)
      INTO up, down
      FROM alert_grouping.uptime_rollups AS r
     WHERE r.project_id = uptime.project_id AND r.monitor_id = uptime.monitor_id
       AND r.granularity = 'day' AND r.bucket_start >= d1 AND r.bucket_start < d2;
    SELECT up + COALESCE(pg_catalog.sum(r.up_seconds), 0), down + COALESCE(pg_catalog.sum(r.down_seconds), 0)
      INTO up, down
      FROM alert_grouping.uptime_rollups AS r
     WHERE r.project_id = uptime.project_id AND r.monitor_id = uptime.monitor_id
       AND r.granularity = 'hour' AND r.bucket_start >= h1 AND r.bucket_start < d1;
    SELECT up + COALESCE(pg_catalog.sum(r.up_seconds), 0), down + COALESCE(pg_catalog.sum(r.down_seconds), 0)
      INTO up, down
      FROM alert_grouping.uptime_rollups AS r
     WHERE r.project_id = uptime.project_id AND r.monitor_id = uptime.monitor_id
       AND r.granularity = 'hour' AND r.bucket_start >= d2 AND r.bucket_start < h2;
    RETURN CASE WHEN up + down > 0 THEN up / (up + down) END;
END
$$;

CREATE INDEX uptime_rollup_state_until_idx ON alert_grouping.uptime_rollup_state (rolled_up_until);

------------------------------------------------------------------------------------------
-- Retention
------------------------------------------------------------------------------------------
CREATE INDEX uptime_rollups_age_idx ON alert_grouping.uptime_rollups (granularity, bucket_start);
-- (notifications_created_idx, on a table of 0.6: add_0_7_triggers_and_keys, at the end)

-- A retention period in days: the setting (alert_grouping.<name>_retention_days, defined when
-- the library is loaded), else its default.
CREATE FUNCTION alert_grouping.retention_days(name text, default_days integer) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v text := pg_catalog.current_setting('alert_grouping.' || name, true);
BEGIN
    RETURN COALESCE(NULLIF(v, '')::integer, default_days);
END
$$;

-- Layered retention as of "at": raw check results older than check_results_retention_days
-- (30) go by whole daily partitions, and only once every monitor is rolled up past them (the
-- rollups are brought up to date first, under the partition's lock, so that no result is
-- dropped before it is rolled up); hourly rollups older than hourly_rollups_retention_days
-- (90), daily ones older than daily_rollups_retention_days (365), notifications older than
-- notifications_retention_days (90) and the worker's run history older than
-- run_history_days (90) are deleted.
CREATE FUNCTION alert_grouping.cleanup(at timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    raw_cutoff constant timestamptz := at - pg_catalog.make_interval(
        days => alert_grouping.retention_days('check_results_retention_days', 30));
    hourly_cutoff constant timestamptz := at - pg_catalog.make_interval(
        days => alert_grouping.retention_days('hourly_rollups_retention_days', 90));
    daily_cutoff constant timestamptz := at - pg_catalog.make_interval(
        days => alert_grouping.retention_days('daily_rollups_retention_days', 365));
    notifications_cutoff constant timestamptz := at - pg_catalog.make_interval(
        days => alert_grouping.retention_days('notifications_retention_days', 90));
    history_cutoff constant timestamptz := at - pg_catalog.make_interval(
        days => alert_grouping.retention_days('run_history_days', 90));
    names text[];
    bounds timestamptz[];
    j integer;
    dropped text[] := '{}';
    kept text[] := '{}';
    n_default bigint;
    default_cutoff timestamptz;
    n_hourly bigint;
    n_daily bigint;
    n_notifications bigint;
    n_history bigint;
BEGIN
    IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
        RAISE EXCEPTION 'at must be a finite time' USING ERRCODE = '22023';
    END IF;
    -- The partitions past retention, locked (oldest first): no result can arrive in them from
    -- here on. Then what arrived is rolled up, once, and each is dropped unless a monitor is
    -- still behind it or a change in it is still queued.
    SELECT pg_catalog.array_agg(c.relname::text ORDER BY c.relname),
           pg_catalog.array_agg(pg_catalog.to_timestamp(pg_catalog.substr(c.relname, 15), 'YYYYMMDD')::timestamp
                                    AT TIME ZONE 'UTC' + interval '1 day' ORDER BY c.relname)
      INTO names, bounds
      FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'alert_grouping.check_results'::pg_catalog.regclass
       AND c.relname ~ '^check_results_[0-9]{8}$'
       AND pg_catalog.to_timestamp(pg_catalog.substr(c.relname, 15), 'YYYYMMDD')::timestamp
               AT TIME ZONE 'UTC' + interval '1 day' <= raw_cutoff;
    IF names IS NOT NULL THEN
        FOR j IN 1 .. pg_catalog.cardinality(names) LOOP
            EXECUTE pg_catalog.format('LOCK TABLE alert_grouping.%I IN ACCESS EXCLUSIVE MODE', names[j]);
        END LOOP;
        PERFORM alert_grouping.rollup_uptime(at);
        FOR j IN 1 .. pg_catalog.cardinality(names) LOOP
            IF EXISTS (SELECT 1 FROM alert_grouping.uptime_rollup_state AS s WHERE s.rolled_up_until < bounds[j])
               OR EXISTS (SELECT 1 FROM alert_grouping.uptime_changes AS c WHERE c.from_ts < bounds[j]) THEN
                kept := kept || names[j];
                CONTINUE;
            END IF;
            EXECUTE pg_catalog.format('DROP TABLE alert_grouping.%I', names[j]);
            dropped := dropped || names[j];
        END LOOP;
    END IF;
    -- Old rows outside the daily partitions: deleted, once rolled up.
    SELECT LEAST(raw_cutoff, COALESCE(pg_catalog.min(s.rolled_up_until), raw_cutoff)) INTO default_cutoff
      FROM alert_grouping.uptime_rollup_state AS s;
    DELETE FROM alert_grouping.check_results_default AS d
     WHERE d.checked_at < default_cutoff
       AND NOT EXISTS (SELECT 1 FROM alert_grouping.uptime_changes AS c
                        WHERE c.project_id = d.project_id AND c.monitor_id = d.monitor_id);
    GET DIAGNOSTICS n_default = ROW_COUNT;
    DELETE FROM alert_grouping.uptime_rollups AS r WHERE r.granularity = 'hour' AND r.bucket_start < hourly_cutoff;
    GET DIAGNOSTICS n_hourly = ROW_COUNT;
    DELETE FROM alert_grouping.uptime_rollups AS r WHERE r.granularity = 'day' AND r.bucket_start < daily_cutoff;
    GET DIAGNOSTICS n_daily = ROW_COUNT;
    DELETE FROM alert_grouping.notifications AS n WHERE n.created_at < notifications_cutoff;
    GET DIAGNOSTICS n_notifications = ROW_COUNT;
    DELETE FROM alert_grouping.worker_runs AS w WHERE w.started_at < history_cutoff;
    GET DIAGNOSTICS n_history = ROW_COUNT;
    RETURN pg_catalog.jsonb_build_object(
        'at', at,
        'check_partitions_dropped', pg_catalog.to_jsonb(dropped),
        'check_partitions_kept_until_rolled_up', pg_catalog.to_jsonb(kept),
        'check_results_deleted', n_default,
        'hourly_rollups_deleted', n_hourly,
        'daily_rollups_deleted', n_daily,
        'notifications_deleted', n_notifications,
        'worker_runs_deleted', n_history);
END
$$;

------------------------------------------------------------------------------------------
-- Status page components
------------------------------------------------------------------------------------------
-- A component's monitors are the monitors whose component_id names it. Its status, from the
-- statuses of its monitors (a monitor in a maintenance window counts as in maintenance):
--   worst:       major_outage when any monitor is down;
--   majority:    major_outage when more than half are down, partial_outage when some are;
--   any_failure: partial_outage when any is down, major_outage when all are;
-- under_maintenance when every monitor is in maintenance, unknown when it has none,
-- operational otherwise. Every change is a row of status_page_component_history.
CREATE TABLE alert_grouping.status_page_components (
    project_id uuid NOT NULL,  -- references projects (id): see add_0_7_triggers_and_keys
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    name text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 200),
    description text NULL,
    aggregation text NOT NULL DEFAULT 'worst' CHECK (aggregation IN ('worst', 'majority', 'any_failure')),
    status text NOT NULL DEFAULT 'unknown'
        CHECK (status IN ('operational', 'partial_outage', 'major_outage', 'under_maintenance', 'unknown')),
    status_since timestamptz NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id)
);

CREATE TABLE alert_grouping.status_page_component_history (
    project_id uuid NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    component_id uuid NOT NULL,
    status text NOT NULL,
    since timestamptz NOT NULL,
    monitors_down integer NOT NULL,
    monitors_in_maintenance integer NOT NULL,
    monitors integer NOT NULL,
    PRIMARY KEY (project_id, id),
    FOREIGN KEY (project_id, component_id)
        REFERENCES alert_grouping.status_page_components (project_id, id) ON DELETE CASCADE
);
CREATE INDEX status_page_component_history_idx
    ON alert_grouping.status_page_component_history (project_id, component_id, since);

-- A component's status from how many of its monitors there are, are down and are in
-- maintenance (see above).
CREATE FUNCTION alert_grouping.component_status(aggregation text, total bigint, down bigint,
                                                maintenance bigint)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN total = 0 THEN 'unknown'
                WHEN maintenance = total THEN 'under_maintenance'
                WHEN down = 0 THEN 'operational'
                WHEN aggregation = 'worst' THEN 'major_outage'
                WHEN aggregation = 'majority' THEN
                     CASE WHEN down * 2 > total - maintenance THEN 'major_outage' ELSE 'partial_outage' END
                ELSE CASE WHEN down = total - maintenance THEN 'major_outage' ELSE 'partial_outage' END
           END;
$$;

-- Writes that a component (locked by the caller) is in status as of "at", and its history:
-- changes at one instant (monitors written one after the other) make one entry, and going
-- back to the status the last entry holds continues it.
CREATE FUNCTION alert_grouping.set_component_status(project_id uuid, component_id uuid,
                                                    status text, at timestamptz, down bigint,
                                                    maintenance bigint, total bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    previous record;
BEGIN
    DELETE FROM alert_grouping.status_page_component_history AS h
     WHERE h.project_id = set_component_status.project_id AND h.component_id = set_component_status.component_id
       AND h.since = set_component_status.at;
    SELECT h.status, h.since INTO previous FROM alert_grouping.status_page_component_history AS h
     WHERE h.project_id = set_component_status.project_id AND h.component_id = set_component_status.component_id
     ORDER BY h.since DESC, h.id DESC LIMIT 1;
    IF FOUND AND previous.status = set_component_status.status THEN
        UPDATE alert_grouping.status_page_components AS sc
           SET status = set_component_status.status, status_since = previous.since
         WHERE sc.project_id = set_component_status.project_id AND sc.id = set_component_status.component_id;
        RETURN;
    END IF;
    UPDATE alert_grouping.status_page_components AS sc
       SET status = set_component_status.status, status_since = set_component_status.at
     WHERE sc.project_id = set_component_status.project_id AND sc.id = set_component_status.component_id;
    INSERT INTO alert_grouping.status_page_component_history
        (project_id, id, component_id, status, since, monitors_down, monitors_in_maintenance, monitors)
    OVERRIDING SYSTEM VALUE
    VALUES (set_component_status.project_id,
            pg_catalog.nextval('alert_grouping.status_page_component_history_id_seq'::pg_catalog.regclass),
            set_component_status.component_id, set_component_status.status, set_component_status.at,
            down, maintenance, total);
END
$$;

-- Recomputes the status of a project's components (all of them when component_ids is NULL)
-- as of "at", writing the changes and their history. Returns the components that changed.
CREATE FUNCTION alert_grouping.refresh_component_status(project_id uuid, component_ids uuid[],
                                                        at timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    changed integer := 0;
BEGIN
    FOR c IN
        SELECT sc.id, sc.status AS old_status, x.total, x.down, x.maintenance,
               alert_grouping.component_status(sc.aggregation, x.total, x.down, x.maintenance) AS new_status
          FROM alert_grouping.status_page_components AS sc
         CROSS JOIN LATERAL (
               SELECT pg_catalog.count(*) AS total,
                      pg_catalog.count(*) FILTER (WHERE m.in_maintenance) AS maintenance,
                      pg_catalog.count(*) FILTER (WHERE NOT m.in_maintenance AND m.status = 'down') AS down
                 FROM (SELECT mo.status,
                              EXISTS (SELECT 1 FROM alert_grouping.maintenance_windows AS w
                                       WHERE w.project_id = refresh_component_status.project_id
                                         AND (w.monitor_ids IS NULL OR mo.id = ANY (w.monitor_ids))
                                         AND w.starts_at <= refresh_component_status.at
                                         AND w.ends_at > refresh_component_status.at) AS in_maintenance
                         FROM alert_grouping.monitors AS mo
                        WHERE mo.project_id = refresh_component_status.project_id
                          AND mo.component_id = sc.id) AS m) AS x
         WHERE sc.project_id = refresh_component_status.project_id
           AND (component_ids IS NULL OR sc.id = ANY (component_ids))
         ORDER BY sc.id
           FOR NO KEY UPDATE OF sc
    LOOP
        CONTINUE WHEN c.new_status = c.old_status;
        PERFORM alert_grouping.set_component_status(project_id, c.id, c.new_status, at, c.down,
                                                    c.maintenance, c.total);
        changed := changed + 1;
    END LOOP;
    RETURN changed;
END
$$;

-- The status changes of a statement's check results, replayed in time order into the
-- components of their monitors (before the monitors are updated: they still hold their
-- statuses from before the statement), so that a monitor down and up again within one
-- statement is a change of its component too.
CREATE FUNCTION alert_grouping.replay_component_changes(project_id uuid, monitor_ids uuid[],
                                                        statuses text[], ats timestamptz[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    t record;
    mons uuid[];
    sts text[];
    in_maintenance integer;
    n_down integer;
    current_status text;
    next_status text;
    w_monitor uuid[];
    w_start timestamptz[];
    w_end timestamptz[];
BEGIN
    -- Locked first, as refresh_component_status locks them.
    PERFORM 1 FROM alert_grouping.status_page_components AS sc
     WHERE sc.project_id = replay_component_changes.project_id
       AND sc.id IN (SELECT m.component_id FROM alert_grouping.monitors AS m
                      WHERE m.project_id = replay_component_changes.project_id
                        AND m.id = ANY (monitor_ids))
     ORDER BY sc.id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;  -- none of the monitors is on a status page
    END IF;
    -- The windows of the span, read once (a monitor each, NULL for all).
    SELECT pg_catalog.array_agg(x.m), pg_catalog.array_agg(w.starts_at), pg_catalog.array_agg(w.ends_at)
      INTO w_monitor, w_start, w_end
      FROM alert_grouping.maintenance_windows AS w,
           LATERAL pg_catalog.unnest(COALESCE(w.monitor_ids, ARRAY[NULL::uuid])) AS x(m)
     WHERE w.project_id = replay_component_changes.project_id
       AND w.starts_at <= (SELECT pg_catalog.max(a) FROM pg_catalog.unnest(ats) AS a)
       AND w.ends_at > (SELECT pg_catalog.min(a) FROM pg_catalog.unnest(ats) AS a);
    FOR c IN
        SELECT sc.id, sc.aggregation, sc.status,
               pg_catalog.array_agg(mo.id ORDER BY mo.id) AS mons,
               pg_catalog.array_agg(mo.status ORDER BY mo.id) AS sts
          FROM alert_grouping.status_page_components AS sc
          JOIN alert_grouping.monitors AS mo
            ON mo.project_id = replay_component_changes.project_id AND mo.component_id = sc.id
         WHERE sc.project_id = replay_component_changes.project_id
           AND sc.id IN (SELECT m.component_id FROM alert_grouping.monitors AS m
                          WHERE m.project_id = replay_component_changes.project_id
                            AND m.id = ANY (monitor_ids))
         GROUP BY sc.id, sc.aggregation, sc.status
         ORDER BY sc.id
    LOOP
        mons := c.mons;
        sts := c.sts;
        current_status := c.status;
        FOR t IN SELECT v.m, v.s, v.at
                   FROM ROWS FROM (pg_catalog.unnest(monitor_ids), pg_catalog.unnest(statuses),
                                   pg_catalog.unnest(ats)) WITH ORDINALITY AS v(m, s, at, i)
                  WHERE v.m = ANY (mons)
                  ORDER BY v.at, v.i
        LOOP
            sts[pg_catalog.array_position(mons, t.m)] := t.s;
            SELECT pg_catalog.count(*) FILTER (WHERE x.maint),
                   pg_catalog.count(*) FILTER (WHERE NOT x.maint AND x.s = 'down')
              INTO in_maintenance, n_down
              FROM (SELECT v.s, EXISTS (SELECT 1 FROM ROWS FROM (pg_catalog.unnest(w_monitor),
                                                                 pg_catalog.unnest(w_start),
                                                                 pg_catalog.unnest(w_end)) AS w(m, f, u)
                                         WHERE (w.m IS NULL OR w.m = v.m) AND w.f <= t.at AND w.u > t.at) AS maint
                      FROM ROWS FROM (pg_catalog.unnest(mons), pg_catalog.unnest(sts)) AS v(m, s)) AS x;
            next_status := alert_grouping.component_status(c.aggregation, pg_catalog.cardinality(mons),
                                                           n_down, in_maintenance);
            CONTINUE WHEN next_status = current_status;
            PERFORM alert_grouping.set_component_status(project_id, c.id, next_status, t.at, n_down,
                                                        in_maintenance, pg_catalog.cardinality(mons));
            current_status := next_status;
        END LOOP;
    END LOOP;
END
$$;

-- The check results trigger of 0.5, which now also tells the components of its monitors each
-- status change, in order (replay_component_changes), before it updates the monitors.
CREATE OR REPLACE FUNCTION alert_grouping.check_results_inserted() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    proj uuid;
    mon_ids uuid[];
    mon_oks boolean[];
    mon_fails boolean[];
    mon_first timestamptz[];
    known uuid[];
    changing uuid[];
    missing uuid;
    m record;
    r record;
    k integer;
    streak_ok boolean;
    streak_len integer;
    status text;
    changed_at timestamptz;
    pending boolean;
    current_alert uuid;
    in_window boolean;
    -- What the statement does, as parallel arrays.
    open_alerts alert_grouping.alerts[] := '{}';
    open_ids uuid[] := '{}';
    open_monitor_incident boolean[] := '{}';
    resolve_ids uuid[] := '{}';
    resolve_at timestamptz[] := '{}';
    state_ids uuid[] := '{}';
    state_status text[] := '{}';
    state_changed timestamptz[] := '{}';
    state_alert uuid[] := '{}';
    new_alert alert_grouping.alerts;
    -- Every change of a monitor's status, in order (for its status page component).
    change_ids uuid[] := '{}';
    change_status text[] := '{}';
    change_at timestamptz[] := '{}';
BEGIN
    IF COALESCE(pg_catalog.current_setting('alert_grouping.restoring', true), 'off') = 'on' THEN
        RETURN NULL;
    END IF;
    FOR proj, mon_ids, mon_oks, mon_fails, mon_first IN
        SELECT n.project_id, pg_catalog.array_agg(n.monitor_id), pg_catalog.array_agg(n.any_ok),
               pg_catalog.array_agg(n.any_fail), pg_catalog.array_agg(n.first_at)
          FROM (SELECT c.project_id, c.monitor_id, pg_catalog.bool_or(c.ok) AS any_ok,
                       pg_catalog.bool_or(NOT c.ok) AS any_fail,
                       pg_catalog.min(c.checked_at) AS first_at
                  FROM new_results AS c GROUP BY c.project_id, c.monitor_id) AS n
         GROUP BY n.project_id ORDER BY n.project_id
    LOOP
        -- One read of the statement's monitors: which exist, and which a result can change.
        SELECT pg_catalog.array_agg(mo.id),
               pg_catalog.array_agg(mo.id) FILTER (
                   WHERE (v.any_fail AND (mo.status = 'up' OR (mo.alert_id IS NULL AND mo.auto_create_alerts)))
                      OR (v.any_ok AND mo.status = 'down'))
          INTO known, changing
          FROM ROWS FROM (pg_catalog.unnest(mon_ids), pg_catalog.unnest(mon_oks),
                          pg_catalog.unnest(mon_fails)) AS v(id, any_ok, any_fail)
          JOIN alert_grouping.monitors AS mo ON mo.project_id = proj AND mo.id = v.id
         WHERE mo.project_id = proj AND mo.id = ANY (mon_ids);
        IF COALESCE(pg_catalog.cardinality(known), 0) < pg_catalog.cardinality(mon_ids) THEN
            SELECT v.id INTO missing FROM pg_catalog.unnest(mon_ids) AS v(id)
             WHERE known IS NULL OR v.id <> ALL (known) ORDER BY v.id LIMIT 1;
            RAISE EXCEPTION 'check result for unknown monitor % in project %', missing, proj
                USING ERRCODE = '23503',
                      HINT = 'Create the monitor in alert_grouping.monitors first.';
        END IF;
        CONTINUE WHEN changing IS NULL;
        open_alerts := '{}'; open_ids := '{}'; open_monitor_incident := '{}';
        resolve_ids := '{}'; resolve_at := '{}';
        state_ids := '{}'; state_status := '{}'; state_changed := '{}'; state_alert := '{}';
        change_ids := '{}'; change_status := '{}'; change_at := '{}';
        -- Locked, and read again: a concurrent statement may have changed them meanwhile.
        FOR m IN
            SELECT mo.*, v.first_at
              FROM ROWS FROM (pg_catalog.unnest(mon_ids), pg_catalog.unnest(mon_oks),
                              pg_catalog.unnest(mon_fails), pg_catalog.unnest(mon_first))
                   AS v(id, any_ok, any_fail, first_at)
              JOIN alert_grouping.monitors AS mo ON mo.project_id = proj AND mo.id = v.id
             WHERE mo.project_id = proj AND mo.id = ANY (changing)
               AND ((v.any_fail AND (mo.status = 'up' OR (mo.alert_id IS NULL AND mo.auto_create_alerts)))
                    OR (v.any_ok AND mo.status = 'down'))
             ORDER BY mo.id
               FOR NO KEY UPDATE OF mo
        LOOP
            k := GREATEST(m.alert_after_failures, m.recover_after_successes);
            -- The streak that ends just before the first new result.
            streak_ok := NULL;
            streak_len := 0;
            FOR r IN SELECT c.ok FROM alert_grouping.check_results AS c
                      WHERE c.project_id = proj AND c.monitor_id = m.id
                        AND c.checked_at < m.first_at
                      ORDER BY c.checked_at DESC, c.ok LIMIT k LOOP
                IF streak_ok IS NULL THEN
                    streak_ok := r.ok;
                ELSIF r.ok <> streak_ok THEN
                    EXIT;
                END IF;
                streak_len := streak_len + 1;
            END LOOP;
            status := m.status;
            changed_at := m.status_changed_at;
            -- Down without an alert yet: a window held it back.
            pending := m.status = 'down' AND m.alert_id IS NULL AND m.auto_create_alerts;
            current_alert := m.alert_id;
            FOR r IN SELECT c.checked_at, c.ok, c.message, c.status_code, c.response_time_ms
                       FROM alert_grouping.check_results AS c
                      WHERE c.project_id = proj AND c.monitor_id = m.id
                        AND c.checked_at >= m.first_at
                      ORDER BY c.checked_at, c.ok DESC LOOP
                IF r.ok IS NOT DISTINCT FROM streak_ok THEN
                    streak_len := streak_len + 1;
                ELSE
                    streak_ok := r.ok;
                    streak_len := 1;
                END IF;
                CONTINUE WHEN changed_at IS NOT NULL AND r.checked_at <= changed_at;
                IF NOT r.ok AND streak_len >= m.alert_after_failures
                   AND (status = 'up' OR pending) THEN
                    IF status = 'up' THEN
                        status := 'down';
                        changed_at := r.checked_at;
                        current_alert := NULL;
                        change_ids := change_ids || m.id;
                        change_status := change_status || status;
                        change_at := change_at || changed_at;
                    END IF;
                    pending := false;
                    IF m.auto_create_alerts THEN
                        SELECT EXISTS (
                            SELECT 1 FROM alert_grouping.maintenance_windows AS w
                             WHERE w.project_id = proj AND w.suppress_alerts
                               AND w.starts_at <= r.checked_at AND r.checked_at < w.ends_at
                               AND (w.monitor_ids IS NULL OR m.id = ANY (w.monitor_ids)))
                          INTO in_window;
                        IF in_window THEN
                            pending := true;
                        ELSE
                            new_alert := NULL;
                            new_alert.project_id := proj;
                            new_alert.id := pg_catalog.gen_random_uuid();
                            new_alert.monitor_id := m.id;
                            new_alert.severity := m.severity;
                            new_alert.title := m.name || ' is failing';
                            new_alert.description := r.message;
                            new_alert.labels := m.labels;
                            -- One alert per down period: the period's start keys it.
                            new_alert.dedup_key := 'monitor:' || m.id::text || ':'
                                || pg_catalog.to_char(changed_at AT TIME ZONE 'UTC',
                                                      'YYYYMMDD"T"HH24MISS.US');
                            new_alert.source := 'monitor';
                            new_alert.details := pg_catalog.jsonb_build_object(
                                'check', pg_catalog.jsonb_build_object(
                                    'checked_at', r.checked_at, 'status_code', r.status_code,
                                    'response_time_ms', r.response_time_ms,
                                    'message', r.message),
                                'alert_after_failures', m.alert_after_failures);
                            new_alert.created_at := r.checked_at;
                            open_alerts := open_alerts || new_alert;
                            open_ids := open_ids || new_alert.id;
                            open_monitor_incident := open_monitor_incident || m.auto_create_incident;
                            current_alert := new_alert.id;
                        END IF;
                    END IF;
                ELSIF r.ok AND status = 'down' AND streak_len >= m.recover_after_successes THEN
                    status := 'up';
                    changed_at := r.checked_at;
                    pending := false;
                    change_ids := change_ids || m.id;
                    change_status := change_status || status;
                    change_at := change_at || changed_at;
                    IF current_alert IS NOT NULL THEN
                        resolve_ids := resolve_ids || current_alert;
                        resolve_at := resolve_at || r.checked_at;
                    END IF;
                    current_alert := NULL;
                END IF;
            END LOOP;
            IF status IS DISTINCT FROM m.status OR changed_at IS DISTINCT FROM m.status_changed_at
               OR current_alert IS DISTINCT FROM m.alert_id THEN
                state_ids := state_ids || m.id;
                state_status := state_status || status;
                state_changed := state_changed || changed_at;
                state_alert := state_alert || current_alert;
            END IF;
        END LOOP;

        IF pg_catalog.cardinality(open_alerts) > 0 THEN
            INSERT INTO alert_grouping.alerts AS t
                (project_id, id, monitor_id, severity, title, description, labels, dedup_key,
                 source, details, created_at)
            SELECT u.project_id, u.id, u.monitor_id, u.severity, u.title, u.description,
                   u.labels, u.dedup_key, u.source, u.details, u.created_at
              FROM pg_catalog.unnest(open_alerts) AS u;
            IF true = ANY (open_monitor_incident) THEN
                PERFORM alert_grouping.open_monitor_incidents(proj, ARRAY(
                    SELECT v.id FROM ROWS FROM (pg_catalog.unnest(open_ids),
                                                pg_catalog.unnest(open_monitor_incident))
                                     AS v(id, wanted)
                     WHERE v.wanted));
            END IF;
        END IF;
        IF pg_catalog.cardinality(resolve_ids) > 0 THEN
            UPDATE alert_grouping.alerts AS a
               SET state = 'resolved', resolved_at = v.at
              FROM ROWS FROM (pg_catalog.unnest(resolve_ids), pg_catalog.unnest(resolve_at))
                   AS v(id, at)
             WHERE a.project_id = proj AND a.id = v.id AND a.state <> 'resolved';
            PERFORM alert_grouping.resolve_alert_incidents(proj, resolve_ids, resolve_at);
        END IF;
        IF pg_catalog.cardinality(change_ids) > 0 THEN
            PERFORM alert_grouping.replay_component_changes(proj, change_ids, change_status, change_at);
        END IF;
        IF pg_catalog.cardinality(state_ids) > 0 THEN
            UPDATE alert_grouping.monitors AS mo
               SET status = v.status, status_changed_at = v.changed_at, alert_id = v.alert_id
              FROM ROWS FROM (pg_catalog.unnest(state_ids), pg_catalog.unnest(state_status),
                              pg_catalog.unnest(state_changed), pg_catalog.unnest(state_alert))
                   AS v(id, status, changed_at, alert_id)
             WHERE mo.project_id = proj AND mo.id = v.id;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- A monitor that moves between components changes both, as of its last status change. (Its
-- status changes reach its component from the check results trigger, replayed in order;
-- run_maintenance refreshes every component besides.)
CREATE FUNCTION alert_grouping.monitors_component_changed() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A restore brings the queue (and the history) as they were.
    IF COALESCE(pg_catalog.current_setting('alert_grouping.restoring', true), 'off') = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM alert_grouping.refresh_component_status(
        NEW.project_id,
        ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(ARRAY[OLD.component_id, NEW.component_id]) AS x
               WHERE x IS NOT NULL),
        COALESCE(NEW.status_changed_at, pg_catalog.now()));
    RETURN NULL;
END
$$;

-- Component uptime over [from_ts, to_ts), from its status history: operational time over the
-- time it was operational or in an outage (partial or major); maintenance and unknown time
-- left out. NULL when nothing is known.
CREATE FUNCTION alert_grouping.component_uptime(project_id uuid, component_id uuid,
                                                from_ts timestamptz, to_ts timestamptz)
RETURNS numeric
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    up numeric;
    down numeric;
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL OR NOT pg_catalog.isfinite(from_ts) OR NOT pg_catalog.isfinite(to_ts)
       OR to_ts < from_ts THEN
        RAISE EXCEPTION 'from_ts and to_ts must be finite times, from_ts not after to_ts'
            USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM alert_grouping.status_page_components AS c
                    WHERE c.project_id = component_uptime.project_id AND c.id = component_uptime.component_id) THEN
        RAISE EXCEPTION 'component % not found in project %', component_id, project_id
            USING ERRCODE = 'P0002';
    END IF;
    WITH h AS (
        (SELECT x.status, x.since FROM alert_grouping.status_page_component_history AS x
          WHERE x.project_id = component_uptime.project_id AND x.component_id = component_uptime.component_id
            AND x.since <= from_ts ORDER BY x.since DESC, x.id DESC LIMIT 1)
        UNION ALL
        (SELECT x.status, x.since FROM alert_grouping.status_page_component_history AS x
          WHERE x.project_id = component_uptime.project_id AND x.component_id = component_uptime.component_id
            AND x.since > from_ts AND x.since < to_ts)),
    seg AS (
        SELECT h.status, GREATEST(h.since, from_ts) AS f,
               LEAST(COALESCE(pg_catalog.lead(h.since) OVER (ORDER BY h.since), to_ts), to_ts) AS t
          FROM h)
    SELECT COALESCE(pg_catalog.sum(EXTRACT(EPOCH FROM s.t - s.f)) FILTER (WHERE s.status = 'operational'), 0),
           COALESCE(pg_catalog.sum(EXTRACT(EPOCH FROM s.t - s.f)) FILTER (WHERE s.status IN ('partial_outage', 'major_outage')), 0)
      INTO up, down
      FROM seg AS s WHERE s.t > s.f;
    RETURN CASE WHEN up + down > 0 THEN up / (up + down) END;
END
$$;

------------------------------------------------------------------------------------------
-- run_maintenance: the rollups too
------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION alert_grouping.run_maintenance(at timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep record;
    timeout integer;
    due timestamptz;
    n integer;
    delayed_resolved integer := 0;
    inactive_resolved integer := 0;
    rescheduled integer := 0;
    cleared integer := 0;
    notified integer;
    buckets integer;
    retention jsonb;
    components integer;
    project uuid;
    partitions text[];
BEGIN
    IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
        RAISE EXCEPTION 'at must be a finite time' USING ERRCODE = '22023';
    END IF;
    -- Resolve delays. Each update checks again what it read, so two passes at once act once.
    FOR ep IN SELECT e.project_id, e.id, e.resolve_due_at
                FROM alert_grouping.episodes AS e
               WHERE e.resolve_due_at <= run_maintenance.at
               ORDER BY e.resolve_due_at, e.project_id, e.id
    LOOP
        UPDATE alert_grouping.episodes AS e
           SET state = 'resolved', resolved_at = e.resolve_due_at, resolve_due_at = NULL
         WHERE e.project_id = ep.project_id AND e.id = ep.id
           AND e.resolve_due_at <= run_maintenance.at AND e.state <> 'resolved'
           AND e.active_alert_count = 0;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 1 THEN
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, ep.resolve_due_at, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'all_alerts_resolved', 'after_delay', true));
            delayed_resolved := delayed_resolved + 1;
        ELSE
            UPDATE alert_grouping.episodes AS e SET resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.resolve_due_at <= run_maintenance.at;
        END IF;
    END LOOP;

    -- Inactivity timeouts.
    FOR ep IN SELECT e.project_id, e.id, e.state, e.last_activity_at, e.inactivity_check_at,
                     r.episode_config AS cfg
                FROM alert_grouping.episodes AS e
                LEFT JOIN alert_grouping.grouping_rules AS r
                  ON r.project_id = e.project_id AND r.id = e.rule_id
               WHERE e.inactivity_check_at <= run_maintenance.at
               ORDER BY e.inactivity_check_at, e.project_id, e.id
    LOOP
        timeout := (ep.cfg ->> 'inactivity_timeout_minutes')::integer;
        due := ep.last_activity_at + pg_catalog.make_interval(mins => timeout);
        IF ep.state = 'resolved' OR timeout IS NULL THEN
            UPDATE alert_grouping.episodes AS e SET inactivity_check_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            cleared := cleared + n;
        ELSIF due > run_maintenance.at THEN
            UPDATE alert_grouping.episodes AS e SET inactivity_check_at = due
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            rescheduled := rescheduled + n;
        ELSE
            -- The episode first, so that its member trigger does not resolve it again.
            UPDATE alert_grouping.episodes AS e
               SET state = 'resolved', resolved_at = due, inactivity_check_at = NULL,
                   resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at AND e.state <> 'resolved'
               AND e.last_activity_at = ep.last_activity_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            CONTINUE WHEN n = 0;
            UPDATE alert_grouping.alerts AS a
               SET state = 'resolved', resolved_at = due
             WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state <> 'resolved';
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, due, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'inactivity_timeout',
                                              'inactivity_timeout_minutes', timeout,
                                              'last_activity_at', ep.last_activity_at,
                                              'alerts_resolved', n));
            inactive_resolved := inactive_resolved + 1;
        END IF;
    END LOOP;

    -- After the resolves above, which stop the escalation of their incidents.
    notified := alert_grouping.process_escalations(run_maintenance.at);
    buckets := alert_grouping.rollup_uptime(run_maintenance.at);
    retention := alert_grouping.cleanup(run_maintenance.at) - 'at';
    -- Maintenance windows start and end without an event: every component again.
    components := 0;
    FOR project IN SELECT DISTINCT c.project_id FROM alert_grouping.status_page_components AS c LOOP
        components := components + alert_grouping.refresh_component_status(project, NULL, run_maintenance.at);
    END LOOP;

    partitions := alert_grouping.create_check_partitions(run_maintenance.at);
    RETURN pg_catalog.jsonb_build_object(
        'at', run_maintenance.at,
        'episodes_resolved_after_delay', delayed_resolved,
        'episodes_resolved_inactive', inactive_resolved,
        'inactivity_checks_moved', rescheduled,
        'inactivity_checks_cleared', cleared,
        'notifications', notified,
        'uptime_buckets', buckets,
        'retention', retention,
        'components_changed', components,
        'check_partitions_created', pg_catalog.to_jsonb(partitions));
END
$$;


------------------------------------------------------------------------------------------
-- What a distributed database gets from distribute() instead of this script
------------------------------------------------------------------------------------------
-- The triggers 0.7 adds to tables of 0.5, its index on notifications and the new tables' keys
-- to projects (as 0.5's, see add_0_5_triggers_and_keys). Each is made only if missing.
CREATE FUNCTION alert_grouping.add_0_7_triggers_and_keys() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                    WHERE g.tgrelid = 'alert_grouping.check_results'::pg_catalog.regclass
                      AND g.tgname = 'check_results_inserted_uptime') THEN
        EXECUTE 'CREATE TRIGGER check_results_inserted_uptime AFTER INSERT ON alert_grouping.check_results '
                'REFERENCING NEW TABLE AS changed_rows '
                'FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.check_results_changed()';
        EXECUTE 'CREATE TRIGGER check_results_deleted_uptime AFTER DELETE ON alert_grouping.check_results '
                'REFERENCING OLD TABLE AS changed_rows '
                'FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.check_results_changed()';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                    WHERE g.tgrelid = 'alert_grouping.maintenance_windows'::pg_catalog.regclass
                      AND g.tgname = 'maintenance_windows_changed_uptime') THEN
        EXECUTE 'CREATE TRIGGER maintenance_windows_changed_uptime '
                'AFTER INSERT OR UPDATE OR DELETE ON alert_grouping.maintenance_windows '
                'FOR EACH ROW EXECUTE FUNCTION alert_grouping.maintenance_windows_changed()';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                    WHERE g.tgrelid = 'alert_grouping.monitors'::pg_catalog.regclass
                      AND g.tgname = 'monitors_component_changed') THEN
        EXECUTE 'CREATE TRIGGER monitors_component_changed AFTER UPDATE OF component_id '
                'ON alert_grouping.monitors FOR EACH ROW '
                'WHEN (OLD.component_id IS DISTINCT FROM NEW.component_id) '
                'EXECUTE FUNCTION alert_grouping.monitors_component_changed()';
    END IF;
    -- Made here, not by the script: on Citus the workers run the update script too, and an
    -- index on a table they hold shards of cannot be made from it.
    IF pg_catalog.to_regclass('alert_grouping.notifications_created_idx') IS NULL THEN
        EXECUTE 'CREATE INDEX notifications_created_idx ON alert_grouping.notifications (created_at)';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                    WHERE c.conrelid = 'alert_grouping.status_page_components'::pg_catalog.regclass
                      AND c.contype = 'f'
                      AND c.confrelid = 'alert_grouping.projects'::pg_catalog.regclass) THEN
        EXECUTE 'ALTER TABLE alert_grouping.status_page_components ADD FOREIGN KEY (project_id) '
                'REFERENCES alert_grouping.projects (id) ON DELETE CASCADE';
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT alert_grouping.is_distributed() THEN
        PERFORM alert_grouping.add_0_7_triggers_and_keys();
    END IF;
END
$$;

------------------------------------------------------------------------------------------
-- Metrics
------------------------------------------------------------------------------------------
CREATE FUNCTION alert_grouping.engine_latency_histogram(OUT le float8[], OUT cumulative bigint[],
                                                        OUT sum_seconds float8, OUT count bigint)
AS 'MODULE_PATHNAME', 'ag_engine_latency_histogram'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;

-- The event counters: server-wide since the server started when the library is preloaded
-- (shared memory), else the calling backend's.
CREATE FUNCTION alert_grouping.metric_counters(OUT names text[], OUT counts bigint[],
                                               OUT server_wide boolean)
AS 'MODULE_PATHNAME', 'ag_metric_counters'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;

-- Per project, from the tables (what the caller may read): the totals a dashboard wants.
CREATE VIEW alert_grouping.stats WITH (security_invoker = true) AS
SELECT p.id AS project_id, p.name AS project,
       a.alerts, a.duplicates, a.alerts + a.duplicates AS events, a.grouped,
       e.episodes, e.open_episodes,
       CASE WHEN e.episodes > 0 THEN pg_catalog.round(a.alerts::numeric / e.episodes, 2) END AS alerts_per_episode,
       i.incidents, i.open_incidents, x.engine_errors, n.notifications, n.undelivered
  FROM alert_grouping.projects AS p
  CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS alerts,
                             COALESCE(pg_catalog.sum(al.duplicate_count), 0)::bigint AS duplicates,
                             pg_catalog.count(*) FILTER (WHERE al.episode_id IS NOT NULL) AS grouped
                        FROM alert_grouping.alerts AS al WHERE al.project_id = p.id) AS a
  CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS episodes,
                             pg_catalog.count(*) FILTER (WHERE ep.state <> 'resolved') AS open_episodes
                        FROM alert_grouping.episodes AS ep WHERE ep.project_id = p.id) AS e
  CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS incidents,
                             pg_catalog.count(*) FILTER (WHERE inc.status <> 'resolved') AS open_incidents
                        FROM alert_grouping.incidents AS inc WHERE inc.project_id = p.id) AS i
  CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS engine_errors
                        FROM alert_grouping.engine_errors AS ee WHERE ee.project_id = p.id) AS x
  CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS notifications,
                             pg_catalog.count(*) FILTER (WHERE nt.delivered_at IS NULL) AS undelivered
                        FROM alert_grouping.notifications AS nt WHERE nt.project_id = p.id) AS n;

-- The Prometheus text exposition format (version 0.0.4): per-project counters and gauges from
-- the tables, the grouping latency histogram (server-wide when preloaded), the worker's runs.
CREATE FUNCTION alert_grouping.prometheus_metrics() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    out text := '';
    h record;
    c record;
    i integer;
    metric record;
    lines text;
    -- The per-project figures, read once (the view aggregates over the tables).
    per_project jsonb := (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s) ORDER BY s.project_id), '[]')
                            FROM alert_grouping.stats AS s);
BEGIN
    -- Counters: from shared memory when preloaded (server-wide, since the server started);
    -- without, per project from the tables.
    c := alert_grouping.metric_counters();
    IF c.server_wide THEN
        FOR metric IN SELECT * FROM (VALUES
                ('alerts_ingested', 'Alert events the engine received (stored alerts and duplicates), since the server started.'),
                ('alerts_deduplicated', 'Alert events absorbed as duplicates of a stored alert, since the server started.'),
                ('alerts_grouped', 'Alerts that joined an episode, since the server started.'),
                ('episodes_created', 'Episodes created, since the server started.'),
                ('engine_errors', 'Statements whose alerts were stored but could not be grouped, since the server started.'),
                ('worker_passes', 'Background worker passes, since the server started.'),
                ('worker_failures', 'Background worker passes that failed, since the server started.'))
                AS v(name, help)
        LOOP
            out := out || pg_catalog.format(E'# HELP alert_grouping_%s_total %s\n# TYPE alert_grouping_%s_total counter\nalert_grouping_%s_total %s\n',
                                            metric.name, metric.help, metric.name, metric.name,
                                            c.counts[pg_catalog.array_position(c.names, metric.name)]);
        END LOOP;
    END IF;
    FOR metric IN SELECT * FROM (VALUES
            ('alert_grouping_alerts_ingested_total', 'counter', 'Alert events received (stored alerts and the duplicates they absorbed).', 'events'),
            ('alert_grouping_alerts_deduplicated_total', 'counter', 'Alert events absorbed as duplicates of a stored alert.', 'duplicates'),
            ('alert_grouping_alerts_grouped_total', 'counter', 'Stored alerts that joined an episode.', 'grouped'),
            ('alert_grouping_episodes_created_total', 'counter', 'Episodes created.', 'episodes'),
            ('alert_grouping_episodes_open', 'gauge', 'Episodes not resolved.', 'open_episodes'),
            ('alert_grouping_incidents_open', 'gauge', 'Incidents not resolved.', 'open_incidents'),
            ('alert_grouping_engine_errors_total', 'counter', 'Statements whose alerts were stored but could not be grouped.', 'engine_errors'),
            ('alert_grouping_notifications_total', 'counter', 'Notifications written by escalations.', 'notifications'),
            ('alert_grouping_notifications_undelivered', 'gauge', 'Notifications not marked delivered.', 'undelivered'))
            AS v(name, kind, help, col)
    LOOP
        CONTINUE WHEN c.server_wide AND metric.kind = 'counter' AND metric.col <> 'notifications';
        out := out || pg_catalog.format(E'# HELP %s %s\n# TYPE %s %s\n', metric.name, metric.help, metric.name, metric.kind);
        SELECT pg_catalog.string_agg(pg_catalog.format(E'%s{project="%s"} %s\n', metric.name,
                                                       p.row ->> 'project_id', p.row ->> metric.col),
                                     '' ORDER BY p.ord)
          INTO lines
          FROM pg_catalog.jsonb_array_elements(per_project) WITH ORDINALITY AS p(row, ord);
        out := out || COALESCE(lines, '');
    END LOOP;
    h := alert_grouping.engine_latency_histogram();
    out := out || E'# HELP alert_grouping_grouping_latency_seconds Time the engine took per statement, deciding and writing.\n'
               || E'# TYPE alert_grouping_grouping_latency_seconds histogram\n';
    FOR i IN 1 .. pg_catalog.cardinality(h.le) LOOP
        out := out || pg_catalog.format(E'alert_grouping_grouping_latency_seconds_bucket{le="%s"} %s\n',
                                        CASE WHEN h.le[i] = 'Infinity'::float8 THEN '+Inf' ELSE h.le[i]::text END,
                                        h.cumulative[i]);
    END LOOP;
    out := out || pg_catalog.format(E'alert_grouping_grouping_latency_seconds_sum %s\nalert_grouping_grouping_latency_seconds_count %s\n',
                                    h.sum_seconds, h.count);
    IF NOT c.server_wide THEN
        out := out || E'# HELP alert_grouping_worker_runs_total Background worker passes that acted or failed, by outcome.\n'
                   || E'# TYPE alert_grouping_worker_runs_total counter\n'
                   || (SELECT pg_catalog.format(E'alert_grouping_worker_runs_total{outcome="ok"} %s\nalert_grouping_worker_runs_total{outcome="failed"} %s\n',
                                                pg_catalog.count(*) FILTER (WHERE w.ok), pg_catalog.count(*) FILTER (WHERE NOT w.ok))
                         FROM alert_grouping.worker_runs AS w);
    END IF;
    RETURN out;
END
$$;

------------------------------------------------------------------------------------------
-- Row-level security
------------------------------------------------------------------------------------------
-- Viewers read uptime and status pages; admins configure components; the rollups, their
-- state and queue and the status history are written by the maintenance passes and triggers.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            ('uptime_rollups', 'admin', 'admin', 'admin'),
            ('uptime_rollup_state', 'admin', 'admin', 'admin'),
            ('uptime_changes', 'admin', 'admin', 'admin'),
            ('status_page_components', 'admin', 'admin', 'admin'),
            ('status_page_component_history', 'admin', 'admin', 'admin')) AS v(tbl, ins, upd, del)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE alert_grouping.%I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR SELECT '
            'USING (project_id = ANY (alert_grouping.member_project_array(''viewer'')))',
            t.tbl || '_select', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR INSERT '
            'WITH CHECK (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_insert', t.tbl, t.ins);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR UPDATE '
            'USING (project_id = ANY (alert_grouping.member_project_array(%L))) '
            'WITH CHECK (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_update', t.tbl, t.upd, t.upd);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR DELETE '
            'USING (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_delete', t.tbl, t.del);
    END LOOP;
END
$$;

-- pg_dump keeps their rows (the queue too: what it holds is not rolled up yet).
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.uptime_rollups', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.uptime_rollup_state', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.uptime_changes', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.uptime_changes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.status_page_components', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.status_page_component_history', '');
SELECT pg_catalog.pg_extension_config_dump('alert_grouping.status_page_component_history_id_seq', '');

------------------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------------------
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
        'alert_grouping.episode_owner_teams, alert_grouping.episode_labels, '
        'alert_grouping.monitors, alert_grouping.check_results, '
        'alert_grouping.maintenance_windows, alert_grouping.incidents, '
        'alert_grouping.incident_updates, alert_grouping.escalation_policies, '
        'alert_grouping.on_call_schedules, alert_grouping.on_call_overrides, '
        'alert_grouping.status_page_components TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON alert_grouping.project_counters, alert_grouping.engine_errors, '
        'alert_grouping.feature_flags, alert_grouping.episode_members, '
        'alert_grouping.daily_stats, alert_grouping.uptime_rollups, '
        'alert_grouping.uptime_rollup_state, alert_grouping.uptime_changes, '
        'alert_grouping.status_page_component_history, alert_grouping.stats TO %I', role);
    EXECUTE pg_catalog.format('GRANT SELECT, UPDATE ON alert_grouping.projects TO %I', role);
    -- The outbox is written by the escalation passes; readers mark what they delivered.
    EXECUTE pg_catalog.format(
        'GRANT SELECT, UPDATE (delivered_at) ON alert_grouping.notifications TO %I', role);
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

CREATE OR REPLACE FUNCTION alert_grouping.granted_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'current_user_id()', 'member_project_ids(text)', 'has_project_role(uuid,text)',
        'flag_enabled(text,uuid)', 'fingerprint(uuid,text,jsonb)', 'dedup_key_fingerprint(text)',
        'validate_rule(jsonb,jsonb,jsonb)', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'regroup(uuid,uuid,timestamptz,timestamptz)', 'ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)',
        'on_call_users(uuid,uuid,timestamptz)', 'uptime(uuid,uuid,timestamptz,timestamptz)',
        'uptime_seconds(uuid,uuid,timestamptz,timestamptz)',
        'component_uptime(uuid,uuid,timestamptz,timestamptz)']
$$;

------------------------------------------------------------------------------------------
-- distribute(): the new tables too
------------------------------------------------------------------------------------------
-- As in 0.6, with the uptime rollups, their state and queue, status page components and
-- their history co-located with alerts, and the uptime functions distributed.
CREATE OR REPLACE FUNCTION alert_grouping.distribute() RETURNS void
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
        'engine_errors', 'monitors', 'check_results', 'maintenance_windows', 'incidents',
        'incident_updates', 'on_call_schedules', 'on_call_overrides', 'escalation_policies',
        'notifications', 'uptime_rollups', 'uptime_rollup_state', 'uptime_changes',
        'status_page_components', 'status_page_component_history'];
    functions constant text[] := ARRAY['ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'regroup(uuid,uuid,timestamptz,timestamptz)',
        'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)',
        'on_call_users(uuid,uuid,timestamptz)', 'uptime(uuid,uuid,timestamptz,timestamptz)',
        'uptime_seconds(uuid,uuid,timestamptz,timestamptz)',
        'component_uptime(uuid,uuid,timestamptz,timestamptz)'];
    already boolean;
    work text[];
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
    -- Distributed by an earlier version: the tenant tables added since are distributed now.
    already := alert_grouping.is_distributed();
    work := ARRAY(SELECT u.t FROM pg_catalog.unnest(tenant_tables) WITH ORDINALITY AS u(t, i)
                   WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                                      WHERE p.logicalrelid = pg_catalog.format('alert_grouping.%I', u.t)::pg_catalog.regclass)
                   ORDER BY u.i);
    IF pg_catalog.cardinality(work) = 0 THEN
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
     WHERE c.connamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.contype = 'f'
       AND c.conparentid = 0  -- a partition's copy comes and goes with its parent's
       AND (NOT already OR c.conrelid::pg_catalog.regclass::text
                           IN (SELECT 'alert_grouping.' || pg_catalog.quote_ident(w) FROM pg_catalog.unnest(work) AS w));
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
      FROM alert_grouping.project_members AS m WHERE m.db_role IS NOT NULL AND NOT already;
    CREATE TEMPORARY TABLE alert_grouping_app_roles ON COMMIT DROP AS
    SELECT ar.role::text AS role_name, ar.granted_at FROM alert_grouping.application_roles AS ar
     WHERE NOT already;

    IF NOT already THEN
        FOREACH t IN ARRAY reference_tables LOOP
            PERFORM pg_catalog.create_reference_table(pg_catalog.format('alert_grouping.%I', t));
        END LOOP;
        PERFORM pg_catalog.create_distributed_table('alert_grouping.alerts', 'project_id');
    END IF;
    FOREACH t IN ARRAY work LOOP
        CONTINUE WHEN t = 'alerts';
        PERFORM pg_catalog.create_distributed_table(pg_catalog.format('alert_grouping.%I', t),
                                                    'project_id',
                                                    colocate_with => 'alert_grouping.alerts');
    END LOOP;

    FOR fk IN SELECT * FROM pg_temp.alert_grouping_fks ORDER BY oid LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.def);
    END LOOP;
    DROP TABLE pg_temp.alert_grouping_fks;
    -- Updated while distributed: what the update left to this function.
    PERFORM alert_grouping.add_0_5_triggers_and_keys();
    PERFORM alert_grouping.add_0_6_keys();
    PERFORM alert_grouping.add_0_7_triggers_and_keys();

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
        '               (''alert_grouping.engine_errors_id_seq''::pg_catalog.regclass), '
        '               (''alert_grouping.incident_updates_id_seq''::pg_catalog.regclass), '
        '        (''alert_grouping.uptime_changes_id_seq''::pg_catalog.regclass), '
        '        (''alert_grouping.status_page_component_history_id_seq''::pg_catalog.regclass)) AS s(seq)');

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
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
                AND a.grantee <> 0 AND a.grantee <> c.relowner
                AND EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS d WHERE d.logicalrelid = c.oid)
             UNION ALL
             SELECT pg_catalog.format('GRANT %s (%I) ON TABLE %s TO %s', a.privilege_type,
                                      att.attname, c.oid::pg_catalog.regclass,
                                      a.grantee::pg_catalog.regrole)
               FROM pg_catalog.pg_class AS c
               JOIN pg_catalog.pg_attribute AS att ON att.attrelid = c.oid,
                    pg_catalog.aclexplode(att.attacl) AS a
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
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

-- Internal: never executable by PUBLIC, except the check constraint's and the policies', and
-- what the validation triggers and on_call_users call as the role that writes or reads (each
-- reads through that role's policies, or reads nothing).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    alert_grouping.membership_is_valid(uuid, text, timestamptz, uuid, numeric),
    alert_grouping.member_project_array(text),
    alert_grouping.is_project_member(uuid, uuid),
    alert_grouping.schedule_time(text, text, text),
    alert_grouping.within_restrictions(jsonb, timestamp),
    alert_grouping.layer_on_call(jsonb, text, timestamptz),
    alert_grouping.schedule_on_call(uuid, uuid, timestamptz),
    alert_grouping.bucket_floor(timestamptz, text),
    alert_grouping.multirange_seconds(tstzmultirange),
    alert_grouping.uptime_hold(uuid, uuid, timestamptz, timestamptz) TO PUBLIC;

-- Roles granted access before this version get the new tables and functions too.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT ro.rolname
               FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a,
                    pg_catalog.pg_roles AS ro
              WHERE n.nspname = 'alert_grouping' AND a.privilege_type = 'USAGE'
                AND a.grantee <> n.nspowner AND ro.oid = a.grantee
              ORDER BY ro.rolname
    LOOP
        PERFORM alert_grouping.grant_access(r.rolname);
    END LOOP;
END
$$;

-- grant_access above recorded initial privileges for the relations, which a fresh install
-- has none of: they are the roles' own grants.
DELETE FROM pg_catalog.pg_init_privs AS ip
 WHERE ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.privtype = 'e'
   AND ip.objoid IN (SELECT d.objid FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                        AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                        AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                           WHERE e.extname = 'alert_grouping')
                        AND d.deptype = 'e');

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

------------------------------------------------------------------------------------------
-- Version 0.8: sql/alert_grouping--0.7--0.8.sql as it was released
------------------------------------------------------------------------------------------

-- 0.8: real alert sources. Alertmanager's and Grafana's webhook bodies and PagerDuty's Events
-- API v2 ingested as they are sent, by token through integrations (for the receiver,
-- alert_grouping_receiver); silences with Alertmanager's semantics; recurring maintenance
-- windows; prometheus_metrics for the receiver's /metrics.

------------------------------------------------------------------------------------------
-- Alertmanager and Grafana webhooks
------------------------------------------------------------------------------------------
-- A webhook body as the events ingest_batch takes (the mapping is the C++ core's, see
-- README, "Alertmanager and Grafana"): pure, so PUBLIC's.
CREATE FUNCTION alert_grouping.alertmanager_events(payload jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'ag_alertmanager_events'
LANGUAGE C IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION alert_grouping.grafana_events(payload jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'ag_grafana_events'
LANGUAGE C IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp;

-- Ingests a webhook body's events (see alertmanager_events): through ingest_batch, so the
-- caller must be a responder or admin of the project, and the whole body is stored or none of
-- it. Senders re-send whole groups, and retry: a firing entry whose fingerprint names an
-- active alert that started at the same time is that alert again, answered "unchanged" and
-- not counted as a duplicate. Reads through the caller's policies, writes through ingest_batch:
-- PUBLIC's, as the two entry points below call it as the caller.
CREATE FUNCTION alert_grouping.ingest_webhook_events(project_id uuid, events jsonb,
                                                     sender text)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    known uuid[];
    fresh jsonb;
    results uuid[];
    actions text[];
    n integer := pg_catalog.jsonb_array_length(events);
    i integer;
    j integer := 0;
BEGIN
    BEGIN
        -- The fingerprint's holder (its one active alert) through the fingerprint index, then
        -- its start compared: a burst of alerts sharing one start made the planner read them
        -- all through the time index instead (2 s a body of 100 at 44,000 stored).
        SELECT pg_catalog.array_agg(CASE WHEN h.created_at = x.ts THEN h.id END ORDER BY e.i),
               COALESCE(pg_catalog.jsonb_agg(e.v ORDER BY e.i)
                            FILTER (WHERE h.created_at IS NULL OR h.created_at <> x.ts), '[]')
          INTO known, fresh
          FROM pg_catalog.jsonb_array_elements(events) WITH ORDINALITY AS e(v, i)
         CROSS JOIN LATERAL (
              SELECT alert_grouping.dedup_key_fingerprint(e.v ->> 'dedup_key') AS fp,
                     CASE WHEN e.v ->> 'event_action' = 'trigger'
                          THEN (e.v -> 'payload' ->> 'timestamp')::timestamptz END AS ts) AS x
          LEFT JOIN LATERAL (
              SELECT a.id, a.created_at FROM alert_grouping.alerts AS a
               WHERE x.ts IS NOT NULL
                 AND a.project_id = ingest_webhook_events.project_id
                 AND a.fingerprint = x.fp
                 AND a.state <> 'resolved'
               ORDER BY a.created_at, a.id LIMIT 1) AS h ON true;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RAISE EXCEPTION 'payload field "alerts[].startsAt" must be a valid time: %', SQLERRM
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('sent by %s', sender);
    END;
    SELECT pg_catalog.array_agg(b.alert_id ORDER BY b.ord), pg_catalog.array_agg(b.action ORDER BY b.ord)
      INTO results, actions
      FROM alert_grouping.ingest_batch(ingest_webhook_events.project_id, fresh) WITH ORDINALITY AS b(alert_id, action, ord);
    FOR i IN 1 .. n LOOP
        IF known[i] IS NOT NULL THEN
            alert_id := known[i];
            action := 'unchanged';
        ELSE
            j := j + 1;
            alert_id := results[j];
            action := actions[j];
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- One alert per entry of Alertmanager's body, deduplicated by its fingerprint; a resolved
-- entry resolves the alert of its fingerprint at its endsAt.
CREATE FUNCTION alert_grouping.ingest_alertmanager(project_id uuid, payload jsonb)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF payload IS NULL THEN
        RAISE EXCEPTION 'payload must be a JSON object, not null' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT w.alert_id, w.action
                   FROM alert_grouping.ingest_webhook_events(
                            ingest_alertmanager.project_id, alert_grouping.alertmanager_events(payload),
                            'alertmanager') AS w;
END
$$;

-- Grafana's body, the same way.
CREATE FUNCTION alert_grouping.ingest_grafana(project_id uuid, payload jsonb)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF payload IS NULL THEN
        RAISE EXCEPTION 'payload must be a JSON object, not null' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT w.alert_id, w.action
                   FROM alert_grouping.ingest_webhook_events(
                            ingest_grafana.project_id, alert_grouping.grafana_events(payload),
                            'grafana') AS w;
END
$$;

------------------------------------------------------------------------------------------
-- Integrations: a token names a project
------------------------------------------------------------------------------------------
-- A sender's key to one project: its token (a PagerDuty routing key's shape, 32 characters)
-- is shown once, by create_integration or rotate_integration_token, and stored only as its
-- SHA-256.
CREATE TABLE alert_grouping.integrations (
    project_id uuid NOT NULL,  -- references projects (id): see add_0_8_keys
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    name text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('alertmanager', 'grafana', 'pagerduty')),
    token_sha256 bytea NOT NULL CHECK (pg_catalog.length(token_sha256) = 32),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_used_at timestamptz NULL,
    PRIMARY KEY (project_id, id)
);
CREATE INDEX integrations_token_idx ON alert_grouping.integrations (token_sha256);

CREATE FUNCTION alert_grouping.new_integration_token() RETURNS text
AS 'MODULE_PATHNAME', 'ag_new_integration_token'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION alert_grouping.token_sha256(token text) RETURNS bytea
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(token, 'UTF8'));
$$;

-- The caller administers the project (a role that bypasses row-level security, the project
-- exists): P0002 when it cannot see the project, 42501 when its role is lower.
CREATE FUNCTION alert_grouping.require_integration_admin(project_id uuid, action text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        IF NOT EXISTS (SELECT FROM alert_grouping.projects AS p WHERE p.id = require_integration_admin.project_id) THEN
            RAISE EXCEPTION 'project % not found', project_id USING ERRCODE = 'P0002';
        END IF;
    ELSIF NOT alert_grouping.has_project_role(project_id, 'admin') THEN
        IF alert_grouping.has_project_role(project_id, 'viewer') THEN
            RAISE EXCEPTION 'permission denied to % in project %', action, project_id
                USING ERRCODE = '42501', HINT = 'This needs the admin role in the project.';
        END IF;
        RAISE EXCEPTION 'project % not found', project_id USING ERRCODE = 'P0002';
    END IF;
END
$$;

-- A new integration of the project (admins): returns its token, which is stored nowhere else.
CREATE FUNCTION alert_grouping.create_integration(project_id uuid, name text, kind text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token text := alert_grouping.new_integration_token();
BEGIN
    PERFORM alert_grouping.require_integration_admin(project_id, 'create an integration');
    IF kind IS NULL OR kind NOT IN ('alertmanager', 'grafana', 'pagerduty') THEN
        RAISE EXCEPTION 'integration kind must be alertmanager, grafana or pagerduty, not %',
            COALESCE(pg_catalog.quote_literal(kind), 'null') USING ERRCODE = '22023';
    END IF;
    INSERT INTO alert_grouping.integrations (project_id, name, kind, token_sha256)
    VALUES (create_integration.project_id, create_integration.name, create_integration.kind,
            alert_grouping.token_sha256(token));
    RETURN token;
END
$$;

-- A new token for an integration (admins); the old one stops working at once.
CREATE FUNCTION alert_grouping.rotate_integration_token(project_id uuid, integration_id uuid)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token text := alert_grouping.new_integration_token();
BEGIN
    PERFORM alert_grouping.require_integration_admin(project_id, 'rotate a token');
    UPDATE alert_grouping.integrations AS i SET token_sha256 = alert_grouping.token_sha256(token)
     WHERE i.project_id = rotate_integration_token.project_id AND i.id = integration_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'integration % not found in project %', integration_id, project_id
            USING ERRCODE = 'P0002';
    END IF;
    RETURN token;
END
$$;

-- The enabled integration of a kind whose token this is, else 28000 (what a sender's bad key
-- is: the receiver answers 401/404). Marks it used.
CREATE FUNCTION alert_grouping.integration_for_token(token text, kind text,
                                                     OUT project_id uuid, OUT integration_id uuid)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF token IS NULL OR pg_catalog.length(token) <> 32 THEN
        RAISE EXCEPTION 'invalid integration token' USING ERRCODE = '28000';
    END IF;
    SELECT i.project_id, i.id INTO project_id, integration_id
      FROM alert_grouping.integrations AS i
     WHERE i.token_sha256 = alert_grouping.token_sha256(token)
       AND i.kind = integration_for_token.kind AND i.enabled;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invalid integration token' USING ERRCODE = '28000',
            HINT = 'The token is unknown, disabled, or for another kind of integration.';
    END IF;
    UPDATE alert_grouping.integrations AS i SET last_used_at = pg_catalog.now()
     WHERE i.project_id = integration_for_token.project_id AND i.id = integration_id
       AND (i.last_used_at IS NULL OR i.last_used_at < pg_catalog.now() - interval '1 minute');
END
$$;

-- What the receiver calls for POST /v1/alertmanager/<token> and /v1/grafana/<token>: the
-- token is its only key to a project (it runs as the extension's owner, for that project
-- only).
CREATE FUNCTION alert_grouping.receive_webhook(kind text, token text, payload jsonb)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target record;
BEGIN
    IF kind IS NULL OR kind NOT IN ('alertmanager', 'grafana') THEN
        RAISE EXCEPTION 'webhook kind must be alertmanager or grafana' USING ERRCODE = '22023';
    END IF;
    target := alert_grouping.integration_for_token(token, kind);
    IF payload IS NULL THEN
        RAISE EXCEPTION 'payload must be a JSON object, not null' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT w.alert_id, w.action
                   FROM alert_grouping.ingest_webhook_events(
                            target.project_id,
                            CASE kind WHEN 'alertmanager' THEN alert_grouping.alertmanager_events(payload)
                                      ELSE alert_grouping.grafana_events(payload) END,
                            kind) AS w;
END
$$;

-- A PagerDuty Events API v2 event, routed by its routing_key: PagerDuty's answer, or 22023
-- naming the field (PagerDuty's limits: the event 512 KB, summary 1,024 characters,
-- dedup_key 255), 28000 for an unknown or disabled key. The event's other fields (component,
-- group, class, custom_details, images, links, client, client_url) are kept in the alert's
-- details. A trigger without a dedup_key gets one, which the answer gives.
CREATE FUNCTION alert_grouping.ingest_pagerduty(event jsonb) RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target record;
    payload jsonb;
    action text;
    key text;
    mapped jsonb;
    f text;
BEGIN
    IF event IS NULL OR pg_catalog.jsonb_typeof(event) <> 'object' THEN
        RAISE EXCEPTION 'event must be a JSON object, not %', COALESCE(pg_catalog.jsonb_typeof(event), 'null')
            USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.octet_length(event::text) > 512 * 1024 THEN
        RAISE EXCEPTION 'event is larger than 512 KB' USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.jsonb_typeof(event -> 'routing_key') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'event field "routing_key" is required (a string)' USING ERRCODE = '22023';
    END IF;
    target := alert_grouping.integration_for_token(event ->> 'routing_key', 'pagerduty');
    action := COALESCE(event ->> 'event_action', '');
    IF action NOT IN ('trigger', 'acknowledge', 'resolve') THEN
        RAISE EXCEPTION 'event field "event_action" must be trigger, acknowledge or resolve'
            USING ERRCODE = '22023';
    END IF;
    key := event ->> 'dedup_key';
    IF event -> 'dedup_key' IS NOT NULL AND pg_catalog.jsonb_typeof(event -> 'dedup_key') <> 'null'
       AND (pg_catalog.jsonb_typeof(event -> 'dedup_key') <> 'string'
            OR pg_catalog.length(key) NOT BETWEEN 1 AND 255) THEN
        RAISE EXCEPTION 'event field "dedup_key" must be a string of 1 to 255 characters'
            USING ERRCODE = '22023';
    END IF;
    IF action = 'trigger' THEN
        payload := event -> 'payload';
        IF payload IS NULL OR pg_catalog.jsonb_typeof(payload) <> 'object' THEN
            RAISE EXCEPTION 'event field "payload" is required (an object)' USING ERRCODE = '22023';
        END IF;
        FOREACH f IN ARRAY ARRAY['summary', 'source', 'severity'] LOOP
            IF pg_catalog.jsonb_typeof(payload -> f) IS DISTINCT FROM 'string' OR payload ->> f = '' THEN
                RAISE EXCEPTION 'event field "payload.%" is required (a string)', f USING ERRCODE = '22023';
            END IF;
        END LOOP;
        IF pg_catalog.length(payload ->> 'summary') > 1024 THEN
            RAISE EXCEPTION 'event field "payload.summary" is longer than 1024 characters'
                USING ERRCODE = '22023';
        END IF;
        IF payload ->> 'severity' NOT IN ('critical', 'error', 'warning', 'info') THEN
            RAISE EXCEPTION 'event field "payload.severity" must be critical, error, warning or info'
                USING ERRCODE = '22023';
        END IF;
        key := COALESCE(key, pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''));
        mapped := pg_catalog.jsonb_build_object(
            'event_action', 'trigger', 'dedup_key', key,
            'payload', (payload - 'custom_details' - 'component' - 'group' - 'class')
                       || pg_catalog.jsonb_build_object('custom_details', pg_catalog.jsonb_strip_nulls(
                              pg_catalog.jsonb_build_object(
                                  'custom_details', payload -> 'custom_details',
                                  'component', payload -> 'component', 'group', payload -> 'group',
                                  'class', payload -> 'class', 'images', event -> 'images',
                                  'links', event -> 'links', 'client', event -> 'client',
                                  'client_url', event -> 'client_url'))),
            'description', payload ->> 'component');
    ELSE
        IF key IS NULL THEN
            RAISE EXCEPTION 'event field "dedup_key" is required for event_action "%"', action
                USING ERRCODE = '22023';
        END IF;
        mapped := pg_catalog.jsonb_build_object('event_action', action, 'dedup_key', key);
    END IF;
    -- One event: ingest(), whose single-row insert is decided before it is stored (ingest_batch
    -- of one event took 1.8 times as long).
    PERFORM alert_grouping.ingest(target.project_id, mapped);
    RETURN pg_catalog.jsonb_build_object('status', 'success', 'message', 'Event processed',
                                         'dedup_key', key);
END
$$;

SELECT pg_catalog.pg_extension_config_dump('alert_grouping.integrations', '');

------------------------------------------------------------------------------------------
-- Silences
------------------------------------------------------------------------------------------
-- Alertmanager's silences: while one is active (starts_at <= arrival < ends_at), an active
-- alert whose labels all its matchers match is stored and deduplicated but joins no episode
-- (so opens no incident and pages nobody); silenced_by records which silence held it. Once
-- the silence has ended (or been expired), the maintenance pass groups its still-active
-- alerts as if they arrived then, and sets silence_released_at.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE alert_grouping.alerts '
            'ADD COLUMN IF NOT EXISTS silenced_by uuid NULL, '
            'ADD COLUMN IF NOT EXISTS silence_released_at timestamptz NULL';
END
$$;

CREATE TABLE alert_grouping.silences (
    project_id uuid NOT NULL,  -- references projects (id): see add_0_8_keys
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    matchers text[] NOT NULL,
    starts_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ends_at timestamptz NOT NULL,
    -- The acting user's id, else the role. A default, not the trigger's: on Citus the trigger
    -- runs on the worker, where a role's grants from grant_access do not reach.
    created_by text NOT NULL DEFAULT COALESCE(alert_grouping.current_user_id()::text, CURRENT_USER::text),
    comment text NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id),
    CONSTRAINT silences_ends_after_start CHECK (ends_at >= starts_at)
);
CREATE INDEX silences_ends_idx ON alert_grouping.silences (project_id, ends_at);

-- Pure, PUBLIC's: the write trigger runs as the writer.
CREATE FUNCTION alert_grouping.validate_silence_matchers(matchers text[]) RETURNS void
AS 'MODULE_PATHNAME', 'ag_validate_silence_matchers'
LANGUAGE C IMMUTABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION alert_grouping.silences_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM alert_grouping.validate_silence_matchers(NEW.matchers);
    IF NEW.starts_at IS NULL OR NEW.ends_at IS NULL
       OR NOT pg_catalog.isfinite(NEW.starts_at) OR NOT pg_catalog.isfinite(NEW.ends_at) THEN
        RAISE EXCEPTION 'starts_at and ends_at must be finite times' USING ERRCODE = '22023';
    END IF;
    -- A new silence must last; an expired one may end where it started (expire_silence).
    IF NEW.ends_at < NEW.starts_at OR (TG_OP = 'INSERT' AND NEW.ends_at = NEW.starts_at) THEN
        RAISE EXCEPTION 'ends_at must be later than starts_at'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('starts_at %s, ends_at %s', NEW.starts_at, NEW.ends_at);
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.created_by := COALESCE(NULLIF(NEW.created_by, ''), CURRENT_USER::text);
    ELSE
        NEW.created_by := OLD.created_by;
        NEW.created_at := OLD.created_at;
        NEW.updated_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER silences_before_write BEFORE INSERT OR UPDATE ON alert_grouping.silences
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.silences_before_write();
-- The engine caches each project's silences with its rules.
CREATE TRIGGER silences_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON alert_grouping.silences
    FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.config_changed();

-- Ends a silence now (a pending one ends before it starts): Alertmanager's expire. The
-- alerts it held are grouped by the next maintenance pass. Returns when it ended.
CREATE FUNCTION alert_grouping.expire_silence(project_id uuid, id uuid) RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ended timestamptz;
BEGIN
    IF project_id IS NULL OR id IS NULL THEN
        RAISE EXCEPTION 'project_id and id must not be null' USING ERRCODE = '22004';
    END IF;
    UPDATE alert_grouping.silences AS s
       SET ends_at = LEAST(s.ends_at, pg_catalog.now()),
           starts_at = LEAST(s.starts_at, pg_catalog.now())
     WHERE s.project_id = expire_silence.project_id AND s.id = expire_silence.id
    RETURNING s.ends_at INTO ended;
    IF NOT FOUND THEN
        IF EXISTS (SELECT FROM alert_grouping.silences AS s
                    WHERE s.project_id = expire_silence.project_id AND s.id = expire_silence.id) THEN
            RAISE EXCEPTION 'permission denied to expire silence % in project %', id, project_id
                USING ERRCODE = '42501', HINT = 'This needs the responder role in the project.';
        END IF;
        RAISE EXCEPTION 'silence % not found in project %', id, project_id USING ERRCODE = 'P0002';
    END IF;
    RETURN ended;
END
$$;

-- Internal (run_maintenance's): see silence_functions.cpp.
CREATE FUNCTION alert_grouping.release_silenced(project_id uuid, at timestamptz) RETURNS integer
AS 'MODULE_PATHNAME', 'ag_release_silenced'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

-- A monitor's alert that a silence holds opens its incident when released, not before.
CREATE OR REPLACE FUNCTION alert_grouping.open_monitor_incidents(project_id uuid, alert_ids uuid[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    opened integer := 0;
BEGIN
    FOR a IN
        SELECT al.id, al.title, al.description, al.severity, al.created_at, al.episode_id,
               al.state, mo.id AS monitor_id, mo.name, mo.alert_after_failures,
               mo.escalation_policy_id, e.incident_id AS episode_incident
          FROM alert_grouping.alerts AS al
          JOIN alert_grouping.monitors AS mo
            ON mo.project_id = open_monitor_incidents.project_id AND mo.id = al.monitor_id
          LEFT JOIN alert_grouping.episodes AS e
            ON e.project_id = open_monitor_incidents.project_id AND e.id = al.episode_id
         WHERE al.project_id = open_monitor_incidents.project_id AND al.id = ANY (alert_ids)
           AND (al.silenced_by IS NULL OR al.silence_released_at IS NOT NULL)
         ORDER BY al.created_at, al.id
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM alert_grouping.incidents AS i
                               WHERE i.project_id = open_monitor_incidents.project_id
                                 AND i.alert_id = a.id AND i.status <> 'resolved');
        PERFORM alert_grouping.set_incident_reason(pg_catalog.format(
            'opened by monitor "%s" after %s consecutive failed check%s',
            a.name, a.alert_after_failures, CASE WHEN a.alert_after_failures = 1 THEN '' ELSE 's' END));
        INSERT INTO alert_grouping.incidents
            (project_id, title, description, severity, source, episode_id, monitor_id, alert_id,
             started_at, escalation_policy_id)
        VALUES (open_monitor_incidents.project_id, a.title, a.description, a.severity, 'monitor',
                CASE WHEN a.episode_incident IS NULL THEN a.episode_id END, a.monitor_id, a.id,
                a.created_at, a.escalation_policy_id);
        opened := opened + 1;
    END LOOP;
    RETURN opened;
END
$$;

SELECT pg_catalog.pg_extension_config_dump('alert_grouping.silences', '');

------------------------------------------------------------------------------------------
-- Recurring maintenance
------------------------------------------------------------------------------------------
-- A weekly recurrence of maintenance: on each of days (ISO: 1 Monday .. 7 Sunday), from
-- local_from to local_to on the wall clock of time_zone (ending the next day when local_to is
-- not after local_from), from starts_at until ends_at (NULL: no end). Each occurrence is a row
-- of maintenance_windows whose schedule_id names its schedule, written ahead (28 days) when
-- the schedule is written and by every maintenance pass: alert suppression, uptime and status
-- pages honour it as any other window, and deleting one occurrence skips it. Across a DST
-- change an occurrence keeps its wall-clock times: 01:00-04:00 lasts two hours on the night
-- the clocks go forward and four on the night they go back; a start or end in the skipped
-- hour is read as standard time, as PostgreSQL reads it.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE alert_grouping.maintenance_windows '
            'ADD COLUMN IF NOT EXISTS schedule_id uuid NULL';
END
$$;

CREATE TABLE alert_grouping.maintenance_schedules (
    project_id uuid NOT NULL,  -- references projects (id): see add_0_8_keys
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    title text NULL,
    days smallint[] NOT NULL,
    local_from time NOT NULL,
    local_to time NOT NULL,
    time_zone text NOT NULL DEFAULT 'UTC',
    starts_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ends_at timestamptz NULL,
    monitor_ids uuid[] NULL,
    suppress_alerts boolean NOT NULL DEFAULT true,
    -- The occurrences that start before this are written.
    planned_until timestamptz NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, id)
);

-- The occurrences of a weekly recurrence that start in [from_ts, to_ts), in order. Pure.
CREATE FUNCTION alert_grouping.schedule_occurrences(days smallint[], local_from time,
                                                    local_to time, time_zone text,
                                                    from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.s, o.e
      FROM pg_catalog.generate_series(((from_ts AT TIME ZONE time_zone)::date - 1)::timestamp,
                                      (to_ts AT TIME ZONE time_zone)::date::timestamp,
                                      interval '1 day') AS g(day)
     CROSS JOIN LATERAL (
         SELECT (g.day::date + local_from) AT TIME ZONE time_zone AS s,
                ((g.day::date + CASE WHEN local_to <= local_from THEN 1 ELSE 0 END) + local_to)
                    AT TIME ZONE time_zone AS e) AS o
     WHERE pg_catalog.date_part('isodow', g.day)::smallint = ANY (days)
       AND o.s < o.e AND o.s >= from_ts AND o.s < to_ts
     ORDER BY o.s
$$;

-- Writes a schedule's occurrences that start before `until` (at most a year ahead) and are
-- not written yet. PUBLIC's: the schedule trigger runs it as the writer, through whose
-- policies it reads and writes.
CREATE FUNCTION alert_grouping.plan_maintenance_schedule(project_id uuid, schedule_id uuid,
                                                         until timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
    lo timestamptz;
    hi timestamptz;
    n integer;
BEGIN
    SELECT * INTO s FROM alert_grouping.maintenance_schedules AS m
     WHERE m.project_id = plan_maintenance_schedule.project_id AND m.id = plan_maintenance_schedule.schedule_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    lo := COALESCE(s.planned_until, s.starts_at);
    IF until IS NULL OR NOT pg_catalog.isfinite(until) THEN
        RAISE EXCEPTION 'until must be a finite time' USING ERRCODE = '22023';
    END IF;
    hi := LEAST(until, COALESCE(s.ends_at, 'infinity'), pg_catalog.now() + interval '1 year');
    IF hi <= lo THEN
        RETURN 0;
    END IF;
    INSERT INTO alert_grouping.maintenance_windows
        (project_id, title, starts_at, ends_at, monitor_ids, suppress_alerts, schedule_id)
    SELECT s.project_id, s.title, o.starts_at, LEAST(o.ends_at, COALESCE(s.ends_at, 'infinity')),
           s.monitor_ids, s.suppress_alerts, s.id
      FROM alert_grouping.schedule_occurrences(s.days, s.local_from, s.local_to, s.time_zone, lo, hi) AS o;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE alert_grouping.maintenance_schedules AS m SET planned_until = hi
     WHERE m.project_id = s.project_id AND m.id = s.id;
    RETURN n;
END
$$;

CREATE FUNCTION alert_grouping.maintenance_schedules_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.days IS NULL OR pg_catalog.cardinality(NEW.days) = 0
       OR EXISTS (SELECT FROM pg_catalog.unnest(NEW.days) AS d(v) WHERE d.v IS NULL OR d.v NOT BETWEEN 1 AND 7) THEN
        RAISE EXCEPTION 'days must list ISO weekdays (1 Monday .. 7 Sunday)'
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('days %s', NEW.days);
    END IF;
    NEW.days := ARRAY(SELECT DISTINCT d.v FROM pg_catalog.unnest(NEW.days) AS d(v) ORDER BY d.v);
    BEGIN
        PERFORM pg_catalog.now() AT TIME ZONE NEW.time_zone;
    EXCEPTION WHEN invalid_parameter_value OR feature_not_supported THEN
        RAISE EXCEPTION 'time_zone "%" is not a known time zone', NEW.time_zone
            USING ERRCODE = '22023', HINT = 'Use a name from pg_timezone_names, such as Europe/Berlin.';
    END;
    IF NOT pg_catalog.isfinite(NEW.starts_at) OR (NEW.ends_at IS NOT NULL AND NOT pg_catalog.isfinite(NEW.ends_at)) THEN
        RAISE EXCEPTION 'starts_at and ends_at must be finite times' USING ERRCODE = '22023';
    END IF;
    IF NEW.ends_at <= NEW.starts_at THEN
        RAISE EXCEPTION 'ends_at must be later than starts_at' USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END
$$;

-- A new schedule is written ahead; a changed one has its occurrences that have not started
-- written again (one under way is left to end); a deleted one loses those, and the past ones
-- stay as plain windows (their uptime is history).
CREATE FUNCTION alert_grouping.maintenance_schedules_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF COALESCE(pg_catalog.current_setting('alert_grouping.restoring', true), 'off') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.days, NEW.local_from, NEW.local_to, NEW.time_zone, NEW.starts_at,
                             NEW.ends_at, NEW.monitor_ids, NEW.suppress_alerts, NEW.title)
                            IS NOT DISTINCT FROM
                            (OLD.days, OLD.local_from, OLD.local_to, OLD.time_zone, OLD.starts_at,
                             OLD.ends_at, OLD.monitor_ids, OLD.suppress_alerts, OLD.title) THEN
        RETURN NULL;  -- planned_until only
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM alert_grouping.maintenance_windows AS w
         WHERE w.project_id = OLD.project_id AND w.schedule_id = OLD.id AND w.starts_at > pg_catalog.now();
    END IF;
    IF TG_OP = 'DELETE' THEN
        UPDATE alert_grouping.maintenance_windows AS w SET schedule_id = NULL
         WHERE w.project_id = OLD.project_id AND w.schedule_id = OLD.id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        UPDATE alert_grouping.maintenance_schedules AS m
           SET planned_until = GREATEST(pg_catalog.now(), NEW.starts_at)
         WHERE m.project_id = NEW.project_id AND m.id = NEW.id;
    END IF;
    PERFORM alert_grouping.plan_maintenance_schedule(NEW.project_id, NEW.id,
                                                     pg_catalog.now() + interval '28 days');
    RETURN NULL;
END
$$;

CREATE TRIGGER maintenance_schedules_before_write
    BEFORE INSERT OR UPDATE ON alert_grouping.maintenance_schedules
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.maintenance_schedules_before_write();
CREATE TRIGGER maintenance_schedules_changed
    AFTER INSERT OR UPDATE OR DELETE ON alert_grouping.maintenance_schedules
    FOR EACH ROW EXECUTE FUNCTION alert_grouping.maintenance_schedules_changed();

SELECT pg_catalog.pg_extension_config_dump('alert_grouping.maintenance_schedules', '');

-- Row-level security of the new tables: members read; integrations are written by admins
-- (renamed, disabled, deleted; created through create_integration; members do not see the
-- tokens' hashes, see grant_access); responders silence and expire silences, admins delete
-- them; admins write maintenance schedules, as maintenance windows.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            ('integrations', 'admin', 'admin', 'admin'),
            ('silences', 'responder', 'responder', 'admin'),
            ('maintenance_schedules', 'admin', 'admin', 'admin')) AS v(tbl, ins, upd, del)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE alert_grouping.%I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR SELECT '
            'USING (project_id = ANY (alert_grouping.member_project_array(''viewer'')))',
            t.tbl || '_select', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR INSERT '
            'WITH CHECK (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_insert', t.tbl, t.ins);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR UPDATE '
            'USING (project_id = ANY (alert_grouping.member_project_array(%L))) '
            'WITH CHECK (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_update', t.tbl, t.upd, t.upd);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON alert_grouping.%I FOR DELETE '
            'USING (project_id = ANY (alert_grouping.member_project_array(%L)))',
            t.tbl || '_delete', t.tbl, t.del);
    END LOOP;
END
$$;

------------------------------------------------------------------------------------------
-- run_maintenance: silenced alerts released too
------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION alert_grouping.run_maintenance(at timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ep record;
    timeout integer;
    due timestamptz;
    n integer;
    delayed_resolved integer := 0;
    inactive_resolved integer := 0;
    rescheduled integer := 0;
    cleared integer := 0;
    notified integer;
    buckets integer;
    retention jsonb;
    components integer;
    project uuid;
    partitions text[];
    released integer := 0;
    planned integer := 0;
    sched record;
BEGIN
    IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
        RAISE EXCEPTION 'at must be a finite time' USING ERRCODE = '22023';
    END IF;
    -- Recurring maintenance written ahead, before anything reads the windows: 28 days ahead
    -- once fewer than 27 are written, so a schedule is planned about once a day, not at every
    -- pass.
    FOR sched IN SELECT m.project_id, m.id FROM alert_grouping.maintenance_schedules AS m
                  WHERE (m.planned_until IS NULL OR m.planned_until < run_maintenance.at + interval '27 days')
                    AND (m.ends_at IS NULL OR m.planned_until IS NULL OR m.planned_until < m.ends_at)
                  ORDER BY m.project_id, m.id LOOP
        planned := planned + alert_grouping.plan_maintenance_schedule(
            sched.project_id, sched.id, run_maintenance.at + interval '28 days');
    END LOOP;
    -- Alerts whose silence has ended are grouped first, so that what they open escalates in
    -- this pass. Only the projects with such alerts: one whose silences still hold is not
    -- visited.
    FOR project IN SELECT DISTINCT a.project_id FROM alert_grouping.alerts AS a
                    WHERE a.silenced_by IS NOT NULL AND a.silence_released_at IS NULL
                      AND NOT EXISTS (SELECT FROM alert_grouping.silences AS s
                                       WHERE s.project_id = a.project_id AND s.id = a.silenced_by
                                         AND s.ends_at > run_maintenance.at)
                    ORDER BY a.project_id LOOP
        released := released + alert_grouping.release_silenced(project, run_maintenance.at);
    END LOOP;
    -- Resolve delays. Each update checks again what it read, so two passes at once act once.
    FOR ep IN SELECT e.project_id, e.id, e.resolve_due_at
                FROM alert_grouping.episodes AS e
               WHERE e.resolve_due_at <= run_maintenance.at
               ORDER BY e.resolve_due_at, e.project_id, e.id
    LOOP
        UPDATE alert_grouping.episodes AS e
           SET state = 'resolved', resolved_at = e.resolve_due_at, resolve_due_at = NULL
         WHERE e.project_id = ep.project_id AND e.id = ep.id
           AND e.resolve_due_at <= run_maintenance.at AND e.state <> 'resolved'
           AND e.active_alert_count = 0;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 1 THEN
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, ep.resolve_due_at, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'all_alerts_resolved', 'after_delay', true));
            delayed_resolved := delayed_resolved + 1;
        ELSE
            UPDATE alert_grouping.episodes AS e SET resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.resolve_due_at <= run_maintenance.at;
        END IF;
    END LOOP;

    -- Inactivity timeouts.
    FOR ep IN SELECT e.project_id, e.id, e.state, e.last_activity_at, e.inactivity_check_at,
                     r.episode_config AS cfg
                FROM alert_grouping.episodes AS e
                LEFT JOIN alert_grouping.grouping_rules AS r
                  ON r.project_id = e.project_id AND r.id = e.rule_id
               WHERE e.inactivity_check_at <= run_maintenance.at
               ORDER BY e.inactivity_check_at, e.project_id, e.id
    LOOP
        timeout := (ep.cfg ->> 'inactivity_timeout_minutes')::integer;
        due := ep.last_activity_at + pg_catalog.make_interval(mins => timeout);
        IF ep.state = 'resolved' OR timeout IS NULL THEN
            UPDATE alert_grouping.episodes AS e SET inactivity_check_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            cleared := cleared + n;
        ELSIF due > run_maintenance.at THEN
            UPDATE alert_grouping.episodes AS e SET inactivity_check_at = due
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            rescheduled := rescheduled + n;
        ELSE
            -- The episode first, so that its member trigger does not resolve it again.
            UPDATE alert_grouping.episodes AS e
               SET state = 'resolved', resolved_at = due, inactivity_check_at = NULL,
                   resolve_due_at = NULL
             WHERE e.project_id = ep.project_id AND e.id = ep.id
               AND e.inactivity_check_at = ep.inactivity_check_at AND e.state <> 'resolved'
               AND e.last_activity_at = ep.last_activity_at;
            GET DIAGNOSTICS n = ROW_COUNT;
            CONTINUE WHEN n = 0;
            UPDATE alert_grouping.alerts AS a
               SET state = 'resolved', resolved_at = due
             WHERE a.project_id = ep.project_id AND a.episode_id = ep.id AND a.state <> 'resolved';
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM alert_grouping.add_episode_event(
                ep.project_id, ep.id, due, 'resolved',
                pg_catalog.jsonb_build_object('reason', 'inactivity_timeout',
                                              'inactivity_timeout_minutes', timeout,
                                              'last_activity_at', ep.last_activity_at,
                                              'alerts_resolved', n));
            inactive_resolved := inactive_resolved + 1;
        END IF;
    END LOOP;

    -- After the resolves above, which stop the escalation of their incidents.
    notified := alert_grouping.process_escalations(run_maintenance.at);
    buckets := alert_grouping.rollup_uptime(run_maintenance.at);
    retention := alert_grouping.cleanup(run_maintenance.at) - 'at';
    -- Maintenance windows start and end without an event: every component again.
    components := 0;
    FOR project IN SELECT DISTINCT c.project_id FROM alert_grouping.status_page_components AS c LOOP
        components := components + alert_grouping.refresh_component_status(project, NULL, run_maintenance.at);
    END LOOP;

    partitions := alert_grouping.create_check_partitions(run_maintenance.at);
    RETURN pg_catalog.jsonb_build_object(
        'at', run_maintenance.at,
        'silenced_alerts_released', released,
        'maintenance_occurrences_planned', planned,
        'episodes_resolved_after_delay', delayed_resolved,
        'episodes_resolved_inactive', inactive_resolved,
        'inactivity_checks_moved', rescheduled,
        'inactivity_checks_cleared', cleared,
        'notifications', notified,
        'uptime_buckets', buckets,
        'retention', retention,
        'components_changed', components,
        'check_partitions_created', pg_catalog.to_jsonb(partitions));
END
$$;

------------------------------------------------------------------------------------------
-- Metrics for the receiver's /metrics
------------------------------------------------------------------------------------------
-- The counters are server-wide (shared memory when preloaded, every project's rows
-- otherwise): the function reads them as the owner, and only a role the DBA grants it to by
-- name (GRANT EXECUTE ON FUNCTION alert_grouping.prometheus_metrics() TO receiver) runs it;
-- grant_access does not grant it.
ALTER FUNCTION alert_grouping.prometheus_metrics() SECURITY DEFINER;

-- The key to projects (on Citus, distribute() makes it instead).
CREATE FUNCTION alert_grouping.add_0_8_keys() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                    WHERE c.conrelid = 'alert_grouping.integrations'::pg_catalog.regclass
                      AND c.contype = 'f') THEN
        EXECUTE 'ALTER TABLE alert_grouping.integrations ADD FOREIGN KEY (project_id) '
                'REFERENCES alert_grouping.projects (id) ON DELETE CASCADE';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                    WHERE c.conrelid = 'alert_grouping.silences'::pg_catalog.regclass
                      AND c.contype = 'f') THEN
        EXECUTE 'ALTER TABLE alert_grouping.silences ADD FOREIGN KEY (project_id) '
                'REFERENCES alert_grouping.projects (id) ON DELETE CASCADE';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                    WHERE c.conrelid = 'alert_grouping.maintenance_schedules'::pg_catalog.regclass
                      AND c.contype = 'f') THEN
        EXECUTE 'ALTER TABLE alert_grouping.maintenance_schedules ADD FOREIGN KEY (project_id) '
                'REFERENCES alert_grouping.projects (id) ON DELETE CASCADE';
    END IF;
    -- The alerts silences still hold: what each maintenance pass looks at.
    EXECUTE 'CREATE INDEX IF NOT EXISTS alerts_silence_held_idx ON alert_grouping.alerts '
            '(project_id) WHERE silenced_by IS NOT NULL AND silence_released_at IS NULL';
END
$$;

DO $$
BEGIN
    IF NOT alert_grouping.is_distributed() THEN
        PERFORM alert_grouping.add_0_8_keys();
    END IF;
END
$$;

------------------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------------------
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
        'alert_grouping.episode_owner_teams, alert_grouping.episode_labels, '
        'alert_grouping.monitors, alert_grouping.check_results, '
        'alert_grouping.maintenance_windows, alert_grouping.incidents, '
        'alert_grouping.incident_updates, alert_grouping.escalation_policies, '
        'alert_grouping.on_call_schedules, alert_grouping.on_call_overrides, '
        'alert_grouping.status_page_components, alert_grouping.silences, '
        'alert_grouping.maintenance_schedules TO %I', role);
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON alert_grouping.project_counters, alert_grouping.engine_errors, '
        'alert_grouping.feature_flags, alert_grouping.episode_members, '
        'alert_grouping.daily_stats, alert_grouping.uptime_rollups, '
        'alert_grouping.uptime_rollup_state, alert_grouping.uptime_changes, '
        'alert_grouping.status_page_component_history, alert_grouping.stats TO %I', role);
    EXECUTE pg_catalog.format('GRANT SELECT, UPDATE ON alert_grouping.projects TO %I', role);
    -- The outbox is written by the escalation passes; readers mark what they delivered.
    EXECUTE pg_catalog.format(
        'GRANT SELECT, UPDATE (delivered_at) ON alert_grouping.notifications TO %I', role);
    -- Integrations: members see them but not their tokens' hashes; admins write them
    -- (create_integration and rotate_integration_token make the tokens).
    EXECUTE pg_catalog.format(
        'GRANT SELECT (project_id, id, name, kind, enabled, created_at, last_used_at), '
        'INSERT (project_id, name, kind, token_sha256), UPDATE (name, enabled, token_sha256), '
        'DELETE ON alert_grouping.integrations TO %I', role);
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

CREATE OR REPLACE FUNCTION alert_grouping.granted_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'current_user_id()', 'member_project_ids(text)', 'has_project_role(uuid,text)',
        'flag_enabled(text,uuid)', 'fingerprint(uuid,text,jsonb)', 'dedup_key_fingerprint(text)',
        'validate_rule(jsonb,jsonb,jsonb)', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'regroup(uuid,uuid,timestamptz,timestamptz)', 'ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)',
        'on_call_users(uuid,uuid,timestamptz)', 'uptime(uuid,uuid,timestamptz,timestamptz)',
        'uptime_seconds(uuid,uuid,timestamptz,timestamptz)',
        'component_uptime(uuid,uuid,timestamptz,timestamptz)',
        'ingest_alertmanager(uuid,jsonb)', 'ingest_grafana(uuid,jsonb)',
        'create_integration(uuid,text,text)', 'rotate_integration_token(uuid,uuid)',
        'ingest_pagerduty(jsonb)', 'receive_webhook(text,text,jsonb)', 'expire_silence(uuid,uuid)']
$$;

------------------------------------------------------------------------------------------
-- distribute(): the new tables too
------------------------------------------------------------------------------------------
-- As in 0.7, with integrations, silences and maintenance schedules co-located with alerts,
-- and the webhook entry points, expire_silence and release_silenced distributed by
-- project_id (a token's lookup reads every node: receive_webhook and ingest_pagerduty stay on
-- the coordinator).
CREATE OR REPLACE FUNCTION alert_grouping.distribute() RETURNS void
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
        'engine_errors', 'monitors', 'check_results', 'maintenance_windows', 'incidents',
        'incident_updates', 'on_call_schedules', 'on_call_overrides', 'escalation_policies',
        'notifications', 'uptime_rollups', 'uptime_rollup_state', 'uptime_changes',
        'status_page_components', 'status_page_component_history', 'integrations', 'silences',
        'maintenance_schedules'];
    functions constant text[] := ARRAY['ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'regroup(uuid,uuid,timestamptz,timestamptz)',
        'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)',
        'on_call_users(uuid,uuid,timestamptz)', 'uptime(uuid,uuid,timestamptz,timestamptz)',
        'uptime_seconds(uuid,uuid,timestamptz,timestamptz)',
        'component_uptime(uuid,uuid,timestamptz,timestamptz)',
        'ingest_alertmanager(uuid,jsonb)', 'ingest_grafana(uuid,jsonb)',
        'expire_silence(uuid,uuid)', 'release_silenced(uuid,timestamptz)'];
    already boolean;
    work text[];
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
    -- Distributed by an earlier version: the tenant tables added since are distributed now.
    already := alert_grouping.is_distributed();
    work := ARRAY(SELECT u.t FROM pg_catalog.unnest(tenant_tables) WITH ORDINALITY AS u(t, i)
                   WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                                      WHERE p.logicalrelid = pg_catalog.format('alert_grouping.%I', u.t)::pg_catalog.regclass)
                   ORDER BY u.i);
    IF pg_catalog.cardinality(work) = 0 THEN
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
     WHERE c.connamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.contype = 'f'
       AND c.conparentid = 0  -- a partition's copy comes and goes with its parent's
       AND (NOT already OR c.conrelid::pg_catalog.regclass::text
                           IN (SELECT 'alert_grouping.' || pg_catalog.quote_ident(w) FROM pg_catalog.unnest(work) AS w));
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
      FROM alert_grouping.project_members AS m WHERE m.db_role IS NOT NULL AND NOT already;
    CREATE TEMPORARY TABLE alert_grouping_app_roles ON COMMIT DROP AS
    SELECT ar.role::text AS role_name, ar.granted_at FROM alert_grouping.application_roles AS ar
     WHERE NOT already;

    IF NOT already THEN
        FOREACH t IN ARRAY reference_tables LOOP
            PERFORM pg_catalog.create_reference_table(pg_catalog.format('alert_grouping.%I', t));
        END LOOP;
        PERFORM pg_catalog.create_distributed_table('alert_grouping.alerts', 'project_id');
    END IF;
    FOREACH t IN ARRAY work LOOP
        CONTINUE WHEN t = 'alerts';
        PERFORM pg_catalog.create_distributed_table(pg_catalog.format('alert_grouping.%I', t),
                                                    'project_id',
                                                    colocate_with => 'alert_grouping.alerts');
    END LOOP;

    FOR fk IN SELECT * FROM pg_temp.alert_grouping_fks ORDER BY oid LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.def);
    END LOOP;
    DROP TABLE pg_temp.alert_grouping_fks;
    -- Updated while distributed: what the update left to this function.
    PERFORM alert_grouping.add_0_5_triggers_and_keys();
    PERFORM alert_grouping.add_0_6_keys();
    PERFORM alert_grouping.add_0_7_triggers_and_keys();
    PERFORM alert_grouping.add_0_8_keys();

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
        '               (''alert_grouping.engine_errors_id_seq''::pg_catalog.regclass), '
        '               (''alert_grouping.incident_updates_id_seq''::pg_catalog.regclass), '
        '        (''alert_grouping.uptime_changes_id_seq''::pg_catalog.regclass), '
        '        (''alert_grouping.status_page_component_history_id_seq''::pg_catalog.regclass)) AS s(seq)');

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
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
                AND a.grantee <> 0 AND a.grantee <> c.relowner
                AND EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS d WHERE d.logicalrelid = c.oid)
             UNION ALL
             SELECT pg_catalog.format('GRANT %s (%I) ON TABLE %s TO %s', a.privilege_type,
                                      att.attname, c.oid::pg_catalog.regclass,
                                      a.grantee::pg_catalog.regrole)
               FROM pg_catalog.pg_class AS c
               JOIN pg_catalog.pg_attribute AS att ON att.attrelid = c.oid,
                    pg_catalog.aclexplode(att.attacl) AS a
              WHERE c.relnamespace = 'alert_grouping'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
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

-- Internal: never executable by PUBLIC, except the check constraint's and the policies', and
-- what the validation triggers and on_call_users call as the role that writes or reads (each
-- reads through that role's policies, or reads nothing).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    alert_grouping.membership_is_valid(uuid, text, timestamptz, uuid, numeric),
    alert_grouping.member_project_array(text),
    alert_grouping.is_project_member(uuid, uuid),
    alert_grouping.schedule_time(text, text, text),
    alert_grouping.within_restrictions(jsonb, timestamp),
    alert_grouping.layer_on_call(jsonb, text, timestamptz),
    alert_grouping.schedule_on_call(uuid, uuid, timestamptz),
    alert_grouping.bucket_floor(timestamptz, text),
    alert_grouping.multirange_seconds(tstzmultirange),
    alert_grouping.uptime_hold(uuid, uuid, timestamptz, timestamptz),
    alert_grouping.alertmanager_events(jsonb),
    alert_grouping.grafana_events(jsonb),
    alert_grouping.ingest_webhook_events(uuid, jsonb, text),
    alert_grouping.new_integration_token(),
    alert_grouping.token_sha256(text),
    alert_grouping.require_integration_admin(uuid, text),
    alert_grouping.validate_silence_matchers(text[]),
    alert_grouping.schedule_occurrences(smallint[], time, time, text, timestamptz, timestamptz),
    alert_grouping.plan_maintenance_schedule(uuid, uuid, timestamptz) TO PUBLIC;

-- Roles granted access before this version get the new tables and functions too.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT ro.rolname
               FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a,
                    pg_catalog.pg_roles AS ro
              WHERE n.nspname = 'alert_grouping' AND a.privilege_type = 'USAGE'
                AND a.grantee <> n.nspowner AND ro.oid = a.grantee
              ORDER BY ro.rolname
    LOOP
        PERFORM alert_grouping.grant_access(r.rolname);
    END LOOP;
END
$$;

-- grant_access above recorded initial privileges for the relations, which a fresh install
-- has none of: they are the roles' own grants.
DELETE FROM pg_catalog.pg_init_privs AS ip
 WHERE ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.privtype = 'e'
   AND ip.objoid IN (SELECT d.objid FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                        AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                        AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                           WHERE e.extname = 'alert_grouping')
                        AND d.deptype = 'e');

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
