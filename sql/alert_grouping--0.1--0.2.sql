-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION alert_grouping UPDATE TO '0.2'" to load this file. \quit

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
