-- pgbench: :rows generated alerts (pgbench -D rows=N) into alert_grouping.alerts, one
-- statement. The grouped side; with PGOPTIONS='-c alert_grouping.enabled=off', engine-off.
\set seed random(1, 1000000000)
INSERT INTO alert_grouping.alerts
    (project_id, monitor_id, severity, title, labels, fingerprint, created_at)
SELECT project_id, monitor_id, severity, title, labels, fingerprint, created_at
  FROM alert_grouping_bench.batch(:seed, :rows);
