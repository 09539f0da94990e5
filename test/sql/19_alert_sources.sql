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

-- Integrations: a token, shown once and stored as its SHA-256, names the project.
CREATE TABLE public.tokens (kind text PRIMARY KEY, token text);
INSERT INTO public.tokens
SELECT k, alert_grouping.create_integration('00000000-0000-0000-0000-000000000191', k || ' in', k)
  FROM unnest(ARRAY['alertmanager', 'grafana', 'pagerduty']) AS k;
SELECT kind, token ~ '^[a-z0-9]{32}$' AS routing_key_shape FROM public.tokens ORDER BY kind;
SELECT i.kind, i.token_sha256 = sha256(convert_to(t.token, 'UTF8')) AS hashed, i.enabled
  FROM alert_grouping.integrations i JOIN public.tokens t ON t.kind = i.kind ORDER BY i.kind;
SELECT count(*) AS tokens_stored_anywhere FROM alert_grouping.integrations i, public.tokens t
 WHERE strpos(i::text, t.token) > 0;

-- The PagerDuty Events API v2: routed by routing_key, PagerDuty's answer.
SELECT alert_grouping.ingest_pagerduty(jsonb_build_object(
    'routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'), 'event_action', 'trigger',
    'dedup_key', 'pd-1', 'client', 'Sample Monitoring Service', 'client_url', 'https://monitoring.test',
    'links', '[{"href": "https://runbook.test", "text": "runbook"}]'::jsonb,
    'payload', '{"summary": "DB down on db-1", "source": "db-1", "severity": "critical",
                 "timestamp": "2026-12-01T12:00:00Z", "component": "postgres", "group": "prod",
                 "class": "deploy", "custom_details": {"free space": "1%"}}'::jsonb)) AS answer;
SELECT a.title, a.severity, a.source, a.description, a.created_at, a.details -> 'custom_details' AS custom,
       a.details ->> 'client' AS client, a.details -> 'links' -> 0 ->> 'href' AS link
  FROM alert_grouping.alerts a WHERE a.project_id = '00000000-0000-0000-0000-000000000191' AND a.dedup_key = 'pd-1';
-- A trigger without a dedup_key gets one, which the answer gives; acknowledge and resolve by it.
CREATE TABLE public.answer AS SELECT alert_grouping.ingest_pagerduty(jsonb_build_object(
    'routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'), 'event_action', 'trigger',
    'payload', '{"summary": "queue backing up", "source": "mq-1", "severity": "warning"}'::jsonb)) AS a;
SELECT (a ->> 'dedup_key') ~ '^[0-9a-f]{32}$' AS key_given, a ->> 'status' AS status FROM public.answer;
SELECT alert_grouping.ingest_pagerduty(jsonb_build_object(
    'routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'), 'event_action', 'resolve',
    'dedup_key', (SELECT a ->> 'dedup_key' FROM public.answer))) ->> 'message' AS message;
SELECT state FROM alert_grouping.alerts WHERE dedup_key = (SELECT a ->> 'dedup_key' FROM public.answer);

-- Webhooks by token, as the receiver calls them.
SELECT action FROM alert_grouping.receive_webhook('alertmanager', (SELECT token FROM public.tokens WHERE kind = 'alertmanager'),
    '{"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "ByToken"}, "fingerprint": "e5e5",
      "startsAt": "2026-12-01T13:00:00Z"}]}');
SELECT project_id FROM alert_grouping.alerts WHERE dedup_key = 'e5e5';

-- Bad keys: 28000 (unknown, another kind's, disabled, rotated away); bad events: 22023.
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty('{"routing_key": "0123456789abcdef0123456789abcdef", "event_action": "trigger"}')$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(jsonb_build_object('routing_key', (SELECT token FROM public.tokens WHERE kind = 'alertmanager'),
    'event_action', 'trigger', 'payload', '{"summary": "x", "source": "y", "severity": "info"}'::jsonb))$$);
SELECT public.try($$SELECT * FROM alert_grouping.receive_webhook('grafana', (SELECT token FROM public.tokens WHERE kind = 'alertmanager'), '{"alerts": []}')$$);
UPDATE alert_grouping.integrations SET enabled = false WHERE kind = 'grafana';
SELECT public.try($$SELECT * FROM alert_grouping.receive_webhook('grafana', (SELECT token FROM public.tokens WHERE kind = 'grafana'), '{"alerts": []}')$$);
SELECT public.try($$SELECT alert_grouping.rotate_integration_token('00000000-0000-0000-0000-000000000191',
    (SELECT id FROM alert_grouping.integrations WHERE kind = 'alertmanager')) ~ '^[a-z0-9]{32}$' AS rotated$$);
SELECT public.try($$SELECT * FROM alert_grouping.receive_webhook('alertmanager', (SELECT token FROM public.tokens WHERE kind = 'alertmanager'), '{"alerts": []}')$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(NULL)$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty('{"event_action": "trigger"}')$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(jsonb_build_object('routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'),
    'event_action', 'page'))$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(jsonb_build_object('routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'),
    'event_action', 'trigger', 'payload', '{"summary": "x", "source": "y"}'::jsonb))$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(jsonb_build_object('routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'),
    'event_action', 'trigger', 'payload', '{"summary": "x", "source": "y", "severity": "major"}'::jsonb))$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(jsonb_build_object('routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'),
    'event_action', 'trigger', 'payload', jsonb_build_object('summary', repeat('x', 1025), 'source', 'y', 'severity', 'info')))$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(jsonb_build_object('routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'),
    'event_action', 'trigger', 'dedup_key', repeat('k', 256), 'payload', '{"summary": "x", "source": "y", "severity": "info"}'::jsonb))$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(jsonb_build_object('routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'),
    'event_action', 'trigger', 'payload', jsonb_build_object('summary', 'x', 'source', 'y', 'severity', 'info',
    'custom_details', repeat('z', 600 * 1024))))$$);
SELECT public.try($$SELECT alert_grouping.ingest_pagerduty(jsonb_build_object('routing_key', (SELECT token FROM public.tokens WHERE kind = 'pagerduty'),
    'event_action', 'resolve'))$$);
SELECT public.try($$SELECT alert_grouping.create_integration('00000000-0000-0000-0000-000000000191', 'x', 'nagios')$$);
DROP TABLE public.tokens, public.answer;
