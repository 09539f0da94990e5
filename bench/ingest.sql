-- pgbench: one generated alert as an ingest() event (the rows of insert_alerts.sql with
-- rows=1, same seed stream).
\set seed random(1, 1000000000)
SELECT alert_grouping.ingest(e.project_id, e.event)
  FROM alert_grouping_bench.events(:seed, 1) AS e;
