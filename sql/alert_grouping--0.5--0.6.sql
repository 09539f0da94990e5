-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION alert_grouping UPDATE TO '0.6'" to load this file. \quit

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
