-- Schema shape: tenancy keys, composite foreign keys, hot-lookup indexes, enums, RLS.
-- Explicit lists pin down what the contract names; catalog-wide checks cover every table
-- that carries project_id, including ones added later.
BEGIN;
SELECT plan(154);

-- The tenant tables of the grouping part of the contract (and the 0.1 schema).
CREATE TEMP TABLE tenant_tables (tbl name PRIMARY KEY) ON COMMIT DROP;
INSERT INTO tenant_tables VALUES
    ('project_counters'), ('project_members'), ('project_flag_overrides'), ('teams'),
    ('team_members'), ('labels'), ('grouping_rules'), ('episodes'), ('alerts'),
    ('episode_events'), ('episode_owner_users'), ('episode_owner_teams'),
    ('episode_labels'), ('engine_errors'),
    -- 0.5: monitors and incidents
    ('monitors'), ('check_results'), ('maintenance_windows'), ('incidents'), ('incident_updates');
-- episode_members is a view over alerts since 0.3 (section 7).

-- Every table of the schema with a project_id column, read from the catalog. Partitions are
-- read through their parent (whose policies apply); section 6 checks them on their own.
CREATE TEMP VIEW catalog_tenant_tables AS
SELECT c.oid AS relid, c.relname AS tbl
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_attribute AS a
    ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
 WHERE c.relnamespace = 'alert_grouping'::regnamespace
   AND c.relkind IN ('r', 'p') AND NOT c.relispartition;

SELECT has_schema('alert_grouping');
SELECT has_table('alert_grouping', 'projects', 'table projects exists');
SELECT col_is_pk('alert_grouping', 'projects', 'id', 'projects: primary key (id)');
SELECT col_type_is('alert_grouping', 'projects', 'id', 'uuid', 'projects.id is uuid');

------------------------------------------------------------------------------------------
-- 1. Every tenant table exists and has project_id uuid NOT NULL (19 x 3 = 57)
------------------------------------------------------------------------------------------
SELECT has_table('alert_grouping', tbl, format('table %s exists', tbl))
  FROM tenant_tables ORDER BY tbl;
SELECT col_not_null('alert_grouping', tbl, 'project_id', format('%s.project_id is NOT NULL', tbl))
  FROM tenant_tables ORDER BY tbl;
SELECT col_type_is('alert_grouping', tbl, 'project_id', 'uuid', format('%s.project_id is uuid', tbl))
  FROM tenant_tables ORDER BY tbl;

-- The catalog sees at least these tables (the catalog-wide checks below are not vacuous).
SELECT set_has('SELECT tbl FROM catalog_tenant_tables', 'SELECT tbl FROM tenant_tables',
               'every listed tenant table is found by the catalog query');

SELECT is_empty($$
    SELECT t.tbl FROM catalog_tenant_tables AS t
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = t.relid AND a.attname = 'project_id'
     WHERE NOT a.attnotnull OR a.atttypid <> 'uuid'::regtype$$,
    'no table of the schema has a nullable or non-uuid project_id');

------------------------------------------------------------------------------------------
-- 2. Primary keys and unique constraints include project_id
------------------------------------------------------------------------------------------
SELECT col_is_pk('alert_grouping', 'project_counters', ARRAY['project_id'], 'project_counters PK');
SELECT col_is_pk('alert_grouping', 'project_members', ARRAY['project_id', 'user_id'], 'project_members PK');
SELECT col_is_pk('alert_grouping', 'project_flag_overrides', ARRAY['project_id', 'flag'], 'project_flag_overrides PK');
SELECT col_is_pk('alert_grouping', 'teams', ARRAY['project_id', 'id'], 'teams PK');
SELECT col_is_pk('alert_grouping', 'team_members', ARRAY['project_id', 'team_id', 'user_id'], 'team_members PK');
SELECT col_is_pk('alert_grouping', 'labels', ARRAY['project_id', 'id'], 'labels PK');
SELECT col_is_pk('alert_grouping', 'grouping_rules', ARRAY['project_id', 'id'], 'grouping_rules PK');
SELECT col_is_pk('alert_grouping', 'episodes', ARRAY['project_id', 'id'], 'episodes PK');
SELECT col_is_pk('alert_grouping', 'alerts', ARRAY['project_id', 'id'], 'alerts PK');
SELECT col_is_pk('alert_grouping', 'episode_events', ARRAY['project_id', 'id'], 'episode_events PK');
SELECT col_is_pk('alert_grouping', 'episode_owner_users', ARRAY['project_id', 'episode_id', 'user_id'], 'episode_owner_users PK');
SELECT col_is_pk('alert_grouping', 'episode_owner_teams', ARRAY['project_id', 'episode_id', 'team_id'], 'episode_owner_teams PK');
SELECT col_is_pk('alert_grouping', 'episode_labels', ARRAY['project_id', 'episode_id', 'label_id'], 'episode_labels PK');
SELECT col_is_pk('alert_grouping', 'engine_errors', ARRAY['project_id', 'id'], 'engine_errors PK');

SELECT col_is_unique('alert_grouping', 'teams', ARRAY['project_id', 'name'], 'team names are unique per project');
SELECT col_is_unique('alert_grouping', 'labels', ARRAY['project_id', 'name'], 'label names are unique per project');
SELECT col_is_unique('alert_grouping', 'episodes', ARRAY['project_id', 'episode_number'],
                     'episode numbers are unique per project');
-- Catalog-wide: every PK, unique constraint and unique index of a tenant table has project_id.
SELECT is_empty($$
    SELECT t.tbl, i.indexrelid::regclass
      FROM catalog_tenant_tables AS t
      JOIN pg_catalog.pg_index AS i ON i.indrelid = t.relid
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = t.relid AND a.attname = 'project_id'
     WHERE (i.indisunique OR i.indisprimary) AND NOT a.attnum = ANY (i.indkey::int2[])$$,
    'every unique key of a tenant table includes project_id');

------------------------------------------------------------------------------------------
-- 3. Foreign keys between tenant tables are composite and carry project_id
------------------------------------------------------------------------------------------
SELECT fk_ok('alert_grouping', 'alerts', ARRAY['project_id', 'episode_id'],
             'alert_grouping', 'episodes', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'episodes', ARRAY['project_id', 'rule_id'],
             'alert_grouping', 'grouping_rules', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'episode_events', ARRAY['project_id', 'episode_id'],
             'alert_grouping', 'episodes', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'team_members', ARRAY['project_id', 'team_id'],
             'alert_grouping', 'teams', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'team_members', ARRAY['project_id', 'user_id'],
             'alert_grouping', 'project_members', ARRAY['project_id', 'user_id']);
SELECT fk_ok('alert_grouping', 'episode_owner_users', ARRAY['project_id', 'episode_id'],
             'alert_grouping', 'episodes', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'episode_owner_users', ARRAY['project_id', 'user_id'],
             'alert_grouping', 'project_members', ARRAY['project_id', 'user_id']);
SELECT fk_ok('alert_grouping', 'episode_owner_teams', ARRAY['project_id', 'episode_id'],
             'alert_grouping', 'episodes', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'episode_owner_teams', ARRAY['project_id', 'team_id'],
             'alert_grouping', 'teams', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'episode_labels', ARRAY['project_id', 'episode_id'],
             'alert_grouping', 'episodes', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'episode_labels', ARRAY['project_id', 'label_id'],
             'alert_grouping', 'labels', ARRAY['project_id', 'id']);
SELECT fk_ok('alert_grouping', 'grouping_rules', 'project_id', 'alert_grouping', 'projects', 'id');
SELECT fk_ok('alert_grouping', 'alerts', 'project_id', 'alert_grouping', 'projects', 'id');

-- Catalog-wide: a foreign key from a tenant table either references projects(id) from
-- project_id alone, or maps project_id onto the referenced table's project_id.
SELECT is_empty($$
    SELECT k.conname, k.conrelid::regclass, k.confrelid::regclass
      FROM pg_catalog.pg_constraint AS k
      JOIN catalog_tenant_tables AS t ON t.relid = k.conrelid
     WHERE k.contype = 'f'
       AND NOT (
           (k.confrelid = 'alert_grouping.projects'::regclass
            AND k.conkey = ARRAY[(SELECT attnum FROM pg_catalog.pg_attribute
                                   WHERE attrelid = k.conrelid AND attname = 'project_id')]
            AND k.confkey = ARRAY[(SELECT attnum FROM pg_catalog.pg_attribute
                                    WHERE attrelid = k.confrelid AND attname = 'id')])
        OR (pg_catalog.cardinality(k.conkey) > 1 AND EXISTS (
            SELECT FROM unnest(k.conkey, k.confkey) AS u(src, dst)
              JOIN pg_catalog.pg_attribute AS s ON s.attrelid = k.conrelid AND s.attnum = u.src
              JOIN pg_catalog.pg_attribute AS d ON d.attrelid = k.confrelid AND d.attnum = u.dst
             WHERE s.attname = 'project_id' AND d.attname = 'project_id')))$$,
    'every foreign key of a tenant table is composite on project_id (or is project_id -> projects.id)');

-- The contract's composite-key count: at least the 11 listed above exist in the catalog
-- (13 before 0.3 moved the membership onto the alert row, taking episode_members' two).
SELECT cmp_ok((SELECT count(*)::int FROM pg_catalog.pg_constraint AS k
                 JOIN catalog_tenant_tables AS t ON t.relid = k.conrelid
                WHERE k.contype = 'f' AND pg_catalog.cardinality(k.conkey) > 1), '>=', 11,
              'the schema has at least 11 composite foreign keys between tenant tables');

SELECT is_empty($$
    SELECT conname, conrelid::regclass FROM pg_catalog.pg_constraint
     WHERE contype = 'f' AND connamespace = 'alert_grouping'::regnamespace
       AND confdeltype IN ('n', 'd')$$,
    'no foreign key uses ON DELETE SET NULL or SET DEFAULT');
SELECT is_empty($$
    SELECT conname, conrelid::regclass FROM pg_catalog.pg_constraint
     WHERE contype = 'f' AND connamespace = 'alert_grouping'::regnamespace
       AND confupdtype IN ('n', 'd')$$,
    'no foreign key uses ON UPDATE SET NULL or SET DEFAULT');

------------------------------------------------------------------------------------------
-- 4. Hot-lookup indexes
------------------------------------------------------------------------------------------
SELECT has_index('alert_grouping', 'alerts', 'alerts_active_fingerprint_idx',
                 ARRAY['project_id', 'fingerprint'], 'dedup index alerts_active_fingerprint_idx');
SELECT has_index('alert_grouping', 'alerts', 'alerts_project_created_idx',
                 ARRAY['project_id', 'created_at'], 'index alerts_project_created_idx');
SELECT has_index('alert_grouping', 'alerts', 'alerts_episode_idx',
                 ARRAY['project_id', 'episode_id'], 'index alerts_episode_idx');
SELECT has_index('alert_grouping', 'episodes', 'episodes_open_key_idx',
                 ARRAY['project_id', 'rule_id', 'hashtextextended(group_key, (0)::bigint)'],
                 'engine lookup index episodes_open_key_idx (a hash: keys of any length)');
SELECT has_index('alert_grouping', 'episodes', 'episodes_resolved_key_idx',
                 ARRAY['project_id', 'rule_id', 'hashtextextended(group_key, (0)::bigint)', 'resolved_at'],
                 'reopen index episodes_resolved_key_idx (a hash: keys of any length)');
SELECT has_index('alert_grouping', 'episodes', 'episodes_project_started_idx',
                 ARRAY['project_id', 'started_at'], 'index episodes_project_started_idx');
SELECT has_index('alert_grouping', 'grouping_rules', 'grouping_rules_order_idx',
                 ARRAY['project_id', 'priority', 'created_at', 'id'], 'rule order index grouping_rules_order_idx');
SELECT has_index('alert_grouping', 'episode_events', 'episode_events_episode_idx',
                 ARRAY['project_id', 'episode_id', 'at'], 'timeline index episode_events_episode_idx');
SELECT has_index('alert_grouping', 'project_members', 'project_members_db_role_idx',
                 ARRAY['db_role'], 'role mapping index project_members_db_role_idx');

-- The partial predicates keep resolved rows out of the hot indexes.
SELECT matches(pg_catalog.pg_get_expr(i.indpred, i.indrelid), $re$state <> 'resolved'$re$,
               'alerts_active_fingerprint_idx covers only unresolved alerts')
  FROM pg_catalog.pg_index AS i WHERE i.indexrelid = 'alert_grouping.alerts_active_fingerprint_idx'::regclass;
SELECT matches(pg_catalog.pg_get_expr(i.indpred, i.indrelid), $re$state <> 'resolved'$re$,
               'episodes_open_key_idx covers only unresolved episodes')
  FROM pg_catalog.pg_index AS i WHERE i.indexrelid = 'alert_grouping.episodes_open_key_idx'::regclass;
SELECT matches(pg_catalog.pg_get_expr(i.indpred, i.indrelid), $re$state = 'resolved'$re$,
               'episodes_resolved_key_idx covers only resolved episodes')
  FROM pg_catalog.pg_index AS i WHERE i.indexrelid = 'alert_grouping.episodes_resolved_key_idx'::regclass;
SELECT matches(pg_catalog.pg_get_expr(i.indpred, i.indrelid), 'enabled',
               'grouping_rules_order_idx covers only enabled rules')
  FROM pg_catalog.pg_index AS i WHERE i.indexrelid = 'alert_grouping.grouping_rules_order_idx'::regclass;

------------------------------------------------------------------------------------------
-- 5. Enums, labels in the contract's order
------------------------------------------------------------------------------------------
SELECT enum_has_labels('alert_grouping', 'severity', ARRAY['info', 'low', 'medium', 'high', 'critical'],
                       'severity enum: info < low < medium < high < critical');
SELECT enum_has_labels('alert_grouping', 'alert_state', ARRAY['firing', 'acknowledged', 'resolved'],
                       'alert_state enum labels');
SELECT enum_has_labels('alert_grouping', 'episode_state', ARRAY['open', 'acknowledged', 'resolved'],
                       'episode_state enum labels');
SELECT enum_has_labels('alert_grouping', 'incident_status',
                       ARRAY['open', 'investigating', 'identified', 'monitoring', 'resolved'],
                       'incident_status enum labels');
SELECT ok('critical'::alert_grouping.severity > 'high'::alert_grouping.severity
          AND 'low'::alert_grouping.severity > 'info'::alert_grouping.severity,
          'severity compares low to high');
SELECT col_type_is('alert_grouping', 'alerts', 'severity', 'alert_grouping.severity', 'alerts.severity is the enum');
SELECT col_type_is('alert_grouping', 'alerts', 'state', 'alert_grouping.alert_state', 'alerts.state is the enum');
SELECT col_type_is('alert_grouping', 'episodes', 'state', 'alert_grouping.episode_state', 'episodes.state is the enum');

------------------------------------------------------------------------------------------
-- 6. Row-level security on every table with project_id, plus projects; a SELECT policy each
------------------------------------------------------------------------------------------
SELECT is_empty($$
    SELECT c.relname FROM pg_catalog.pg_class AS c
     WHERE c.oid IN (SELECT relid FROM catalog_tenant_tables
                     UNION ALL SELECT 'alert_grouping.projects'::regclass)
       AND NOT c.relrowsecurity$$,
    'row-level security is enabled on projects and on every table with project_id');

SELECT is_empty($$
    SELECT c.relname FROM pg_catalog.pg_class AS c
     WHERE c.oid IN (SELECT relid FROM catalog_tenant_tables
                     UNION ALL SELECT 'alert_grouping.projects'::regclass)
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_policy AS p
                        WHERE p.polrelid = c.oid AND p.polcmd IN ('r', '*') AND p.polpermissive)$$,
    'every table with project_id, and projects, has a permissive SELECT policy');

-- A partition read directly (not through check_results) shows its rows to its owner only.
SELECT is_empty($$
    SELECT c.relname FROM pg_catalog.pg_class AS c
     WHERE c.relnamespace = 'alert_grouping'::regnamespace AND c.relispartition
       AND c.relkind IN ('r', 'p')
       AND (NOT c.relrowsecurity OR EXISTS (SELECT FROM pg_catalog.pg_policy AS p WHERE p.polrelid = c.oid))$$,
    'every partition has row-level security enabled and no policy of its own');

-- No policy grants everything: each one's USING and WITH CHECK are exactly the membership
-- lookup (0.4: an array from member_project_array, no subquery, which Citus refuses).
SELECT is_empty($$
    SELECT c.relname, p.polname, x.expr FROM pg_catalog.pg_policy AS p
      JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid,
           LATERAL (VALUES (pg_catalog.pg_get_expr(p.polqual, p.polrelid)),
                           (pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))) AS x(expr)
     WHERE c.relnamespace = 'alert_grouping'::regnamespace AND x.expr IS NOT NULL
       AND x.expr !~ '^\((project_id|id) = ANY \(alert_grouping\.member_project_array\(''(viewer|responder|admin)''::text\)\)\)$'$$,
    'every policy of the schema is tied to project membership, without a subquery');

-- Per table (explicit list), a SELECT policy exists: policy_cmd_is names it.
SELECT policy_cmd_is('alert_grouping', tbl, tbl || '_select', 'select',
                     format('%s has SELECT policy %s_select', tbl, tbl))
  FROM tenant_tables ORDER BY tbl;
SELECT policy_cmd_is('alert_grouping', 'projects', 'projects_select', 'select',
                     'projects has SELECT policy projects_select');

------------------------------------------------------------------------------------------
-- 7. Membership on the alert row; episode_members, the contract's view of it
------------------------------------------------------------------------------------------
SELECT has_view('alert_grouping', 'episode_members', 'episode_members is a view');
SELECT columns_are('alert_grouping', 'episode_members',
                   ARRAY['project_id', 'episode_id', 'alert_id', 'added_by', 'added_at',
                         'rule_id', 'similarity_score'],
                   'episode_members has the contract''s columns');
SELECT ok((SELECT 'security_invoker=true' = ANY (c.reloptions) FROM pg_catalog.pg_class AS c
            WHERE c.oid = 'alert_grouping.episode_members'::regclass),
          'episode_members runs with the caller''s rights (alerts'' row-level security applies)');
SELECT col_type_is('alert_grouping', 'alerts', 'added_by', 'text', 'alerts.added_by is text');
SELECT col_type_is('alert_grouping', 'alerts', 'added_at', 'timestamp with time zone',
                   'alerts.added_at is timestamptz');
SELECT col_type_is('alert_grouping', 'alerts', 'rule_id', 'uuid', 'alerts.rule_id is uuid');
SELECT col_type_is('alert_grouping', 'alerts', 'similarity_score', 'numeric(5,4)',
                   'alerts.similarity_score is numeric(5,4)');
SELECT has_check('alert_grouping', 'alerts', 'alerts carry check constraints');
SELECT throws_ok($$INSERT INTO alert_grouping.alerts (project_id, title, fingerprint, added_by)
                   VALUES (gen_random_uuid(), 't', 'f', 'rule')$$, '23514', NULL,
                 'membership facts without an episode are refused');
SELECT throws_ok($$INSERT INTO alert_grouping.alerts (project_id, title, fingerprint, added_by)
                   VALUES (gen_random_uuid(), 't', 'f', 'robot')$$, '23514', NULL,
                 'added_by takes only the contract''s values');
-- The view's rows are alerts (primary key project_id, id): an alert is in at most one episode.
SELECT col_is_pk('alert_grouping', 'alerts', ARRAY['project_id', 'id'],
                 'one membership row per alert at most');

SELECT * FROM finish();
ROLLBACK;
