-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION alert_grouping UPDATE TO '0.8'" to load this file. \quit

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
