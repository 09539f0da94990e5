-- Integrations and their tokens (0.8), as ordinary login roles: admins make and rotate
-- tokens for their own project only, nobody reads a token's hash, and a role with plain
-- grant_access and no membership (the receiver's) reaches exactly the project a token names.
BEGIN;
SELECT plan(16);
CREATE ROLE ag_t08_admin1 LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE ROLE ag_t08_resp1 LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE ROLE ag_t08_admin2 LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE ROLE ag_t08_receiver LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
SELECT alert_grouping.grant_access(r)
  FROM unnest(ARRAY['ag_t08_admin1', 'ag_t08_resp1', 'ag_t08_admin2', 'ag_t08_receiver']) AS r;
INSERT INTO alert_grouping.projects (id, name) VALUES
    ('08000000-0000-0000-0000-000000000001', 'P1'), ('08000000-0000-0000-0000-000000000002', 'P2');
INSERT INTO alert_grouping.project_members (project_id, user_id, db_role, role) VALUES
    ('08000000-0000-0000-0000-000000000001', '08000000-0000-0000-0000-0000000000a1', 'ag_t08_admin1', 'admin'),
    ('08000000-0000-0000-0000-000000000001', '08000000-0000-0000-0000-0000000000b1', 'ag_t08_resp1', 'responder'),
    ('08000000-0000-0000-0000-000000000002', '08000000-0000-0000-0000-0000000000a2', 'ag_t08_admin2', 'admin');
CREATE TEMP TABLE tokens (name text PRIMARY KEY, token text);
GRANT SELECT ON tokens TO PUBLIC;
GRANT INSERT, UPDATE ON tokens TO ag_t08_admin1, ag_t08_admin2;

SET ROLE ag_t08_admin1;
SELECT lives_ok($$INSERT INTO tokens VALUES ('p1 pd', alert_grouping.create_integration('08000000-0000-0000-0000-000000000001', 'pd', 'pagerduty'))$$,
                'an admin creates an integration of its project');
SELECT throws_ok($$SELECT alert_grouping.create_integration('08000000-0000-0000-0000-000000000002', 'x', 'pagerduty')$$,
                 'P0002', NULL, 'an admin cannot create one in another project (not found)');
SELECT throws_ok($$SELECT token_sha256 FROM alert_grouping.integrations$$, '42501', NULL,
                 'nobody reads a token''s hash');
SELECT is((SELECT count(*)::int FROM (SELECT id FROM alert_grouping.integrations) AS i), 1,
          'the admin sees its project''s integration');
RESET ROLE;
SET ROLE ag_t08_admin2;
SELECT lives_ok($$INSERT INTO tokens VALUES ('p2 pd', alert_grouping.create_integration('08000000-0000-0000-0000-000000000002', 'pd', 'pagerduty'))$$,
                'the other project''s admin creates its own');
SELECT throws_ok($$SELECT alert_grouping.rotate_integration_token('08000000-0000-0000-0000-000000000001',
                       (SELECT id FROM alert_grouping.integrations LIMIT 1))$$,
                 'P0002', NULL, 'it cannot rotate P1''s token');
SELECT is((SELECT count(*)::int FROM (SELECT id FROM alert_grouping.integrations) AS i), 1,
          'it sees only its own project''s integration');
RESET ROLE;
SET ROLE ag_t08_resp1;
SELECT throws_ok($$SELECT alert_grouping.create_integration('08000000-0000-0000-0000-000000000001', 'x', 'grafana')$$,
                 '42501', NULL, 'a responder cannot create an integration');
SELECT is((SELECT count(*)::int FROM (SELECT id FROM alert_grouping.integrations) AS i), 1,
          'a responder sees its project''s integration');
RESET ROLE;

-- The receiver: plain grant_access, a member of nothing. Its token is its only key.
SET ROLE ag_t08_receiver;
SELECT throws_ok($$SELECT alert_grouping.ingest_batch('08000000-0000-0000-0000-000000000001', '[{"payload": {"summary": "x"}}]')$$,
                 'P0002', NULL, 'the receiver cannot ingest into a project by its id');
SELECT is((SELECT alert_grouping.ingest_pagerduty(jsonb_build_object(
               'routing_key', (SELECT token FROM tokens WHERE name = 'p1 pd'), 'event_action', 'trigger', 'dedup_key', 'r-1',
               'payload', '{"summary": "from the receiver", "source": "x", "severity": "error"}'::jsonb)) ->> 'status'),
          'success', 'with P1''s token it ingests into P1');
SELECT is((SELECT count(*)::int FROM alert_grouping.alerts), 0,
          'and still reads no alert (it is a member of nothing)');
SELECT throws_ok($$SELECT alert_grouping.ingest_pagerduty('{"routing_key": "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "event_action": "trigger",
                       "payload": {"summary": "x", "source": "x", "severity": "info"}}')$$,
                 '28000', 'invalid integration token', 'an unknown token is refused (28000)');
SELECT throws_ok($$SELECT alert_grouping.rotate_integration_token('08000000-0000-0000-0000-000000000001',
                       '08000000-0000-0000-0000-0000000000ff')$$,
                 'P0002', NULL, 'the receiver cannot rotate tokens');
RESET ROLE;
SELECT is((SELECT string_agg(project_id::text || ':' || title || ':' || severity, ',') FROM alert_grouping.alerts WHERE dedup_key = 'r-1'),
          '08000000-0000-0000-0000-000000000001:from the receiver:high', 'the event is stored in P1, and only there');
SELECT ok((SELECT last_used_at IS NOT NULL FROM alert_grouping.integrations WHERE name = 'pd'
            AND project_id = '08000000-0000-0000-0000-000000000001'),
          'the integration records when it was used');

SELECT * FROM finish();
ROLLBACK;
