-- Acknowledge and resolve cascade to member alerts; manual membership.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000011', 'lifecycle');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config, episode_config) VALUES
    ('00000000-0000-0000-0000-000000000011', 'by service', '{"group_by": ["labels.service"]}',
     '{"title_template": "{{labels.service}} ({{alert_count}})"}');
INSERT INTO alert_grouping.alerts (project_id, id, monitor_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000011', '00000000-0000-0000-0000-00000000a001', '00000000-0000-0000-0000-0000000000b1', 'API 500', '{"service":"api"}', '2026-03-04 10:00+00'),
    ('00000000-0000-0000-0000-000000000011', '00000000-0000-0000-0000-00000000a002', '00000000-0000-0000-0000-0000000000b1', 'API slow', '{"service":"api"}', '2026-03-04 10:01+00'),
    ('00000000-0000-0000-0000-000000000011', '00000000-0000-0000-0000-00000000a003', '00000000-0000-0000-0000-0000000000b2', 'DB slow', '{"service":"db"}', '2026-03-04 10:02+00');
CREATE TEMP TABLE ep AS
SELECT group_key, id FROM alert_grouping.episodes WHERE project_id = '00000000-0000-0000-0000-000000000011';

SELECT (alert_grouping.acknowledge_episode('00000000-0000-0000-0000-000000000011', id)).state
  FROM ep WHERE group_key = 'labels.service:api';
SELECT title, state, acknowledged_at IS NOT NULL AS acked FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000011' ORDER BY title;
-- A new alert joining an acknowledged episode does not change its state.
INSERT INTO alert_grouping.alerts (project_id, title, labels, created_at) VALUES
    ('00000000-0000-0000-0000-000000000011', 'API timeouts', '{"service":"api"}', '2026-03-04 10:03+00');
SELECT title, state, alert_count, active_alert_count FROM alert_grouping.episodes
 WHERE project_id = '00000000-0000-0000-0000-000000000011' ORDER BY title;

-- Manual membership: move the DB alert into the API episode.
SELECT public.try($$SELECT alert_grouping.add_alert_to_episode('00000000-0000-0000-0000-000000000011',
    (SELECT id FROM ep WHERE group_key = 'labels.service:api'), '00000000-0000-0000-0000-00000000a003')$$);
SELECT (alert_grouping.remove_alert_from_episode('00000000-0000-0000-0000-000000000011',
    (SELECT id FROM ep WHERE group_key = 'labels.service:db'), '00000000-0000-0000-0000-00000000a003')).alert_count;
SELECT (alert_grouping.add_alert_to_episode('00000000-0000-0000-0000-000000000011',
    (SELECT id FROM ep WHERE group_key = 'labels.service:api'), '00000000-0000-0000-0000-00000000a003')).title;
SELECT e.group_key, e.title, e.alert_count, e.active_alert_count, e.unique_monitor_count,
       (SELECT count(*) FROM alert_grouping.episode_members m
         WHERE m.project_id = e.project_id AND m.episode_id = e.id) AS members
  FROM alert_grouping.episodes e WHERE e.project_id = '00000000-0000-0000-0000-000000000011' ORDER BY 1;
SELECT m.added_by, count(*) FROM alert_grouping.episode_members m
 WHERE m.project_id = '00000000-0000-0000-0000-000000000011' GROUP BY 1 ORDER BY 1;

-- Resolve cascades: every member alert resolves, and the timeline says who and why.
SELECT (alert_grouping.resolve_episode('00000000-0000-0000-0000-000000000011', id)).state
  FROM ep WHERE group_key = 'labels.service:api';
SELECT title, state, resolved_at IS NOT NULL AS resolved FROM alert_grouping.alerts
 WHERE project_id = '00000000-0000-0000-0000-000000000011' ORDER BY title;
SELECT e.group_key, v.kind, v.detail - 'by' - 'alert_id' - 'rule_id' - 'first_alert_id' AS detail
  FROM alert_grouping.episode_events v JOIN alert_grouping.episodes e ON e.project_id = v.project_id AND e.id = v.episode_id
-- (The timeline in time order: on Citus, ids are unique per project but taken from the
-- sequence of the node that wrote the event.)
 WHERE v.project_id = '00000000-0000-0000-0000-000000000011' ORDER BY v.at, v.id;

-- Errors name what is wrong, with the right SQLSTATE.
SELECT public.try($$SELECT alert_grouping.acknowledge_episode('00000000-0000-0000-0000-000000000011',
    (SELECT id FROM ep WHERE group_key = 'labels.service:api'))$$) AS ack_resolved;
SELECT public.try($$SELECT alert_grouping.resolve_episode('00000000-0000-0000-0000-000000000011',
    '00000000-0000-0000-0000-00000000dead')$$) AS missing_episode;
SELECT public.try($$SELECT alert_grouping.remove_alert_from_episode('00000000-0000-0000-0000-000000000011',
    (SELECT id FROM ep WHERE group_key = 'labels.service:db'), '00000000-0000-0000-0000-00000000a001')$$) AS not_member;
SELECT public.try($$SELECT alert_grouping.add_alert_to_episode('00000000-0000-0000-0000-000000000011',
    (SELECT id FROM ep WHERE group_key = 'labels.service:db'), '00000000-0000-0000-0000-00000000beef')$$) AS missing_alert;
