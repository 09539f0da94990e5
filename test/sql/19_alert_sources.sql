-- Alertmanager's and Grafana's webhook bodies, ingested as they are sent (version 0.8).
SET TimeZone = 'UTC';
INSERT INTO alert_grouping.projects (id, name) VALUES ('00000000-0000-0000-0000-000000000191', 'sources');
INSERT INTO alert_grouping.grouping_rules (project_id, name, grouping_config) VALUES
    ('00000000-0000-0000-0000-000000000191', 'by alertname', '{"group_by": ["labels.alertname"]}');

-- A group of two firing alerts: one alert each, grouped by the rule, their titles from the
-- summary or the alertname, severities from their label.
SELECT action FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', '{
  "version": "4", "status": "firing", "receiver": "alert-grouping",
  "groupKey": "{}:{alertname=\"HighLatency\"}", "groupLabels": {"alertname": "HighLatency"},
  "commonLabels": {"alertname": "HighLatency"}, "commonAnnotations": {}, "externalURL": "http://am.test:9093",
  "alerts": [
    {"status": "firing", "labels": {"alertname": "HighLatency", "instance": "api-1", "severity": "critical"},
     "annotations": {"summary": "p99 above 2s on api-1", "description": "p99 is 3.1 s"},
     "startsAt": "2026-12-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://prom.test:9090/graph", "fingerprint": "a1a1a1a1a1a1a1a1"},
    {"status": "firing", "labels": {"alertname": "HighLatency", "instance": "api-2", "severity": "warning"},
     "annotations": {}, "startsAt": "2026-12-01T10:01:00Z", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://prom.test:9090/graph", "fingerprint": "b2b2b2b2b2b2b2b2"}]}');
-- Alertmanager sends the group again: one alert resolved, the other still firing (the same
-- alert again: unchanged, not a duplicate).
SELECT action FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', '{
  "version": "4", "status": "firing", "receiver": "alert-grouping", "alerts": [
    {"status": "firing", "labels": {"alertname": "HighLatency", "instance": "api-1", "severity": "critical"},
     "annotations": {"summary": "p99 above 2s on api-1"}, "startsAt": "2026-12-01T10:00:00Z",
     "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "a1a1a1a1a1a1a1a1"},
    {"status": "resolved", "labels": {"alertname": "HighLatency", "instance": "api-2", "severity": "warning"},
     "annotations": {}, "startsAt": "2026-12-01T10:01:00Z", "endsAt": "2026-12-01T10:06:00Z",
     "fingerprint": "b2b2b2b2b2b2b2b2"}]}');
-- The same alert sent with another start (Alertmanager lost its state and saw it fire
-- again): a duplicate of the active alert.
SELECT action FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', '{
  "version": "4", "alerts": [
    {"status": "firing", "labels": {"alertname": "HighLatency", "instance": "api-1", "severity": "critical"},
     "annotations": {"summary": "p99 above 2s on api-1"}, "startsAt": "2026-12-01T10:20:00Z",
     "fingerprint": "a1a1a1a1a1a1a1a1"}]}');
-- An empty group is nothing.
SELECT count(*) AS results FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', '{"version": "4", "alerts": []}');
SELECT a.title, a.severity, a.state, a.dedup_key, a.duplicate_count, a.created_at, a.resolved_at, a.source,
       a.description, a.labels ->> 'instance' AS instance, a.details ->> 'receiver' AS receiver,
       a.details ->> 'generatorURL' AS generator, e.title AS episode
  FROM alert_grouping.alerts a LEFT JOIN alert_grouping.episodes e ON e.project_id = a.project_id AND e.id = a.episode_id
 WHERE a.project_id = '00000000-0000-0000-0000-000000000191' ORDER BY a.dedup_key;

-- Grafana's body: Grafana's fields kept in the details.
SELECT action FROM alert_grouping.ingest_grafana('00000000-0000-0000-0000-000000000191', '{
  "receiver": "pg", "status": "firing", "orgId": 1, "state": "alerting", "title": "[FIRING:1] CPU",
  "message": "CPU is high", "version": "1", "groupKey": "{}/{}:{alertname=\"CPU\"}",
  "externalURL": "http://grafana.test/",
  "alerts": [{"status": "firing", "labels": {"alertname": "CPU", "grafana_folder": "infra"},
              "annotations": {"summary": "CPU above 90% on db-1"}, "startsAt": "2026-12-01T11:00:00+01:00",
              "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://grafana.test/alerting/grafana/abc/view",
              "fingerprint": "57c6d9296de2ad39", "silenceURL": "http://grafana.test/alerting/silence/new",
              "dashboardURL": "http://grafana.test/d/x", "panelURL": "http://grafana.test/d/x?viewPanel=2",
              "values": {"B": 93.5}, "valueString": "[ var=''B'' value=93.5 ]"}]}');
SELECT a.title, a.source, a.created_at, a.details ->> 'dashboardURL' AS dashboard, a.details -> 'values' AS "values",
       a.details ->> 'orgId' AS org
  FROM alert_grouping.alerts a WHERE a.project_id = '00000000-0000-0000-0000-000000000191' AND a.source = 'grafana';

-- Bad bodies: 22023 naming the field, and nothing of the body stored.
\set VERBOSITY terse
SELECT * FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', '[]');
SELECT * FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', NULL);
SELECT * FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', '{"version": "3", "alerts": []}');
SELECT * FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', '{"alerts": [
  {"status": "firing", "labels": {"alertname": "Good"}, "fingerprint": "c3c3"},
  {"status": "firing", "labels": {}, "fingerprint": "d4d4"}]}');
SELECT * FROM alert_grouping.ingest_alertmanager('00000000-0000-0000-0000-000000000191', '{"alerts": [
  {"status": "firing", "labels": {"alertname": "Good"}, "fingerprint": "c3c3", "startsAt": "not a time"}]}');
SELECT * FROM alert_grouping.ingest_grafana('00000000-0000-0000-0000-000000000191', '{"orgId": "one", "alerts": []}');
\set VERBOSITY default
SELECT count(*) AS alerts_after_bad_bodies FROM alert_grouping.alerts WHERE project_id = '00000000-0000-0000-0000-000000000191';
