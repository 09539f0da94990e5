-- pgbench: one alert of the stream (bench/setup.sql, the rows of single_alerts.sql) as an
-- ingest() event, PagerDuty Events v2-shaped as events() builds them.
SELECT alert_grouping.ingest(s.project_id, jsonb_build_object(
           'event_action', 'trigger',
           'payload', jsonb_build_object('summary', s.title, 'severity', s.severity,
                                         'timestamp', s.created_at),
           'monitor_id', s.monitor_id, 'labels', s.labels))
  FROM alert_grouping_bench.stream AS s
 WHERE s.n = (SELECT nextval('alert_grouping_bench.stream_position'));
