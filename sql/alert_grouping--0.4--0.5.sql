-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION alert_grouping UPDATE TO '0.5'" to load this file. \quit

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
