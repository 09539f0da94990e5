-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION alert_grouping UPDATE TO '0.7'" to load this file. \quit

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
