-- preview_rule (comparison mode) and regroup (retroactive grouping of stored alerts).
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000041', 'history');
-- Alerts stored before any rule existed stay ungrouped.
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at)
SELECT '00000000-0000-0000-0000-000000000041', 'Error rate ' || i, jsonb_build_object('service', s),
       '2026-03-07 00:00+00'::timestamptz + (i * interval '7 minutes')
  FROM generate_series(1, 12) i, unnest(ARRAY['api', 'web']) s;
SELECT count(*) AS stored, count(episode_id) AS grouped FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000041';

-- What would a rule do? Nothing is written.
SELECT group_key, cardinality(alert_ids) AS alerts, first_at, last_at
  FROM alert_grouping.preview_rule('00000000-0000-0000-0000-000000000041',
       '{"labels": ["service=\"api\""]}', '{"group_by": ["labels.service"], "time_window_minutes": 20}',
       '2026-03-07 00:00+00', '2026-03-08 00:00+00')
 ORDER BY first_at;
-- A shorter window splits the same alerts into more episodes.
SELECT count(*) AS episodes_with_5_minute_window
  FROM alert_grouping.preview_rule('00000000-0000-0000-0000-000000000041',
       '{}', '{"group_by": ["labels.service"], "time_window_minutes": 5}',
       '2026-03-07 00:00+00', '2026-03-08 00:00+00');
SELECT count(*) AS episodes_written FROM alert_grouping.episodes WHERE project_id = '00000000-0000-0000-0000-000000000041';
SELECT public.try($$SELECT * FROM alert_grouping.preview_rule('00000000-0000-0000-0000-000000000041',
       '{"severities": ["urgent"]}', '{}', '2026-03-07', '2026-03-08')$$) AS bad_rule;
SELECT public.try($$SELECT * FROM alert_grouping.preview_rule('00000000-0000-0000-0000-000000000041',
       '{}', '{}', '2026-03-08', '2026-03-07')$$) AS bad_range;

-- regroup: apply a real rule to the stored, ungrouped alerts in a range.
INSERT INTO alert_grouping.grouping_rules (project_id, id, name, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000041', '00000000-0000-0000-0000-0000000041aa', 'by service',
     '{"group_by": ["labels.service"], "time_window_minutes": 20}', '{"title_template": "{{labels.service}} errors"}');
SELECT alert_grouping.regroup('00000000-0000-0000-0000-000000000041', '00000000-0000-0000-0000-0000000041aa',
                              '2026-03-07 00:00+00', '2026-03-07 00:45+00') AS regrouped_first_part;
SELECT alert_grouping.regroup('00000000-0000-0000-0000-000000000041', '00000000-0000-0000-0000-0000000041aa',
                              '2026-03-07 00:00+00', '2026-03-08 00:00+00') AS regrouped_rest;
SELECT alert_grouping.regroup('00000000-0000-0000-0000-000000000041', '00000000-0000-0000-0000-0000000041aa',
                              '2026-03-07 00:00+00', '2026-03-08 00:00+00') AS regrouped_again;
SELECT title, alert_count, started_at, last_activity_at FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-000000000041' ORDER BY title;
SELECT added_by, count(*) FROM alert_grouping.episode_members
 WHERE project_id = '00000000-0000-0000-0000-000000000041' GROUP BY 1;
SELECT public.try($$SELECT alert_grouping.regroup('00000000-0000-0000-0000-000000000041',
       '00000000-0000-0000-0000-00000000dead', '2026-03-07', '2026-03-08')$$) AS unknown_rule;
UPDATE alert_grouping.grouping_rules SET enabled = false WHERE id = '00000000-0000-0000-0000-0000000041aa';
SELECT public.try($$SELECT alert_grouping.regroup('00000000-0000-0000-0000-000000000041',
       '00000000-0000-0000-0000-0000000041aa', '2026-03-07', '2026-03-08')$$) AS disabled_rule;
