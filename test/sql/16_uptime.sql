-- Uptime, time-weighted to the second: a check's state holds until the next check, at most two
-- check intervals, then the time is unknown; maintenance-window time is maintenance. Checked
-- against a brute-force second-by-second reference over random histories with gaps, late
-- arrivals and maintenance, from the raw data and from the incremental rollups.
SET TimeZone = 'UTC';
SELECT setseed(0.17);
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000161', 'uptime');
INSERT INTO alert_grouping.monitors (project_id, id, name, check_interval, auto_create_alerts)
SELECT '00000000-0000-0000-0000-000000000161', ('00000000-0000-0000-0000-0000000016' || lpad(g::text, 2, '0'))::uuid, 'm' || g,
       (ARRAY['1 minute', '30 seconds', '5 minutes'])[1 + g % 3]::interval, false
  FROM generate_series(1, 3) g;

CREATE TABLE public.ranges (mon uuid, f timestamptz, t timestamptz);
-- The monitors, in a local table: random data is drawn here, whatever stores the monitors.
CREATE TABLE public.mons AS
SELECT ('00000000-0000-0000-0000-0000000016' || lpad(g::text, 2, '0'))::uuid AS id,
       (ARRAY['1 minute', '30 seconds', '5 minutes'])[1 + g % 3]::interval AS check_interval
  FROM generate_series(1, 3) g;

-- The reference: each second [s, s+1) is maintenance when a window of the monitor covers it,
-- else the state of the latest check at or before s (of two at once, the failure) if s is
-- within two check intervals of it, else unknown. Classified once per second of the history
-- (again after the late arrivals), then counted per range.
CREATE TABLE public.seconds (mon uuid, s timestamptz, k text, PRIMARY KEY (mon, s));
CREATE TABLE public.checks (monitor_id uuid, checked_at timestamptz, ok boolean);
CREATE INDEX ON public.checks (monitor_id, checked_at);
CREATE TABLE public.windows (starts_at timestamptz, ends_at timestamptz, monitor_ids uuid[]);
CREATE FUNCTION public.classify() RETURNS void LANGUAGE sql AS $$
  DELETE FROM public.seconds; DELETE FROM public.checks; DELETE FROM public.windows;
  INSERT INTO public.checks SELECT monitor_id, checked_at, ok FROM alert_grouping.check_results
   WHERE project_id = '00000000-0000-0000-0000-000000000161';
  INSERT INTO public.windows SELECT starts_at, ends_at, monitor_ids FROM alert_grouping.maintenance_windows
   WHERE project_id = '00000000-0000-0000-0000-000000000161';
  INSERT INTO public.seconds
  SELECT m.id, s,
         CASE WHEN EXISTS (SELECT 1 FROM public.windows w
                            WHERE (w.monitor_ids IS NULL OR m.id = ANY (w.monitor_ids))
                              AND w.starts_at <= s AND s < w.ends_at) THEN 'maint'
              ELSE COALESCE((SELECT CASE WHEN s < c.checked_at + 2 * m.check_interval THEN CASE WHEN c.ok THEN 'up' ELSE 'down' END END
                               FROM public.checks c
                              WHERE c.monitor_id = m.id AND c.checked_at <= s
                              ORDER BY c.checked_at DESC, c.ok LIMIT 1), 'unknown') END
    FROM public.mons m,
         generate_series('2026-11-19 23:50+00'::timestamptz, '2026-11-20 02:20+00'::timestamptz - interval '1 second', interval '1 second') AS s;
$$;
CREATE FUNCTION public.brute(mon uuid, f timestamptz, t timestamptz, OUT up bigint, OUT down bigint, OUT maint bigint, OUT unknown bigint)
LANGUAGE sql AS $$
  SELECT count(*) FILTER (WHERE k = 'up'), count(*) FILTER (WHERE k = 'down'),
         count(*) FILTER (WHERE k = 'maint'), count(*) FILTER (WHERE k = 'unknown')
    FROM public.seconds WHERE seconds.mon = brute.mon AND s >= f AND s < t
$$;

-- Two hours of checks at random seconds (gaps longer than two intervals are unknown time),
-- and a maintenance window of every monitor.
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
SELECT '00000000-0000-0000-0000-000000000161', m.id, '2026-11-20 00:00+00'::timestamptz + make_interval(secs => floor(random() * 2 * 3600)), random() < 0.8
  FROM public.mons m, generate_series(1, (2 * 3600 / extract(epoch FROM m.check_interval))::int);
INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at, monitor_ids)
VALUES ('00000000-0000-0000-0000-000000000161', '2026-11-20 00:40+00', '2026-11-20 00:57:30+00', NULL);
SELECT public.classify();
INSERT INTO public.ranges
SELECT m.id, f, f + make_interval(secs => d)
  FROM public.mons m,
       LATERAL (SELECT '2026-11-19 23:50+00'::timestamptz + make_interval(secs => floor(random() * 1.5 * 3600)) AS f,
                       floor(random() * 3600) AS d FROM generate_series(1, 5)) r
UNION ALL SELECT m.id, '2026-11-19 23:50+00', '2026-11-20 02:20+00' FROM public.mons m
UNION ALL SELECT m.id, '2026-11-20 01:00+00', '2026-11-20 01:00+00' FROM public.mons m;

-- From the raw data: every range, to the second.
SELECT count(*) AS ranges,
       count(*) FILTER (WHERE (u.up_seconds, u.down_seconds, u.maintenance_seconds, u.unknown_seconds)
                              IS DISTINCT FROM (b.up::numeric, b.down::numeric, b.maint::numeric, b.unknown::numeric)) AS differing,
       sum(b.up) > 0 AND sum(b.down) > 0 AND sum(b.maint) > 0 AND sum(b.unknown) > 0 AS every_kind_of_time
  FROM public.ranges r, LATERAL alert_grouping.uptime_seconds('00000000-0000-0000-0000-000000000161', r.mon, r.f, r.t) u,
       LATERAL public.brute(r.mon, r.f, r.t) b;

-- Rollups: the completed hours; a second run with nothing new does nothing.
SELECT alert_grouping.rollup_uptime('2026-11-20 01:30+00') > 0 AS rolled_up;
SELECT alert_grouping.rollup_uptime('2026-11-20 01:40+00') AS nothing_new;
SELECT monitor_id, rolled_up_until FROM alert_grouping.uptime_rollup_state
 WHERE project_id = '00000000-0000-0000-0000-000000000161' ORDER BY monitor_id;
-- Late results in hours already rolled up, and a window added afterwards: until the next run
-- uptime() reads the raw data; the next run corrects the buckets they fall in and those their
-- state carries into, and rolls up the hours completed since.
INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
SELECT '00000000-0000-0000-0000-000000000161', m.id, '2026-11-20 00:00+00'::timestamptz + make_interval(secs => floor(random() * 3600)), false
  FROM public.mons m, generate_series(1, 5);
INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at, monitor_ids)
VALUES ('00000000-0000-0000-0000-000000000161', '2026-11-20 00:50+00', '2026-11-20 01:20+00', ARRAY['00000000-0000-0000-0000-000000001601'::uuid]);
SELECT public.classify();
SELECT count(*) AS ranges,
       count(*) FILTER (WHERE round(alert_grouping.uptime('00000000-0000-0000-0000-000000000161', r.mon, r.f, r.t), 12)
                              IS DISTINCT FROM round(b.up::numeric / NULLIF(b.up + b.down, 0), 12)) AS differing_before_the_run
  FROM public.ranges r, LATERAL public.brute(r.mon, r.f, r.t) b;
SELECT alert_grouping.rollup_uptime('2026-11-20 02:10+00') > 0 AS corrected;
SELECT alert_grouping.rollup_uptime('2026-11-20 02:10+00') AS nothing_new;
-- Every hourly bucket is the raw data's hour, every daily one the sum of its hours.
CREATE TABLE public.hourly AS SELECT * FROM alert_grouping.uptime_rollups
 WHERE project_id = '00000000-0000-0000-0000-000000000161' AND granularity = 'hour';
SELECT count(*) AS hourly_buckets,
       count(*) FILTER (WHERE (r.up_seconds, r.down_seconds, r.maintenance_seconds, r.unknown_seconds, r.checks, r.failures)
                              IS DISTINCT FROM (s.up_seconds, s.down_seconds, s.maintenance_seconds, s.unknown_seconds, s.checks, s.failures)) AS differing
  FROM (SELECT * FROM public.hourly) r,
       LATERAL alert_grouping.uptime_seconds(r.project_id, r.monitor_id, r.bucket_start, r.bucket_start + interval '1 hour') s;
SELECT count(*) AS daily_buckets,
       count(*) FILTER (WHERE (d.up_seconds, d.down_seconds, d.checks) IS DISTINCT FROM
                              (SELECT (sum(h.up_seconds), sum(h.down_seconds), sum(h.checks)::integer) FROM alert_grouping.uptime_rollups h
                                WHERE h.project_id = d.project_id AND h.monitor_id = d.monitor_id AND h.granularity = 'hour'
                                  AND h.bucket_start >= d.bucket_start AND h.bucket_start < d.bucket_start + interval '1 day')) AS differing
  FROM alert_grouping.uptime_rollups d WHERE d.project_id = '00000000-0000-0000-0000-000000000161' AND d.granularity = 'day';
-- uptime() from the rollups and the raw edges: what the raw data gives, for every range.
SELECT count(*) AS ranges,
       count(*) FILTER (WHERE round(alert_grouping.uptime('00000000-0000-0000-0000-000000000161', r.mon, r.f, r.t), 12)
                              IS DISTINCT FROM round(b.up::numeric / NULLIF(b.up + b.down, 0), 12)) AS differing,
       count(*) FILTER (WHERE b.up + b.down = 0) AS nothing_known
  FROM public.ranges r, LATERAL public.brute(r.mon, r.f, r.t) b;

-- Whole hours are read from the rollups: a bucket changed by hand changes the answer.
BEGIN;
UPDATE alert_grouping.uptime_rollups SET up_seconds = up_seconds + 600, down_seconds = down_seconds - LEAST(down_seconds, 600)
 WHERE project_id = '00000000-0000-0000-0000-000000000161' AND monitor_id = '00000000-0000-0000-0000-000000001601'
   AND granularity = 'hour' AND bucket_start = '2026-11-20 01:00+00';
SELECT round(alert_grouping.uptime('00000000-0000-0000-0000-000000000161', '00000000-0000-0000-0000-000000001601',
                                   '2026-11-19 23:50+00', '2026-11-20 02:20+00'), 12)
       IS DISTINCT FROM (SELECT round(b.up::numeric / NULLIF(b.up + b.down, 0), 12)
                           FROM public.brute('00000000-0000-0000-0000-000000001601', '2026-11-19 23:50+00', '2026-11-20 02:20+00') b)
       AS answer_from_the_rollups;
ROLLBACK;

-- Bad input.
\set VERBOSITY terse
SELECT alert_grouping.uptime('00000000-0000-0000-0000-000000000161', '00000000-0000-0000-0000-0000000016ff', now() - interval '1 day', now());
SELECT alert_grouping.uptime('00000000-0000-0000-0000-000000000161', '00000000-0000-0000-0000-000000001601', now(), now() - interval '1 day');
SELECT alert_grouping.rollup_uptime('infinity');
\set VERBOSITY default

DROP FUNCTION public.brute(uuid, timestamptz, timestamptz), public.classify();
DROP TABLE public.ranges, public.seconds, public.mons, public.checks, public.windows, public.hourly;
