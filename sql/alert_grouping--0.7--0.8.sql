-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION alert_grouping UPDATE TO '0.8'" to load this file. \quit

-- 0.8 (work in progress on branch issue11, not released): real alert sources. So far:
-- Alertmanager's and Grafana's webhook bodies ingested as they are sent.

------------------------------------------------------------------------------------------
-- Alertmanager and Grafana webhooks
------------------------------------------------------------------------------------------
-- A webhook body as the events ingest_batch takes (the mapping is the C++ core's, see
-- README, "Alertmanager and Grafana"): pure, so PUBLIC's.
CREATE FUNCTION alert_grouping.alertmanager_events(payload jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'ag_alertmanager_events'
LANGUAGE C IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION alert_grouping.grafana_events(payload jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'ag_grafana_events'
LANGUAGE C IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp;

-- Ingests a webhook body's events (see alertmanager_events): through ingest_batch, so the
-- caller must be a responder or admin of the project, and the whole body is stored or none of
-- it. Senders re-send whole groups, and retry: a firing entry whose fingerprint names an
-- active alert that started at the same time is that alert again, answered "unchanged" and
-- not counted as a duplicate. Reads through the caller's policies, writes through ingest_batch:
-- PUBLIC's, as the two entry points below call it as the caller.
CREATE FUNCTION alert_grouping.ingest_webhook_events(project_id uuid, events jsonb,
                                                     sender text)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    known uuid[];
    fresh jsonb;
    results uuid[];
    actions text[];
    n integer := pg_catalog.jsonb_array_length(events);
    i integer;
    j integer := 0;
BEGIN
    BEGIN
        SELECT pg_catalog.array_agg(r.id ORDER BY e.i),
               COALESCE(pg_catalog.jsonb_agg(e.v ORDER BY e.i) FILTER (WHERE r.id IS NULL), '[]')
          INTO known, fresh
          FROM pg_catalog.jsonb_array_elements(events) WITH ORDINALITY AS e(v, i)
          LEFT JOIN LATERAL (
              SELECT a.id FROM alert_grouping.alerts AS a
               WHERE e.v ->> 'event_action' = 'trigger'
                 AND e.v -> 'payload' ->> 'timestamp' IS NOT NULL
                 AND a.project_id = ingest_webhook_events.project_id
                 AND a.fingerprint = alert_grouping.dedup_key_fingerprint(e.v ->> 'dedup_key')
                 AND a.state <> 'resolved'
                 AND a.created_at = (e.v -> 'payload' ->> 'timestamp')::timestamptz
               ORDER BY a.created_at, a.id LIMIT 1) AS r ON true;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RAISE EXCEPTION 'payload field "alerts[].startsAt" must be a valid time: %', SQLERRM
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('sent by %s', sender);
    END;
    SELECT pg_catalog.array_agg(b.alert_id ORDER BY b.ord), pg_catalog.array_agg(b.action ORDER BY b.ord)
      INTO results, actions
      FROM alert_grouping.ingest_batch(ingest_webhook_events.project_id, fresh) WITH ORDINALITY AS b(alert_id, action, ord);
    FOR i IN 1 .. n LOOP
        IF known[i] IS NOT NULL THEN
            alert_id := known[i];
            action := 'unchanged';
        ELSE
            j := j + 1;
            alert_id := results[j];
            action := actions[j];
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- One alert per entry of Alertmanager's body, deduplicated by its fingerprint; a resolved
-- entry resolves the alert of its fingerprint at its endsAt.
CREATE FUNCTION alert_grouping.ingest_alertmanager(project_id uuid, payload jsonb)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF payload IS NULL THEN
        RAISE EXCEPTION 'payload must be a JSON object, not null' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT w.alert_id, w.action
                   FROM alert_grouping.ingest_webhook_events(
                            ingest_alertmanager.project_id, alert_grouping.alertmanager_events(payload),
                            'alertmanager') AS w;
END
$$;

-- Grafana's body, the same way.
CREATE FUNCTION alert_grouping.ingest_grafana(project_id uuid, payload jsonb)
RETURNS TABLE (alert_id uuid, action text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF payload IS NULL THEN
        RAISE EXCEPTION 'payload must be a JSON object, not null' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT w.alert_id, w.action
                   FROM alert_grouping.ingest_webhook_events(
                            ingest_grafana.project_id, alert_grouping.grafana_events(payload),
                            'grafana') AS w;
END
$$;

------------------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION alert_grouping.granted_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'current_user_id()', 'member_project_ids(text)', 'has_project_role(uuid,text)',
        'flag_enabled(text,uuid)', 'fingerprint(uuid,text,jsonb)', 'dedup_key_fingerprint(text)',
        'validate_rule(jsonb,jsonb,jsonb)', 'preview_rule(uuid,jsonb,jsonb,timestamptz,timestamptz)',
        'regroup(uuid,uuid,timestamptz,timestamptz)', 'ingest(uuid,jsonb)', 'ingest_batch(uuid,jsonb)',
        'acknowledge_episode(uuid,uuid)', 'resolve_episode(uuid,uuid)',
        'add_alert_to_episode(uuid,uuid,uuid)', 'remove_alert_from_episode(uuid,uuid,uuid)',
        'acknowledge_incident(uuid,uuid)', 'resolve_incident(uuid,uuid,text)',
        'on_call_users(uuid,uuid,timestamptz)', 'uptime(uuid,uuid,timestamptz,timestamptz)',
        'uptime_seconds(uuid,uuid,timestamptz,timestamptz)',
        'component_uptime(uuid,uuid,timestamptz,timestamptz)',
        'ingest_alertmanager(uuid,jsonb)', 'ingest_grafana(uuid,jsonb)']
$$;

-- Internal: never executable by PUBLIC, except the check constraint's and the policies', and
-- what the validation triggers and on_call_users call as the role that writes or reads (each
-- reads through that role's policies, or reads nothing).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alert_grouping FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    alert_grouping.membership_is_valid(uuid, text, timestamptz, uuid, numeric),
    alert_grouping.member_project_array(text),
    alert_grouping.is_project_member(uuid, uuid),
    alert_grouping.schedule_time(text, text, text),
    alert_grouping.within_restrictions(jsonb, timestamp),
    alert_grouping.layer_on_call(jsonb, text, timestamptz),
    alert_grouping.schedule_on_call(uuid, uuid, timestamptz),
    alert_grouping.bucket_floor(timestamptz, text),
    alert_grouping.multirange_seconds(tstzmultirange),
    alert_grouping.uptime_hold(uuid, uuid, timestamptz, timestamptz),
    alert_grouping.alertmanager_events(jsonb),
    alert_grouping.grafana_events(jsonb),
    alert_grouping.ingest_webhook_events(uuid, jsonb, text) TO PUBLIC;

-- Roles granted access before this version get the new tables and functions too.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT ro.rolname
               FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a,
                    pg_catalog.pg_roles AS ro
              WHERE n.nspname = 'alert_grouping' AND a.privilege_type = 'USAGE'
                AND a.grantee <> n.nspowner AND ro.oid = a.grantee
              ORDER BY ro.rolname
    LOOP
        PERFORM alert_grouping.grant_access(r.rolname);
    END LOOP;
END
$$;

-- grant_access above recorded initial privileges for the relations, which a fresh install
-- has none of: they are the roles' own grants.
DELETE FROM pg_catalog.pg_init_privs AS ip
 WHERE ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.privtype = 'e'
   AND ip.objoid IN (SELECT d.objid FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                        AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                        AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                           WHERE e.extname = 'alert_grouping')
                        AND d.deptype = 'e');

-- As in 0.3: the initial privileges are the owner's own, not the grants made since.
UPDATE pg_catalog.pg_init_privs AS ip
   SET initprivs = ARRAY(
           SELECT a.item FROM pg_catalog.unnest(ip.initprivs) AS a(item)
            WHERE EXISTS (SELECT FROM pg_catalog.aclexplode(ARRAY[a.item]) AS x
                           WHERE x.grantee IN (0, (SELECT e.extowner FROM pg_catalog.pg_extension AS e
                                                   WHERE e.extname = 'alert_grouping'))))
 WHERE ip.privtype = 'e'
   AND (ip.classoid, ip.objoid) IN (
           SELECT d.classid, d.objid FROM pg_catalog.pg_depend AS d
            WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
              AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                 WHERE e.extname = 'alert_grouping')
              AND d.deptype = 'e'
           UNION ALL
           SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass, 'alert_grouping'::pg_catalog.regnamespace);
