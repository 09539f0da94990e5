-- pgbench: the same rows into the trigger-less copy of the table (the plain side).
\set seed random(1, 1000000000)
INSERT INTO alert_grouping_bench.alerts_plain
    (project_id, monitor_id, severity, title, labels, fingerprint, created_at)
SELECT project_id, monitor_id, severity, title, labels, fingerprint, created_at
  FROM alert_grouping_bench.batch(:seed, :rows);
