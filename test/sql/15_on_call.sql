-- On-call schedules: rotations across both DST changes of 2026 in two time zones (a turn of
-- whole days hands off at the same local time, other turns are exact durations), weekly
-- restrictions, restrictions that wrap past midnight, later layers winning, overrides
-- winning over layers, and answers that do not depend on the session's TimeZone.
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000151', 'on call');
INSERT INTO alert_grouping.project_members (project_id, user_id, role)
SELECT '00000000-0000-0000-0000-000000000151', u, 'responder'
  FROM (VALUES ('00000000-0000-0000-0000-0000000015a1'::uuid), ('00000000-0000-0000-0000-0000000015b2'),
               ('00000000-0000-0000-0000-0000000015c3'), ('00000000-0000-0000-0000-0000000015d4')) AS v(u);
-- Names for the users, and who a schedule has on call at a time.
CREATE FUNCTION public.on_call(schedule text, at timestamptz) RETURNS text LANGUAGE sql AS $$
    SELECT COALESCE(string_agg(CASE u WHEN '00000000-0000-0000-0000-0000000015a1' THEN 'ann'
                                      WHEN '00000000-0000-0000-0000-0000000015b2' THEN 'bob'
                                      WHEN '00000000-0000-0000-0000-0000000015c3' THEN 'cid'
                                      WHEN '00000000-0000-0000-0000-0000000015d4' THEN 'dee' END, ',' ORDER BY u), 'nobody')
      FROM alert_grouping.on_call_users('00000000-0000-0000-0000-000000000151',
               (SELECT s.id FROM alert_grouping.on_call_schedules s
                 WHERE s.project_id = '00000000-0000-0000-0000-000000000151' AND s.name = schedule), at) AS u
$$;

INSERT INTO alert_grouping.on_call_schedules (project_id, name, time_zone, layers) VALUES
    -- Berlin, daily turns handing off at 09:00 local; the start has no offset, so it is 09:00
    -- in the schedule's time zone (stored as that instant).
    ('00000000-0000-0000-0000-000000000151', 'berlin daily', 'Europe/Berlin',
     '[{"rotation_start": "2026-03-26 09:00", "turn_length_hours": 24,
        "members": ["00000000-0000-0000-0000-0000000015a1", "00000000-0000-0000-0000-0000000015b2", "00000000-0000-0000-0000-0000000015c3"]}]'),
    -- Berlin, 12-hour turns: exact durations, so the local hand-off moves by an hour.
    ('00000000-0000-0000-0000-000000000151', 'berlin 12h', 'Europe/Berlin',
     '[{"rotation_start": "2026-03-28T09:00:00+01:00", "turn_length_hours": 12,
        "members": ["00000000-0000-0000-0000-0000000015a1", "00000000-0000-0000-0000-0000000015b2"]}]'),
    -- New York, weekly turns on Mondays at 10:00 local, one rotation from before each change.
    ('00000000-0000-0000-0000-000000000151', 'new york spring', 'America/New_York',
     '[{"rotation_start": "2026-03-02 10:00", "turn_length_hours": 168,
        "members": ["00000000-0000-0000-0000-0000000015a1", "00000000-0000-0000-0000-0000000015b2"]}]'),
    ('00000000-0000-0000-0000-000000000151', 'new york autumn', 'America/New_York',
     '[{"rotation_start": "2026-10-26 10:00", "turn_length_hours": 168,
        "members": ["00000000-0000-0000-0000-0000000015c3", "00000000-0000-0000-0000-0000000015d4"]}]');
SELECT name, time_zone, layers -> 0 ->> 'rotation_start' AS rotation_start
  FROM alert_grouping.on_call_schedules WHERE project_id = '00000000-0000-0000-0000-000000000151' ORDER BY name;

-- Berlin springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST): 09:00 local is 08:00 UTC
-- before and 07:00 UTC after, and the daily hand-off follows the wall clock.
SELECT t AS utc, to_char(t AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI') AS berlin, public.on_call('berlin daily', t)
  FROM unnest(ARRAY['2026-03-26 07:59', '2026-03-26 08:00', '2026-03-28 07:59', '2026-03-28 08:00',
                    '2026-03-29 06:59', '2026-03-29 07:00', '2026-03-29 07:30', '2026-03-30 07:00']::timestamptz[]) AS t;
-- And falls back on 2026-10-25 (03:00 CEST -> 02:00 CET): 09:00 local is 08:00 UTC again.
SELECT t AS utc, to_char(t AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI') AS berlin, public.on_call('berlin daily', t)
  FROM unnest(ARRAY['2026-10-24 06:59', '2026-10-24 07:00', '2026-10-25 06:59', '2026-10-25 07:00',
                    '2026-10-25 07:59', '2026-10-25 08:00', '2026-10-26 08:00']::timestamptz[]) AS t;
-- 12-hour turns are 12 hours each, whatever the clock says: 20:00 UTC and 08:00 UTC.
SELECT t AS utc, to_char(t AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI') AS berlin, public.on_call('berlin 12h', t)
  FROM unnest(ARRAY['2026-03-28 08:00', '2026-03-28 19:59', '2026-03-28 20:00', '2026-03-29 07:59',
                    '2026-03-29 08:00', '2026-03-29 19:59', '2026-03-29 20:00']::timestamptz[]) AS t;
-- New York springs forward on 2026-03-08: Monday 10:00 is 15:00 UTC before, 14:00 UTC after.
SELECT t AS utc, to_char(t AT TIME ZONE 'America/New_York', 'Dy HH24:MI') AS new_york, public.on_call('new york spring', t)
  FROM unnest(ARRAY['2026-03-02 14:59', '2026-03-02 15:00', '2026-03-09 13:59', '2026-03-09 14:00',
                    '2026-03-09 14:30', '2026-03-16 14:00']::timestamptz[]) AS t;
-- And falls back on 2026-11-01: Monday 10:00 is 14:00 UTC before, 15:00 UTC after.
SELECT t AS utc, to_char(t AT TIME ZONE 'America/New_York', 'Dy HH24:MI') AS new_york, public.on_call('new york autumn', t)
  FROM unnest(ARRAY['2026-10-26 13:59', '2026-10-26 14:00', '2026-11-02 14:00', '2026-11-02 14:59',
                    '2026-11-02 15:00', '2026-11-09 15:00']::timestamptz[]) AS t;
-- Before its rotation starts a layer has nobody on call.
SELECT public.on_call('berlin daily', '2026-03-26 07:00');

-- Layers and restrictions. Berlin: ann all week (layer 1); bob on weekday office hours
-- (layer 2); cid on Friday nights, 22:00 to 06:00 on Saturday (layer 3, wraps past
-- midnight); dee on Saturday nights, also across the October change. The later layer wins.
INSERT INTO alert_grouping.on_call_schedules (project_id, name, time_zone, layers) VALUES
    ('00000000-0000-0000-0000-000000000151', 'layered', 'Europe/Berlin',
     '[{"name": "base", "rotation_start": "2026-01-01 00:00", "turn_length_hours": 168,
        "members": ["00000000-0000-0000-0000-0000000015a1"]},
       {"name": "office", "rotation_start": "2026-01-01 00:00", "turn_length_hours": 24,
        "members": ["00000000-0000-0000-0000-0000000015b2"],
        "restrictions": [{"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "17:00"}]},
       {"name": "friday night", "rotation_start": "2026-01-01 00:00", "turn_length_hours": 24,
        "members": ["00000000-0000-0000-0000-0000000015c3"],
        "restrictions": [{"days": [5], "from": "22:00", "to": "06:00"}]},
       {"name": "saturday night", "rotation_start": "2026-01-01 00:00", "turn_length_hours": 24,
        "members": ["00000000-0000-0000-0000-0000000015d4"],
        "restrictions": [{"days": [6], "from": "23:00", "to": "04:00"}]}]');
SELECT to_char(l, 'Dy YYYY-MM-DD HH24:MI') AS berlin, public.on_call('layered', l AT TIME ZONE 'Europe/Berlin')
  FROM unnest(ARRAY['2026-11-12 23:00', '2026-11-13 08:59', '2026-11-13 09:00', '2026-11-13 16:59',
                    '2026-11-13 17:00', '2026-11-13 21:59', '2026-11-13 22:00', '2026-11-14 00:00',
                    '2026-11-14 05:59', '2026-11-14 06:00', '2026-11-14 22:59', '2026-11-14 23:00',
                    '2026-11-15 03:59', '2026-11-15 04:00', '2026-11-16 09:00']::timestamp[]) AS l;
-- The Saturday night of the October change lasts an hour longer: 02:00 to 03:00 comes twice.
SELECT t AS utc, to_char(t AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI TZ') AS berlin, public.on_call('layered', t)
  FROM unnest(ARRAY['2026-10-24 20:59', '2026-10-24 21:00', '2026-10-25 00:30', '2026-10-25 01:30',
                    '2026-10-25 02:59', '2026-10-25 03:00']::timestamptz[]) AS t;

-- Overrides win over every layer, for their time only; two at once are both on call.
INSERT INTO alert_grouping.on_call_overrides (project_id, schedule_id, user_id, starts_at, ends_at)
SELECT s.project_id, s.id, v.u, v.f, v.t FROM alert_grouping.on_call_schedules s,
       (VALUES ('00000000-0000-0000-0000-0000000015d4'::uuid, '2026-11-13 09:00+01'::timestamptz, '2026-11-13 12:00+01'::timestamptz),
               ('00000000-0000-0000-0000-0000000015a1', '2026-11-13 11:00+01', '2026-11-13 13:00+01')) AS v(u, f, t)
 WHERE s.name = 'layered';
SELECT to_char(l, 'HH24:MI') AS berlin, public.on_call('layered', l AT TIME ZONE 'Europe/Berlin')
  FROM unnest(ARRAY['2026-11-13 08:59', '2026-11-13 09:00', '2026-11-13 11:00', '2026-11-13 12:00',
                    '2026-11-13 13:00']::timestamp[]) AS l;

-- The session's TimeZone changes nothing, neither the answers nor the stored rotation start.
SET TimeZone = 'Asia/Tokyo';
INSERT INTO alert_grouping.on_call_schedules (project_id, name, time_zone, layers) VALUES
    ('00000000-0000-0000-0000-000000000151', 'written in tokyo', 'Europe/Berlin',
     '[{"rotation_start": "2026-03-26 09:00", "turn_length_hours": 24,
        "members": ["00000000-0000-0000-0000-0000000015a1", "00000000-0000-0000-0000-0000000015b2", "00000000-0000-0000-0000-0000000015c3"]}]');
SELECT public.on_call('berlin daily', '2026-03-29 07:30+00') AS berlin_daily,
       public.on_call('written in tokyo', '2026-03-29 07:30+00') AS written_in_tokyo,
       public.on_call('layered', '2026-11-13 22:00+01') AS layered;
SELECT (SELECT layers FROM alert_grouping.on_call_schedules WHERE name = 'berlin daily')
     = (SELECT layers FROM alert_grouping.on_call_schedules WHERE name = 'written in tokyo') AS same_layers;
SET TimeZone = 'UTC';

-- A schedule without layers has nobody; an unknown schedule is an error, as is no time.
INSERT INTO alert_grouping.on_call_schedules (project_id, name) VALUES ('00000000-0000-0000-0000-000000000151', 'empty');
SELECT public.on_call('empty', '2026-11-13 12:00');
\set VERBOSITY terse
SELECT * FROM alert_grouping.on_call_users('00000000-0000-0000-0000-000000000151', '00000000-0000-0000-0000-0000000015ff');
SELECT * FROM alert_grouping.on_call_users('00000000-0000-0000-0000-000000000151',
    (SELECT id FROM alert_grouping.on_call_schedules WHERE name = 'empty'), NULL);
\set VERBOSITY default

DROP FUNCTION public.on_call(text, timestamptz);
