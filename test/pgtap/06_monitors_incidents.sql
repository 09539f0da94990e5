-- Monitors and incidents (0.5): the schema the contract names, the partitioning of check
-- results, the indexes maintenance reads through, the triggers, the function signatures,
-- who may run what, and the errors of bad input (SQLSTATE and the field named).
BEGIN;
SELECT plan(47);

-- Contract columns and types.
SELECT has_column('alert_grouping', 'monitors', c, format('monitors.%s exists', c))
  FROM unnest(ARRAY['project_id', 'id', 'name', 'labels', 'alert_after_failures',
                    'recover_after_successes', 'severity', 'check_interval', 'auto_create_alerts',
                    'auto_create_incident', 'escalation_policy_id', 'component_id']) AS c;
SELECT col_default_is('alert_grouping', 'monitors', 'alert_after_failures', '2',
                      'alert_after_failures defaults to 2');
SELECT col_default_is('alert_grouping', 'monitors', 'recover_after_successes', '1',
                      'recover_after_successes defaults to 1');
SELECT col_type_is('alert_grouping', 'incidents', 'status', 'alert_grouping.incident_status',
                   'incidents.status is the incident_status enum');
SELECT col_is_unique('alert_grouping', 'incidents', ARRAY['project_id', 'incident_number'],
                     'incident numbers are unique per project');
SELECT has_column('alert_grouping', 'incident_updates', c, format('incident_updates.%s exists', c))
  FROM unnest(ARRAY['project_id', 'incident_id', 'at', 'status', 'message', 'kind']) AS c;
SELECT has_column('alert_grouping', 'maintenance_windows', c, format('maintenance_windows.%s exists', c))
  FROM unnest(ARRAY['starts_at', 'ends_at', 'monitor_ids', 'suppress_alerts']) AS c;

-- check_results: range-partitioned by checked_at, with a default partition.
SELECT is((SELECT p.partstrat::text || ':' || a.attname
             FROM pg_catalog.pg_partitioned_table AS p
             JOIN pg_catalog.pg_attribute AS a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
            WHERE p.partrelid = 'alert_grouping.check_results'::regclass),
          'r:checked_at', 'check_results is range-partitioned by checked_at');
SELECT is((SELECT pg_catalog.pg_get_expr(c.relpartbound, c.oid) FROM pg_catalog.pg_class AS c
            WHERE c.oid = 'alert_grouping.check_results_default'::regclass),
          'DEFAULT', 'check_results_default is its default partition');
SELECT has_index('alert_grouping', 'check_results', 'check_results_monitor_idx',
                 ARRAY['project_id', 'monitor_id', 'checked_at'],
                 'check results are read per monitor in checked_at order through an index');

-- What maintenance reads: partial indexes of the due rows only.
SELECT is(pg_catalog.pg_get_indexdef('alert_grouping.episodes_resolve_due_idx'::regclass),
          'CREATE INDEX episodes_resolve_due_idx ON alert_grouping.episodes USING btree (resolve_due_at) WHERE (resolve_due_at IS NOT NULL)',
          'episodes_resolve_due_idx holds the waiting episodes only');
SELECT is(pg_catalog.pg_get_indexdef('alert_grouping.episodes_inactivity_check_idx'::regclass),
          'CREATE INDEX episodes_inactivity_check_idx ON alert_grouping.episodes USING btree (inactivity_check_at) WHERE (inactivity_check_at IS NOT NULL)',
          'episodes_inactivity_check_idx holds the scheduled checks only');

-- Triggers: one per check statement (with its new rows), incidents numbered and timelined.
SELECT is((SELECT pg_catalog.pg_get_triggerdef(t.oid) FROM pg_catalog.pg_trigger AS t
            WHERE t.tgrelid = 'alert_grouping.check_results'::regclass AND t.tgname = 'check_results_inserted'),
          'CREATE TRIGGER check_results_inserted AFTER INSERT ON alert_grouping.check_results REFERENCING NEW TABLE AS new_results FOR EACH STATEMENT EXECUTE FUNCTION alert_grouping.check_results_inserted()',
          'check results are handled once per statement, from its transition table');
SELECT trigger_is('alert_grouping', 'incidents', 'incidents_before_write', 'alert_grouping', 'incidents_before_write',
                  'incidents_before_write numbers new incidents');
SELECT trigger_is('alert_grouping', 'incidents', 'incidents_after_write', 'alert_grouping', 'incidents_after_write',
                  'incidents_after_write writes the timeline and cascades');
SELECT trigger_is('alert_grouping', 'episodes', 'episodes_state_changed', 'alert_grouping', 'episodes_state_changed',
                  'an episode''s state changes reach its incident');

-- Functions.
SELECT function_returns('alert_grouping', 'run_maintenance', ARRAY['timestamp with time zone'], 'jsonb',
                        'run_maintenance(at) returns jsonb');
SELECT function_returns('alert_grouping', 'acknowledge_incident', ARRAY['uuid', 'uuid'],
                        'alert_grouping.incidents', 'acknowledge_incident returns the incident');
SELECT function_returns('alert_grouping', 'resolve_incident', ARRAY['uuid', 'uuid', 'text'],
                        'alert_grouping.incidents', 'resolve_incident returns the incident');
SELECT is(pg_catalog.pg_get_function_arguments('alert_grouping.resolve_incident(uuid,uuid,text)'::regprocedure),
          'project_id uuid, incident_id uuid, message text DEFAULT NULL::text',
          'resolve_incident(project_id, incident_id, message DEFAULT NULL)');
SELECT is(pg_catalog.pg_get_function_arguments('alert_grouping.run_maintenance(timestamptz)'::regprocedure),
          'at timestamp with time zone DEFAULT now()', 'run_maintenance(at DEFAULT now())');

-- Privileges: maintenance is the owner's (or a scheduler's); the view reads as its reader.
CREATE ROLE ag_t06_granted LOGIN;
SELECT alert_grouping.grant_access('ag_t06_granted');
SELECT ok(NOT has_function_privilege('ag_t06_granted', 'alert_grouping.run_maintenance(timestamptz)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'alert_grouping.run_maintenance(timestamptz)', 'EXECUTE'),
          'run_maintenance is not granted to PUBLIC nor by grant_access');
SELECT ok(has_function_privilege('ag_t06_granted', 'alert_grouping.acknowledge_incident(uuid,uuid)', 'EXECUTE')
          AND has_function_privilege('ag_t06_granted', 'alert_grouping.resolve_incident(uuid,uuid,text)', 'EXECUTE'),
          'grant_access grants acknowledge_incident and resolve_incident');
SELECT ok(NOT has_table_privilege('ag_t06_granted', 'alert_grouping.check_results_default', 'SELECT'),
          'no privilege on a partition: check results are read through check_results');
SELECT is((SELECT c.reloptions FROM pg_catalog.pg_class AS c WHERE c.oid = 'alert_grouping.daily_stats'::regclass),
          ARRAY['security_invoker=true'], 'daily_stats runs with its reader''s row-level security');

-- Bad input, named.
INSERT INTO alert_grouping.projects (id, name) VALUES ('06000000-0000-0000-0000-000000000001', 'monitors');
SELECT throws_ok($$INSERT INTO alert_grouping.monitors (project_id, name, alert_after_failures)
                   VALUES ('06000000-0000-0000-0000-000000000001', 'm', 0)$$,
                 '22023', 'alert_after_failures must be at least 1, not 0',
                 'a threshold below 1 is refused, naming the column');
SELECT throws_ok($$INSERT INTO alert_grouping.check_results (project_id, monitor_id, checked_at, ok)
                   VALUES ('06000000-0000-0000-0000-000000000001', '06000000-0000-0000-0000-0000000000ff', now(), false)$$,
                 '23503', 'check result for unknown monitor 06000000-0000-0000-0000-0000000000ff in project 06000000-0000-0000-0000-000000000001',
                 'a check result for an unknown monitor is refused, naming it');
SELECT throws_ok($$INSERT INTO alert_grouping.maintenance_windows (project_id, starts_at, ends_at)
                   VALUES ('06000000-0000-0000-0000-000000000001', now(), now() - interval '1 hour')$$,
                 '22023', 'ends_at must be later than starts_at',
                 'a maintenance window that ends before it starts is refused');

SELECT * FROM finish();
ROLLBACK;
