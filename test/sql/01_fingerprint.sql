-- fingerprint(): SHA-256 hex of monitor, lower-cased trimmed title and sorted labels.
SELECT length(alert_grouping.fingerprint(NULL, 'Disk full', '{}')) AS hex_length,
       alert_grouping.fingerprint(NULL, 'Disk full', '{}') ~ '^[0-9a-f]{64}$' AS is_hex;
-- Case and surrounding blanks of the title do not matter; label order does not matter.
SELECT alert_grouping.fingerprint('11111111-1111-1111-1111-111111111111', 'Disk full', '{"a":"1","b":"2"}')
     = alert_grouping.fingerprint('11111111-1111-1111-1111-111111111111', '  disk FULL ', '{"b":"2","a":"1"}') AS same;
-- Monitor, title and label values do matter.
SELECT alert_grouping.fingerprint('11111111-1111-1111-1111-111111111111', 'Disk full', '{}')
     = alert_grouping.fingerprint('22222222-2222-2222-2222-222222222222', 'Disk full', '{}') AS other_monitor,
       alert_grouping.fingerprint(NULL, 'Disk full', '{"host":"a"}')
     = alert_grouping.fingerprint(NULL, 'Disk full', '{"host":"b"}') AS other_label;
-- A known value: sha256 of the documented material, computed by PostgreSQL itself.
SELECT alert_grouping.fingerprint(NULL, ' Disk Full ', '{"b":"2","a":"1"}')
     = encode(sha256(convert_to('monitor:|title:disk full|labels:a=1,b=2', 'UTF8')), 'hex') AS documented;
SELECT alert_grouping.dedup_key_fingerprint('db-1/disk')
     = encode(sha256(convert_to('dedup_key:db-1/disk', 'UTF8')), 'hex') AS dedup_key_documented;
-- The insert trigger fills the fingerprint from dedup_key when given, else from the content.
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-0000000000f1', 'fp');
INSERT INTO alert_grouping.alerts (project_id, title, labels, dedup_key) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'Disk full', '{"host":"a"}', NULL),
    ('00000000-0000-0000-0000-0000000000f1', 'Disk full', '{"host":"a"}', 'key-1');
SELECT dedup_key IS NOT NULL AS has_key,
       fingerprint = CASE WHEN dedup_key IS NULL
                          THEN alert_grouping.fingerprint(monitor_id, title, labels)
                          ELSE alert_grouping.dedup_key_fingerprint(dedup_key) END AS filled
  FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-0000000000f1'
 ORDER BY 1;
