-- Rule validation: an invalid rule is refused when written (INSERT or UPDATE) with SQLSTATE
-- 22023 and "invalid grouping rule: <key>: <message>"; validate_rule() gives the same errors.
BEGIN;
SELECT plan(78);

INSERT INTO alert_grouping.projects (id, name)
VALUES ('04000000-0000-0000-0000-000000000001', 'rule validation');

CREATE TEMP TABLE bad_rules (
    n int PRIMARY KEY, what text, m jsonb, g jsonb, e jsonb, message text) ON COMMIT DROP;
INSERT INTO bad_rules VALUES
 -- unknown keys, one per document
 (1, 'unknown key in match_criteria', '{"label": ["env=\"prod\""]}', '{}', '{}',
  'invalid grouping rule: match_criteria.label: unknown key'),
 (2, 'unknown key in grouping_config', '{}', '{"groupby": ["monitor"]}', '{}',
  'invalid grouping rule: grouping_config.groupby: unknown key'),
 (3, 'unknown key in episode_config', '{}', '{}', '{"titel": "x"}',
  'invalid grouping rule: episode_config.titel: unknown key'),
 -- wrong types
 (4, 'time_window_minutes as a string', '{}', '{"time_window_minutes": "60"}', '{}',
  'invalid grouping rule: grouping_config.time_window_minutes: must be an integer'),
 (5, 'time_window_minutes as a fraction', '{}', '{"time_window_minutes": 1.5}', '{}',
  'invalid grouping rule: grouping_config.time_window_minutes: must be an integer'),
 (6, 'similarity_threshold as a string', '{}', '{"type": "smart", "similarity_threshold": "0.5"}', '{}',
  'invalid grouping rule: grouping_config.similarity_threshold: must be a number'),
 (7, 'title_pattern as a number', '{"title_pattern": 5}', '{}', '{}',
  'invalid grouping rule: match_criteria.title_pattern: must be a string'),
 (8, 'labels as a string instead of an array', '{"labels": "env=\"prod\""}', '{}', '{}',
  'invalid grouping rule: match_criteria.labels: must be an array of strings'),
 (9, 'group_by as a string instead of an array', '{}', '{"group_by": "monitor"}', '{}',
  'invalid grouping rule: grouping_config.group_by: must be an array of strings'),
 (10, 'resolve_when_alerts_resolved as a string', '{}', '{}', '{"resolve_when_alerts_resolved": "yes"}',
  'invalid grouping rule: episode_config.resolve_when_alerts_resolved: must be a boolean'),
 (11, 'match_criteria not an object', '[]', '{}', '{}',
  'invalid grouping rule: match_criteria: must be a JSON object'),
 -- out-of-range numbers
 (12, 'time_window_minutes 0', '{}', '{"time_window_minutes": 0}', '{}',
  'invalid grouping rule: grouping_config.time_window_minutes: must be between 1 and 525600'),
 (13, 'time_window_minutes above one year', '{}', '{"time_window_minutes": 525601}', '{}',
  'invalid grouping rule: grouping_config.time_window_minutes: must be between 1 and 525600'),
 (14, 'similarity_threshold 1.5', '{}', '{"type": "smart", "similarity_threshold": 1.5}', '{}',
  'invalid grouping rule: grouping_config.similarity_threshold: must be between 0 and 1'),
 (15, 'similarity_threshold negative', '{}', '{"type": "smart", "similarity_threshold": -0.1}', '{}',
  'invalid grouping rule: grouping_config.similarity_threshold: must be between 0 and 1'),
 (16, 'resolve_delay_minutes negative', '{}', '{}', '{"resolve_delay_minutes": -1}',
  'invalid grouping rule: episode_config.resolve_delay_minutes: must be between 0 and 525600'),
 -- invalid regexes
 (17, 'invalid regex in title_pattern', '{"title_pattern": "(unclosed"}', '{}', '{}',
  'invalid grouping rule: match_criteria.title_pattern: invalid regular expression: missing ): (unclosed'),
 (18, 'invalid regex in description_pattern', '{"description_pattern": "[a-"}', '{}', '{}',
  'invalid grouping rule: match_criteria.description_pattern: invalid regular expression: missing ]: [a-'),
 (19, 'invalid regex in a label matcher', '{"labels": ["env=\"prod\"", "host=~\"web-(\""]}', '{}', '{}',
  'invalid grouping rule: match_criteria.labels[1]: invalid regular expression: missing ): web-('),
 -- malformed matchers
 (20, 'malformed matcher env=prod"', '{"labels": ["env=prod\""]}', '{}', '{}',
  'invalid grouping rule: match_criteria.labels[0]: invalid matcher: the value contains an unescaped double quote (write \" inside a quoted value)'),
 (21, 'matcher with an unknown operator', '{"labels": ["env~\"prod\""]}', '{}', '{}',
  'invalid grouping rule: match_criteria.labels[0]: invalid matcher: expected one of =, !=, =~, !~ after the label name'),
 (22, 'matcher without a label name', '{"labels": ["=\"prod\""]}', '{}', '{}',
  'invalid grouping rule: match_criteria.labels[0]: invalid matcher: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)'),
 -- unknown enum-like values
 (23, 'unknown severity in severities', '{"severities": ["high", "sev1"]}', '{}', '{}',
  'invalid grouping rule: match_criteria.severities[1]: must be one of info, low, medium, high, critical'),
 (24, 'unknown min_severity', '{"min_severity": "sev1"}', '{}', '{}',
  'invalid grouping rule: match_criteria.min_severity: must be one of info, low, medium, high, critical'),
 (25, 'unknown incident_min_severity', '{}', '{}', '{"incident_min_severity": "urgent"}',
  'invalid grouping rule: episode_config.incident_min_severity: must be one of info, low, medium, high, critical'),
 (26, 'unknown group_by entry', '{}', '{"group_by": ["monitor", "hostname"]}', '{}',
  'invalid grouping rule: grouping_config.group_by[1]: must be one of monitor, severity, title, labels.<name>'),
 (27, 'group_by labels. without a name', '{}', '{"group_by": ["labels."]}', '{}',
  'invalid grouping rule: grouping_config.group_by[0]: must be one of monitor, severity, title, labels.<name>'),
 (28, 'unknown grouping type', '{}', '{"type": "fuzzy"}', '{}',
  'invalid grouping rule: grouping_config.type: must be one of time_window, field, smart'),
 (29, 'unknown template placeholder', '{}', '{}', '{"title_template": "{{host}} is down"}',
  'invalid grouping rule: episode_config.title_template: unknown placeholder {{host}}'),
 (30, 'monitor_ids entry not a uuid', '{"monitor_ids": ["nope"]}', '{}', '{}',
  'invalid grouping rule: match_criteria.monitor_ids[0]: must be a uuid'),
 (31, 'owner_user_ids entry not a uuid', '{}', '{}', '{"owner_user_ids": ["nope"]}',
  'invalid grouping rule: episode_config.owner_user_ids[0]: must be a uuid');

------------------------------------------------------------------------------------------
-- 1. INSERT refuses each bad rule (31)
------------------------------------------------------------------------------------------
SELECT throws_ok(
    format($$INSERT INTO alert_grouping.grouping_rules
                 (project_id, name, match_criteria, grouping_config, episode_config)
             VALUES ('04000000-0000-0000-0000-000000000001', %L, %L, %L, %L)$$, what, m, g, e),
    '22023', message, 'INSERT refused: ' || what)
  FROM bad_rules ORDER BY n;

-- A disabled rule is validated all the same.
SELECT throws_ok(
    $$INSERT INTO alert_grouping.grouping_rules (project_id, name, enabled, grouping_config)
      VALUES ('04000000-0000-0000-0000-000000000001', 'disabled', false, '{"time_window_minutes": 0}')$$,
    '22023', 'invalid grouping rule: grouping_config.time_window_minutes: must be between 1 and 525600',
    'INSERT refused: an invalid rule even when disabled');

-- A multi-row INSERT with one bad row writes nothing.
SELECT throws_ok(
    $$INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
      ('04000000-0000-0000-0000-000000000001', 'good one', '{"time_window_minutes": 5}'),
      ('04000000-0000-0000-0000-000000000001', 'bad one', '{"time_window_minutes": "5"}')$$,
    '22023', 'invalid grouping rule: grouping_config.time_window_minutes: must be an integer',
    'INSERT refused: a multi-row insert with one invalid rule');

SELECT is((SELECT count(*)::int FROM alert_grouping.grouping_rules
            WHERE project_id = '04000000-0000-0000-0000-000000000001'), 0,
          'no refused rule was stored');

------------------------------------------------------------------------------------------
-- 2. validate_rule() gives the same errors (31)
------------------------------------------------------------------------------------------
SELECT throws_ok(format('SELECT alert_grouping.validate_rule(%L, %L, %L)', m, g, e),
                 '22023', message, 'validate_rule refuses: ' || what)
  FROM bad_rules ORDER BY n;

------------------------------------------------------------------------------------------
-- 3. Valid rules are accepted, limits included
------------------------------------------------------------------------------------------
CREATE TEMP TABLE good_rule (m jsonb, g jsonb, e jsonb) ON COMMIT DROP;
INSERT INTO good_rule VALUES (
    '{"labels": ["env=\"prod\"", "host!~\"db-.*\"", "team!=\"\"", "svc=~\"api|web\""],
      "severities": ["high", "critical"], "min_severity": "low",
      "monitor_ids": ["00000000-0000-0000-0000-0000000000aa"],
      "title_pattern": "disk (full|almost full)", "description_pattern": "on host"}',
    '{"type": "field", "group_by": ["monitor", "severity", "title", "labels.service"],
      "time_window_minutes": 30}',
    '{"title_template": "{{labels.service}}: {{title}} ({{alert_count}}) {{severity}} {{monitor_id}} {{group_key}} {{description}}",
      "resolve_when_alerts_resolved": false, "resolve_delay_minutes": 5,
      "reopen_window_minutes": 10, "inactivity_timeout_minutes": 60, "create_incident": true,
      "incident_min_severity": "high", "incident_min_alerts": 2,
      "owner_user_ids": ["00000000-0000-0000-0000-0000000000bb"],
      "label_ids": ["00000000-0000-0000-0000-0000000000cc"]}');

SELECT lives_ok($$SELECT alert_grouping.validate_rule(m, g, e) FROM good_rule$$,
                'validate_rule accepts a rule using every documented key');
SELECT lives_ok(
    $$INSERT INTO alert_grouping.grouping_rules
          (project_id, id, name, match_criteria, grouping_config, episode_config)
      SELECT '04000000-0000-0000-0000-000000000001', '04000000-0000-0000-0000-0000000000f1',
             'valid', m, g, e FROM good_rule$$,
    'INSERT accepts a rule using every documented key');
SELECT lives_ok(
    $$INSERT INTO alert_grouping.grouping_rules (project_id, name, match_criteria, grouping_config, episode_config)
      VALUES ('04000000-0000-0000-0000-000000000001', 'defaults', DEFAULT, DEFAULT, DEFAULT)$$,
    'INSERT accepts a rule with all-default (empty) documents');
SELECT lives_ok(
    $$INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
      ('04000000-0000-0000-0000-000000000001', 'window min', '{"time_window_minutes": 1}'),
      ('04000000-0000-0000-0000-000000000001', 'window max', '{"time_window_minutes": 525600}'),
      ('04000000-0000-0000-0000-000000000001', 'smart 0', '{"type": "smart", "similarity_threshold": 0}'),
      ('04000000-0000-0000-0000-000000000001', 'smart 1', '{"type": "smart", "similarity_threshold": 1}')$$,
    'INSERT accepts the limits of the ranges (1 and 525600 minutes, thresholds 0 and 1)');
SELECT is((SELECT count(*)::int FROM alert_grouping.grouping_rules
            WHERE project_id = '04000000-0000-0000-0000-000000000001'), 6,
          'the valid rules were stored');

------------------------------------------------------------------------------------------
-- 4. UPDATE to an invalid config is refused; the stored rule is unchanged
------------------------------------------------------------------------------------------
SELECT throws_ok(
    $$UPDATE alert_grouping.grouping_rules SET grouping_config = '{"time_window_minutes": 0}'
       WHERE id = '04000000-0000-0000-0000-0000000000f1'$$,
    '22023', 'invalid grouping rule: grouping_config.time_window_minutes: must be between 1 and 525600',
    'UPDATE refused: grouping_config out of range');
SELECT throws_ok(
    $$UPDATE alert_grouping.grouping_rules
         SET match_criteria = match_criteria || '{"title_pattern": "(unclosed"}'
       WHERE id = '04000000-0000-0000-0000-0000000000f1'$$,
    '22023', 'invalid grouping rule: match_criteria.title_pattern: invalid regular expression: missing ): (unclosed',
    'UPDATE refused: invalid regex in match_criteria');
SELECT throws_ok(
    $$UPDATE alert_grouping.grouping_rules
         SET episode_config = '{"title_template": "{{hostname}}"}'
       WHERE id = '04000000-0000-0000-0000-0000000000f1'$$,
    '22023', 'invalid grouping rule: episode_config.title_template: unknown placeholder {{hostname}}',
    'UPDATE refused: unknown placeholder in episode_config');
SELECT throws_ok(
    $$UPDATE alert_grouping.grouping_rules SET match_criteria = '{"labels": ["env=prod\""]}'
       WHERE project_id = '04000000-0000-0000-0000-000000000001'$$,
    '22023', 'invalid grouping rule: match_criteria.labels[0]: invalid matcher: the value contains an unescaped double quote (write \" inside a quoted value)',
    'UPDATE refused: a multi-row update to a malformed matcher');
SELECT results_eq(
    $$SELECT r.match_criteria, r.grouping_config, r.episode_config
        FROM alert_grouping.grouping_rules AS r WHERE r.id = '04000000-0000-0000-0000-0000000000f1'$$,
    $$SELECT m, g, e FROM good_rule$$,
    'after the refused updates the rule is unchanged');
SELECT lives_ok(
    $$UPDATE alert_grouping.grouping_rules SET grouping_config = '{"type": "smart", "similarity_threshold": 0.8}'
       WHERE id = '04000000-0000-0000-0000-0000000000f1'$$,
    'UPDATE accepts a valid new config');
SELECT is((SELECT grouping_config FROM alert_grouping.grouping_rules
            WHERE id = '04000000-0000-0000-0000-0000000000f1'),
          '{"type": "smart", "similarity_threshold": 0.8}'::jsonb,
          'the valid update was stored');
SELECT lives_ok(
    $$UPDATE alert_grouping.grouping_rules SET name = 'renamed', priority = 5
       WHERE id = '04000000-0000-0000-0000-0000000000f1'$$,
    'UPDATE of other columns of a valid rule succeeds');

SELECT * FROM finish();
ROLLBACK;
