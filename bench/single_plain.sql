-- pgbench: the single-row INSERT of single_alerts.sql into the trigger-less copy (which has
-- no trigger to compute the fingerprint: the stream's is sent).
SELECT project_id, monitor_id, severity, title, labels, fingerprint, created_at
  FROM alert_grouping_bench.stream
 WHERE n = (SELECT nextval('alert_grouping_bench.stream_position')) \gset
INSERT INTO alert_grouping_bench.alerts_plain
    (project_id, monitor_id, severity, title, labels, fingerprint, created_at)
VALUES (:project_id, :monitor_id, :severity, :title, :labels, :fingerprint, :created_at);
