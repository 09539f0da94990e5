-- pgbench: one alert per transaction as a client sends it, INSERT ... VALUES of one row (the
-- next row of bench/setup.sql's stream; the SELECT is the same on every side). The grouped
-- side; with PGOPTIONS='-c alert_grouping.enabled=off', engine-off. The fingerprint is the
-- trigger's to compute, as for the reference.
SELECT project_id, monitor_id, severity, title, labels, created_at
  FROM alert_grouping_bench.stream
 WHERE n = (SELECT nextval('alert_grouping_bench.stream_position')) \gset
INSERT INTO alert_grouping.alerts (project_id, monitor_id, severity, title, labels, created_at)
VALUES (:project_id, :monitor_id, :severity, :title, :labels, :created_at);
