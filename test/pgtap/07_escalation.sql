-- Escalation, on-call and the worker (0.6): the schema the contract names, the outbox's unique
-- key and the index a pass reads through, who may run what, the worker's settings, and the
-- errors of bad input (SQLSTATE 22023 and the field named), refused when written.
BEGIN;
SELECT plan(75);
CREATE ROLE ag_t07_granted NOLOGIN;
SELECT alert_grouping.grant_access('ag_t07_granted');

-- Contract columns.
SELECT has_column('alert_grouping', 'escalation_policies', c, format('escalation_policies.%s exists', c))
  FROM unnest(ARRAY['project_id', 'id', 'name', 'levels', 'repeat_count']) AS c;
SELECT col_default_is('alert_grouping', 'escalation_policies', 'repeat_count', '0', 'repeat_count defaults to 0');
SELECT has_column('alert_grouping', 'on_call_schedules', c, format('on_call_schedules.%s exists', c))
  FROM unnest(ARRAY['project_id', 'id', 'name', 'time_zone', 'layers']) AS c;
SELECT has_column('alert_grouping', 'on_call_overrides', c, format('on_call_overrides.%s exists', c))
  FROM unnest(ARRAY['project_id', 'schedule_id', 'user_id', 'starts_at', 'ends_at']) AS c;
SELECT has_column('alert_grouping', 'notifications', c, format('notifications.%s exists', c))
  FROM unnest(ARRAY['project_id', 'id', 'incident_id', 'user_id', 'level', 'round', 'channel',
                    'created_at', 'delivered_at']) AS c;
SELECT col_is_unique('alert_grouping', 'notifications', ARRAY['project_id', 'incident_id', 'level', 'round', 'user_id'],
                     'one notification per (incident, level, round, user)');
SELECT has_column('alert_grouping', 'incidents', 'escalation_round', 'incidents.escalation_round exists');
SELECT is(pg_catalog.pg_get_indexdef('alert_grouping.incidents_next_escalation_idx'::regclass),
          'CREATE INDEX incidents_next_escalation_idx ON alert_grouping.incidents USING btree (next_escalation_at) WHERE (next_escalation_at IS NOT NULL)',
          'a pass reads the due incidents only, through a partial index');
SELECT has_function('alert_grouping', 'process_escalations', ARRAY['timestamp with time zone'], 'process_escalations(at) exists');
SELECT function_returns('alert_grouping', 'process_escalations', ARRAY['timestamp with time zone'], 'integer',
                        'process_escalations returns the number of notifications written');
SELECT function_returns('alert_grouping', 'on_call_users', ARRAY['uuid', 'uuid', 'timestamp with time zone'], 'setof uuid',
                        'on_call_users(project_id, schedule_id, at) returns a set of user ids');
SELECT ok((SELECT p.pronargdefaults = 1 FROM pg_catalog.pg_proc AS p
            WHERE p.oid = 'alert_grouping.on_call_users(uuid,uuid,timestamptz)'::regprocedure),
          'on_call_users'' time defaults (to now())');
SELECT ok((SELECT bool_and(c.relrowsecurity) FROM pg_catalog.pg_class AS c
            WHERE c.oid IN ('alert_grouping.escalation_policies'::regclass, 'alert_grouping.on_call_schedules'::regclass,
                            'alert_grouping.on_call_overrides'::regclass, 'alert_grouping.notifications'::regclass)),
          'row-level security is on for every new tenant table');
SELECT ok(NOT (SELECT c.relrowsecurity FROM pg_catalog.pg_class AS c WHERE c.oid = 'alert_grouping.worker_runs'::regclass)
          AND NOT has_table_privilege('ag_t07_granted', 'alert_grouping.worker_runs', 'SELECT'),
          'worker_runs is no tenant''s: the owner''s log, granted to nobody');

-- Who may run what: the maintenance entry points are the owner's (and pg_cron's, as the owner).
SELECT ok(NOT has_function_privilege('ag_t07_granted', f, 'EXECUTE'), format('%s is not granted', f))
  FROM unnest(ARRAY['alert_grouping.process_escalations(timestamptz)', 'alert_grouping.run_maintenance(timestamptz)',
                    'alert_grouping.worker_pass(timestamptz,integer)',
                    'alert_grouping.record_worker_failure(timestamptz,text,text,integer,interval)',
                    'alert_grouping.escalate_incidents(uuid,alert_grouping.escalation_position[],timestamptz)']) AS f;
SELECT ok(has_function_privilege('ag_t07_granted', 'alert_grouping.on_call_users(uuid,uuid,timestamptz)', 'EXECUTE'),
          'on_call_users is granted');
SELECT ok(has_column_privilege('ag_t07_granted', 'alert_grouping.notifications', 'delivered_at', 'UPDATE')
          AND NOT has_column_privilege('ag_t07_granted', 'alert_grouping.notifications', 'user_id', 'UPDATE')
          AND NOT has_table_privilege('ag_t07_granted', 'alert_grouping.notifications', 'INSERT'),
          'granted roles mark notifications delivered, and write nothing else of them');

-- The worker's settings (defined when the library loads, preloaded or not).
SELECT alert_grouping.current_user_id() IS NULL AS library_loaded;
SELECT is(current_setting('alert_grouping.naptime'), '1s', 'alert_grouping.naptime defaults to 1s');
SELECT is(current_setting('alert_grouping.worker_enabled'), 'on', 'alert_grouping.worker_enabled defaults to on');
SELECT is((SELECT s.context FROM pg_catalog.pg_settings AS s WHERE s.name = 'alert_grouping.database_name'),
          'sighup', 'alert_grouping.database_name changes on reload');
SELECT is(current_setting('alert_grouping.run_history_days'), '90', 'the run history is kept 90 days');

-- Bad input, named, refused when written.
INSERT INTO alert_grouping.projects (id, name) VALUES ('07000000-0000-0000-0000-000000000001', 'escalation');
INSERT INTO alert_grouping.project_members (project_id, user_id, role)
VALUES ('07000000-0000-0000-0000-000000000001', '07000000-0000-0000-0000-0000000000a1', 'responder');
CREATE FUNCTION pg_temp.policy(levels text, repeat_count integer DEFAULT 0) RETURNS text LANGUAGE sql AS $$
    SELECT format($q$INSERT INTO alert_grouping.escalation_policies (project_id, name, levels, repeat_count)
                     VALUES ('07000000-0000-0000-0000-000000000001', 'p', %L, %s)$q$, levels, repeat_count)
$$;
SELECT throws_ok(pg_temp.policy('[]'), '22023', 'levels must be an array of 1 to 20 levels', 'a policy without levels is refused');
SELECT throws_ok(pg_temp.policy('{"delay_minutes": 5}'), '22023', 'levels must be an array of 1 to 20 levels',
                 'levels that are not an array are refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000a1"}]}, 3]'),
                 '22023', 'levels[1] must be an object', 'a level that is not an object is refused, by index');
SELECT throws_ok(pg_temp.policy('[{"delay_minute": 5, "targets": []}]'), '22023', 'levels[0]: unknown key "delay_minute"',
                 'a misspelt key is refused, not ignored');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": -1, "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000a1"}]}]'),
                 '22023', 'levels[0].delay_minutes must be a whole number of minutes from 0 to 10080', 'a negative delay is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 2.5, "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000a1"}]}]'),
                 '22023', 'levels[0].delay_minutes must be a whole number of minutes from 0 to 10080', 'a fractional delay is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": "5", "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000a1"}]}]'),
                 '22023', 'levels[0].delay_minutes must be a whole number of minutes from 0 to 10080', 'a delay as a string is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": []}]'), '22023', 'levels[0].targets must be an array of 1 to 50 targets',
                 'a level without targets is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "email", "id": "07000000-0000-0000-0000-0000000000a1"}]}]'),
                 '22023', 'levels[0].targets[0].type must be user, team or schedule', 'an unknown target type is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "user", "id": "ann"}]}]'),
                 '22023', 'levels[0].targets[0].id must be a uuid', 'a target id that is no uuid is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000a1"}]},
                                  {"delay_minutes": 5, "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000ff"}]}]'),
                 '22023', 'levels[1].targets[0].id: user 07000000-0000-0000-0000-0000000000ff is not a member of project 07000000-0000-0000-0000-000000000001',
                 'a user who is no member of the project is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "team", "id": "07000000-0000-0000-0000-0000000000ff"}]}]'),
                 '22023', 'levels[0].targets[0].id: team 07000000-0000-0000-0000-0000000000ff not found in project 07000000-0000-0000-0000-000000000001',
                 'a team that does not exist in the project is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "schedule", "id": "07000000-0000-0000-0000-0000000000ff"}]}]'),
                 '22023', 'levels[0].targets[0].id: schedule 07000000-0000-0000-0000-0000000000ff not found in project 07000000-0000-0000-0000-000000000001',
                 'a schedule that does not exist in the project is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000a1", "channel": "SMS!"}]}]'),
                 '22023', 'levels[0].targets[0].channel must be a lower-case name of at most 32 characters', 'a bad channel is refused');
SELECT throws_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000a1"}]}]', 10),
                 '22023', 'repeat_count must be from 0 to 9', 'more than 9 repeats are refused');
SELECT lives_ok(pg_temp.policy('[{"delay_minutes": 5, "targets": [{"type": "user", "id": "07000000-0000-0000-0000-0000000000a1", "channel": "sms"}]}]', 2),
                'a valid policy is accepted');

CREATE FUNCTION pg_temp.schedule(time_zone text, layers text) RETURNS text LANGUAGE sql AS $$
    SELECT format($q$INSERT INTO alert_grouping.on_call_schedules (project_id, name, time_zone, layers)
                     VALUES ('07000000-0000-0000-0000-000000000001', 's', %L, %L)$q$, time_zone, layers)
$$;
SELECT throws_ok(pg_temp.schedule('Mars/Olympus', '[]'), '22023', 'time_zone: unknown time zone "Mars/Olympus"',
                 'an unknown time zone is refused');
SELECT throws_ok(pg_temp.schedule('UTC', '{}'), '22023', 'layers must be a JSON array', 'layers that are not an array are refused');
SELECT throws_ok(pg_temp.schedule('UTC', '[{"rotation_start": "next monday", "turn_length_hours": 24, "members": ["07000000-0000-0000-0000-0000000000a1"]}]'),
                 '22023', 'layers[0].rotation_start: "next monday" is not a time', 'a rotation start that is no time is refused');
SELECT throws_ok(pg_temp.schedule('UTC', '[{"rotation_start": "2026-01-01", "turn_length_hours": 0, "members": ["07000000-0000-0000-0000-0000000000a1"]}]'),
                 '22023', 'layers[0].turn_length_hours must be a number of hours from 1/60 to 8784', 'a turn of no length is refused');
SELECT throws_ok(pg_temp.schedule('UTC', '[{"rotation_start": "2026-01-01", "turn_length_hours": 24, "members": []}]'),
                 '22023', 'layers[0].members must be an array of 1 to 100 user ids', 'a layer without members is refused');
SELECT throws_ok(pg_temp.schedule('UTC', '[{"rotation_start": "2026-01-01", "turn_length_hours": 24, "members": ["07000000-0000-0000-0000-0000000000ff"]}]'),
                 '22023', 'layers[0].members[0]: user 07000000-0000-0000-0000-0000000000ff is not a member of project 07000000-0000-0000-0000-000000000001',
                 'a member who is no member of the project is refused');
SELECT throws_ok(pg_temp.schedule('UTC', '[{"rotation_start": "2026-01-01", "turn_length_hours": 24, "members": ["07000000-0000-0000-0000-0000000000a1"],
                                            "restrictions": [{"days": [0, 1], "from": "09:00", "to": "17:00"}]}]'),
                 '22023', 'layers[0].restrictions[0].days must be a non-empty array of ISO week days, 1 (Monday) to 7 (Sunday)',
                 'a restriction on day 0 is refused');
SELECT throws_ok(pg_temp.schedule('UTC', '[{"rotation_start": "2026-01-01", "turn_length_hours": 24, "members": ["07000000-0000-0000-0000-0000000000a1"],
                                            "restrictions": [{"days": [1], "from": "9:00", "to": "17:00"}]}]'),
                 '22023', 'layers[0].restrictions[0].from must be a local time HH:MM from 00:00 to 23:59', 'a restriction time not in HH:MM is refused');
SELECT throws_ok(pg_temp.schedule('UTC', '[{"rotation_start": "2026-01-01", "turn_length_hours": 24, "members": ["07000000-0000-0000-0000-0000000000a1"],
                                            "restrictions": [{"days": [1], "from": "09:00", "to": "24:30"}]}]'),
                 '22023', 'layers[0].restrictions[0].to must be a local time HH:MM from 00:00 to 24:00', 'a restriction ending after 24:00 is refused');
SELECT throws_ok(pg_temp.schedule('UTC', '[{"rotation_start": "2026-01-01", "turn_length_hours": 24, "members": ["07000000-0000-0000-0000-0000000000a1"], "layer": 2}]'),
                 '22023', 'layers[0]: unknown key "layer"', 'an unknown layer key is refused');
SELECT lives_ok(pg_temp.schedule('Europe/Berlin', '[{"rotation_start": "2026-01-01 09:00", "turn_length_hours": 24, "members": ["07000000-0000-0000-0000-0000000000a1"],
                                                     "restrictions": [{"days": [5], "from": "22:00", "to": "06:00"}]}]'),
                'a valid schedule, with a restriction past midnight, is accepted');
SELECT throws_ok($$INSERT INTO alert_grouping.on_call_overrides (project_id, schedule_id, user_id, starts_at, ends_at)
                   SELECT project_id, id, '07000000-0000-0000-0000-0000000000a1', now(), now() - interval '1 hour'
                     FROM alert_grouping.on_call_schedules WHERE project_id = '07000000-0000-0000-0000-000000000001'$$,
                 '22023', 'ends_at must be later than starts_at', 'an override that ends before it starts is refused');
SELECT throws_ok($$INSERT INTO alert_grouping.on_call_overrides (project_id, schedule_id, user_id, starts_at, ends_at)
                   SELECT project_id, id, '07000000-0000-0000-0000-0000000000ff', now(), now() + interval '1 hour'
                     FROM alert_grouping.on_call_schedules WHERE project_id = '07000000-0000-0000-0000-000000000001'$$,
                 '22023', 'user_id: user 07000000-0000-0000-0000-0000000000ff is not a member of project 07000000-0000-0000-0000-000000000001',
                 'an override for someone outside the project is refused');
SELECT throws_ok($$SELECT alert_grouping.process_escalations('infinity')$$, '22023', 'at must be a finite time',
                 'process_escalations needs a finite time');

SELECT * FROM finish();
ROLLBACK;
