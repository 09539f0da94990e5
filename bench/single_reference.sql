-- pgbench: the single-row INSERT of single_alerts.sql into the PL/pgSQL reference's table.
SELECT project_id, monitor_id, severity, title, labels, created_at
  FROM alert_grouping_bench.stream
 WHERE n = (SELECT nextval('alert_grouping_bench.stream_position')) \gset
INSERT INTO alert_grouping_bench.ref_alerts (project_id, monitor_id, severity, title, labels, created_at)
VALUES (:project_id, :monitor_id, :severity, :title, :labels, :created_at);
