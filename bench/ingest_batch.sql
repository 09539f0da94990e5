-- pgbench: :rows generated alerts of one project (ingest_batch takes one project's events)
-- as one ingest_batch() call.
\set seed random(1, 1000000000)
\set p random(1, 10)
SELECT count(*)
  FROM alert_grouping.ingest_batch(
           alert_grouping_bench.project(:p),
           (SELECT jsonb_agg(e.event) FROM alert_grouping_bench.events(:seed, :rows, :p, :p) AS e));
