-- pgbench: the same rows into the PL/pgSQL reference's table (bench/reference.sql), sorted
-- as a team does once concurrent batches deadlock: the trigger locks row by row, so rows in
-- one order (project, service, monitor, region, severity) take most of their locks in one
-- order (it still deadlocks now and then; pgbench retries, and the bench reports it).
\set seed random(1, 1000000000)
INSERT INTO alert_grouping_bench.ref_alerts
    (project_id, monitor_id, severity, title, labels, fingerprint, created_at)
SELECT project_id, monitor_id, severity, title, labels, fingerprint, created_at
  FROM alert_grouping_bench.batch(:seed, :rows)
 ORDER BY project_id, labels ->> 'service', monitor_id, labels ->> 'region', severity;
