-- The reference peer of scripts/bench: what a team writes without alert_grouping. A PL/pgSQL
-- BEFORE ROW trigger on its own copy of the alerts table, grouping into its own copy of the
-- episodes table, with the rules of alert_grouping.grouping_rules. Load after setup.sql.
--
-- Per inserted row it does, in this order:
--   1. fingerprint: SHA-256 (the sha256() builtin) of monitor_id, lower-cased trimmed title
--      and labels (jsonb's own text form, keys sorted), newline-separated;
--   2. dedup: if a firing alert of the project has that fingerprint, bump its
--      duplicate_count and last_duplicate_at (and raise its severity) and skip the row
--      (RETURN NULL: the INSERT reports one row fewer);
--   3. rule: the first enabled rule of the project by (priority, created_at, id) whose
--      match_criteria hold, in one query;
--   4. group key: the values of grouping_config.group_by joined with '|' ('default' when empty);
--   5. pg_advisory_xact_lock(hashtext(project/rule/key)), so that concurrent writers of one
--      key do not open two episodes;
--   6. the open episode of that rule and key whose last_activity_at >= created_at - window
--      (time_window_minutes, else the project's default_time_window): update it (counts,
--      last_activity_at, severity), else insert one; NEW.episode_id := that episode.
--
-- It does LESS than the engine (that is the point of the comparison):
--   - match_criteria: min_severity, severities and monitor_ids as the engine reads them;
--     labels only through its equality matchers (name="v"), as jsonb containment; the other
--     matchers (!=, =~, !~) and title_pattern/description_pattern are ignored, and rules are
--     not validated (a bad rule makes the INSERT fail);
--   - grouping: every type is a plain time window (no smart/similarity grouping, no digit
--     normalisation of titles in keys), no reopening of resolved episodes;
--   - episodes: title is the first alert's title (no templates), numbers come from one global
--     sequence (not gapless per project), no unique_monitor_count/monitor_ids, no
--     episode_events, no episode_members rows (alerts.episode_id is the only link), no
--     owners or labels, no engine_errors (a failure fails the INSERT);
--   - dedup: firing alerts only, no dedup_key, and no lock on the fingerprint: two concurrent
--     transactions may both store the same new alert;
--   - locks are taken row by row in the order of the statement's rows and held to commit,
--     so concurrent multi-row INSERTs can deadlock: bench/insert_reference.sql sorts its rows
--     (which avoids most of them) and the bench runs it with pgbench --max-tries, reporting
--     the retries;
--   - no feature flags, no projects.grouping_enabled, no row-level security.
SET client_min_messages = warning;

-- Its own tables, written out rather than copied, so that the peer stays the same whatever
-- the extension's tables become: alert_grouping 0.2's alerts and the episodes' columns the
-- trigger uses, with the keys, checks and indexes a team writes.
CREATE TABLE alert_grouping_bench.ref_episodes (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    episode_number integer NOT NULL,
    title text NOT NULL,
    rule_id uuid NULL,
    group_key text NULL,
    state alert_grouping.episode_state NOT NULL DEFAULT 'open',
    severity alert_grouping.severity NOT NULL DEFAULT 'info',
    started_at timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz NULL,
    resolved_at timestamptz NULL,
    alert_count integer NOT NULL DEFAULT 0 CHECK (alert_count >= 0),
    active_alert_count integer NOT NULL DEFAULT 0 CHECK (active_alert_count >= 0),
    first_alert_title text NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, episode_number),
    FOREIGN KEY (project_id, rule_id) REFERENCES alert_grouping.grouping_rules (project_id, id)
) WITH (fillfactor = 50);
CREATE INDEX ref_episodes_open_key_idx
    ON alert_grouping_bench.ref_episodes (project_id, rule_id, group_key)
    WHERE state <> 'resolved';

CREATE TABLE alert_grouping_bench.ref_alerts (
    project_id uuid NOT NULL REFERENCES alert_grouping.projects (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    monitor_id uuid NULL,
    severity alert_grouping.severity NOT NULL DEFAULT 'medium',
    title text NOT NULL,
    description text NULL,
    labels jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    dedup_key text NULL CHECK (length(dedup_key) BETWEEN 1 AND 255),
    source text NULL,
    details jsonb NULL,
    fingerprint text NOT NULL,
    duplicate_count integer NOT NULL DEFAULT 0,
    last_duplicate_at timestamptz NULL,
    episode_id uuid NULL,
    state alert_grouping.alert_state NOT NULL DEFAULT 'firing',
    created_at timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz NULL,
    resolved_at timestamptz NULL,
    PRIMARY KEY (project_id, id),
    FOREIGN KEY (project_id, episode_id) REFERENCES alert_grouping_bench.ref_episodes (project_id, id)
);
CREATE INDEX ref_alerts_active_fingerprint_idx
    ON alert_grouping_bench.ref_alerts (project_id, fingerprint) WHERE state <> 'resolved';
CREATE INDEX ref_alerts_project_created_idx ON alert_grouping_bench.ref_alerts (project_id, created_at);
CREATE INDEX ref_alerts_episode_idx
    ON alert_grouping_bench.ref_alerts (project_id, episode_id) WHERE episode_id IS NOT NULL;

CREATE SEQUENCE alert_grouping_bench.ref_episode_number AS integer;

CREATE FUNCTION alert_grouping_bench.ref_group() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rule record;
    key text;
    episode uuid;
BEGIN
    -- 1. fingerprint
    NEW.fingerprint := encode(sha256(convert_to(
        COALESCE(NEW.monitor_id::text, '') || E'\n' || lower(btrim(NEW.title)) || E'\n'
        || NEW.labels::text, 'UTF8')), 'hex');

    -- 2. dedup against the project's firing alerts
    UPDATE alert_grouping_bench.ref_alerts AS a
       SET duplicate_count = a.duplicate_count + 1,
           last_duplicate_at = NEW.created_at,
           severity = GREATEST(a.severity, NEW.severity)
     WHERE a.project_id = NEW.project_id AND a.fingerprint = NEW.fingerprint
       AND a.state = 'firing';
    IF FOUND THEN
        RETURN NULL;
    END IF;

    -- 3. the first matching rule
    SELECT r.id, r.grouping_config -> 'group_by' AS group_by,
           COALESCE(make_interval(mins => (r.grouping_config ->> 'time_window_minutes')::int),
                    p.default_time_window) AS time_window
      INTO rule
      FROM alert_grouping.grouping_rules AS r
      JOIN alert_grouping.projects AS p ON p.id = r.project_id
     WHERE r.project_id = NEW.project_id AND r.enabled
       AND (r.match_criteria ->> 'min_severity' IS NULL
            OR NEW.severity >= (r.match_criteria ->> 'min_severity')::alert_grouping.severity)
       AND (r.match_criteria -> 'severities' IS NULL
            OR r.match_criteria -> 'severities' ? NEW.severity::text)
       AND (r.match_criteria -> 'monitor_ids' IS NULL
            OR r.match_criteria -> 'monitor_ids' ? NEW.monitor_id::text)
       AND NEW.labels @> COALESCE(
               (SELECT jsonb_object_agg(m[1], m[2])
                  FROM jsonb_array_elements_text(r.match_criteria -> 'labels') AS l(matcher),
                       regexp_match(l.matcher, '^(\w+)="(.*)"$') AS m
                 WHERE m IS NOT NULL),
               '{}')
     ORDER BY r.priority, r.created_at, r.id
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN NEW;  -- stored ungrouped
    END IF;

    -- 4. group key
    SELECT COALESCE(string_agg(CASE WHEN g.field LIKE 'labels.%'
                                        THEN COALESCE(NEW.labels ->> substr(g.field, 8), '')
                                    WHEN g.field = 'monitor' THEN COALESCE(NEW.monitor_id::text, '')
                                    WHEN g.field = 'severity' THEN NEW.severity::text
                                    ELSE lower(NEW.title) END,
                               '|' ORDER BY g.n),
                    'default')
      INTO key
      FROM jsonb_array_elements_text(COALESCE(rule.group_by, '[]')) WITH ORDINALITY AS g(field, n);

    -- 5. one writer per rule and key
    PERFORM pg_advisory_xact_lock(hashtext(NEW.project_id::text || '/' || rule.id::text || '/' || key));

    -- 6. the open episode within the rolling window, else a new one
    SELECT e.id INTO episode
      FROM alert_grouping_bench.ref_episodes AS e
     WHERE e.project_id = NEW.project_id AND e.rule_id = rule.id AND e.group_key = key
       AND e.state <> 'resolved' AND e.last_activity_at >= NEW.created_at - rule.time_window
     ORDER BY e.last_activity_at DESC
     LIMIT 1;
    IF FOUND THEN
        UPDATE alert_grouping_bench.ref_episodes AS e
           SET alert_count = e.alert_count + 1,
               active_alert_count = e.active_alert_count + 1,
               last_activity_at = GREATEST(e.last_activity_at, NEW.created_at),
               severity = GREATEST(e.severity, NEW.severity)
         WHERE e.project_id = NEW.project_id AND e.id = episode;
    ELSE
        INSERT INTO alert_grouping_bench.ref_episodes
            (project_id, episode_number, title, rule_id, group_key, severity, started_at,
             last_activity_at, alert_count, active_alert_count, first_alert_title)
        VALUES (NEW.project_id, nextval('alert_grouping_bench.ref_episode_number'), NEW.title,
                rule.id, key, NEW.severity, NEW.created_at, NEW.created_at, 1, 1, NEW.title)
        RETURNING id INTO episode;
    END IF;
    NEW.episode_id := episode;
    RETURN NEW;
END
$$;

CREATE TRIGGER ref_group BEFORE INSERT ON alert_grouping_bench.ref_alerts
    FOR EACH ROW EXECUTE FUNCTION alert_grouping_bench.ref_group();
