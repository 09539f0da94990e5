#include "engine.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "grouping.hpp"
#include "guard.hpp"
#include "planner.hpp"
#include "project_config.hpp"
#include "spi_query.hpp"

namespace ag::pg {

const char *const kAlertColumns[] = {"project_id", "id",          "monitor_id", "severity",
                                     "title",      "description", "labels",     "fingerprint",
                                     "created_at", "state",       "resolved_at"};

Severity AlertRowReader::severity_of(Datum enum_value) {
  Oid oid = DatumGetObjectId(enum_value);
  for (const auto &[known, severity] : severities_)
    if (known == oid) return severity;
  std::string name = pg_call(
      [&] { return std::string(DatumGetCString(DirectFunctionCall1(enum_out, enum_value))); });
  Severity severity = parse_severity(name).value_or(Severity::Medium);
  severities_.emplace_back(oid, severity);
  return severity;
}

bool AlertRowReader::is_resolved(Datum enum_value) {
  Oid oid = DatumGetObjectId(enum_value);
  if (resolved_oid_ == InvalidOid) {
    std::string name = pg_call(
        [&] { return std::string(DatumGetCString(DirectFunctionCall1(enum_out, enum_value))); });
    if (name != "resolved") return false;
    resolved_oid_ = oid;
  }
  return oid == resolved_oid_;
}

namespace {

// Advisory lock classes. Every statement takes its fingerprint locks, then its group locks,
// each set in ascending order, so single-statement writers can never wait in a cycle.
constexpr int32 kFingerprintLockClass = 0x41470001;
constexpr int32 kGroupLockClass = 0x41470002;

int32 hash32(const Uuid &project, const std::string &text) {
  std::string material(reinterpret_cast<const char *>(project.bytes.data()), UUID_LEN);
  material += text;
  return pg_call([&] {
    return static_cast<int32>(hash_bytes(reinterpret_cast<const unsigned char *>(material.data()),
                                         static_cast<int>(material.size())));
  });
}

void lock_all(int32 lock_class, std::vector<int32> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (int32 key : keys)
    pg_call([&] {
      DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(lock_class),
                          Int32GetDatum(key));
    });
}

std::string severity_text(Severity s) { return severity_name(s); }

std::string uuid_array_literal(const std::vector<Uuid> &ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); i++) {
    if (i) out += ',';
    out += ids[i].text();
  }
  return out + "}";
}

// No ORDER BY: sorting would tempt the planner into walking (project_id, created_at) over
// every alert of the project; the oldest holder is picked in C++ instead.
SpiQuery dedup_query(
    "SELECT a.id, a.fingerprint, a.created_at FROM alert_grouping.alerts AS a "
    " WHERE a.project_id = $1 AND a.fingerprint = ANY ($2) AND a.state <> 'resolved'",
    {UUIDOID, TEXTARRAYOID});

SpiQuery absorb_query(
    "UPDATE alert_grouping.alerts AS a "
    "   SET duplicate_count = a.duplicate_count + v.n, "
    "       last_duplicate_at = GREATEST(a.last_duplicate_at, v.at), "
    "       severity = GREATEST(a.severity, v.sev::alert_grouping.severity) "
    "  FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::int4[]), "
    "pg_catalog.unnest($4::timestamptz[]), pg_catalog.unnest($5::text[])) "
    "       AS v(id, n, at, sev) "
    " WHERE a.project_id = $1 AND a.id = v.id "
    "RETURNING a.episode_id, a.severity::text, v.at",
    {UUIDOID, UUIDARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID});

SpiQuery delete_query("DELETE FROM alert_grouping.alerts WHERE project_id = $1 AND id = ANY ($2)",
                      {UUIDOID, UUIDARRAYOID});

constexpr const char *kEpisodeColumns =
    "SELECT e.id, e.group_key, COALESCE(e.first_alert_title, e.title), e.started_at, "
    "       e.last_activity_at, e.resolved_at, e.severity::text, e.alert_count, e.reopen_count, "
    "       e.monitor_ids, e.state = 'resolved' "
    "  FROM alert_grouping.episodes AS e ";

SpiQuery open_episodes_query(
    (std::string(kEpisodeColumns) +
     " WHERE e.project_id = $1 AND e.rule_id = $2 AND e.group_key = ANY ($3) "
     "   AND e.state <> 'resolved' AND e.last_activity_at >= $4")
        .c_str(),
    {UUIDOID, UUIDOID, TEXTARRAYOID, TIMESTAMPTZOID});

SpiQuery resolved_episodes_query(
    (std::string(kEpisodeColumns) +
     " WHERE e.project_id = $1 AND e.rule_id = $2 AND e.group_key = ANY ($3) "
     "   AND e.state = 'resolved' AND e.resolved_at >= $4")
        .c_str(),
    {UUIDOID, UUIDOID, TEXTARRAYOID, TIMESTAMPTZOID});

SpiQuery counter_query(
    "INSERT INTO alert_grouping.project_counters AS c (project_id, last_episode_number) "
    "VALUES ($1, $2) ON CONFLICT (project_id) DO UPDATE "
    "   SET last_episode_number = c.last_episode_number + EXCLUDED.last_episode_number "
    "RETURNING c.last_episode_number",
    {UUIDOID, INT4OID});

SpiQuery insert_episodes_query(
    "INSERT INTO alert_grouping.episodes "
    "  (project_id, id, episode_number, rule_id, group_key, title, title_template, "
    "   first_alert_title, severity, started_at, last_activity_at, alert_count, "
    "   active_alert_count, monitor_ids, unique_monitor_count, state, resolved_at, "
    "   all_alerts_resolved_at) "
    "SELECT $1, v.id, v.num, v.rule_id, v.key, v.title, NULLIF(v.tmpl, ''), "
    "       v.first_title, v.sev::alert_grouping.severity, v.started, v.last_at, v.n, v.active, "
    "       v.mons::uuid[], pg_catalog.cardinality(v.mons::uuid[]), "
    "       CASE WHEN v.active > 0 THEN 'open' ELSE 'resolved' END::alert_grouping.episode_state, "
    "       CASE WHEN v.active > 0 THEN NULL ELSE v.last_resolved END, "
    "       CASE WHEN v.active > 0 THEN NULL ELSE v.last_resolved END "
    "  FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::int4[]), "
    "       pg_catalog.unnest($4::uuid[]), pg_catalog.unnest($5::text[]), "
    "       pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), "
    "       pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), "
    "       pg_catalog.unnest($10::timestamptz[]), pg_catalog.unnest($11::timestamptz[]), "
    "       pg_catalog.unnest($12::int4[]), pg_catalog.unnest($13::int4[]), "
    "       pg_catalog.unnest($14::text[]), pg_catalog.unnest($15::timestamptz[])) "
    "    AS v(id, num, rule_id, key, title, tmpl, first_title, sev, started, last_at, n, "
    "         active, mons, last_resolved)",
    {UUIDOID, UUIDARRAYOID, INT4ARRAYOID, UUIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
     TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, INT4ARRAYOID,
     INT4ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID});

// Deltas, so that a concurrent acknowledge or resolve of the same episode is never undone.
// "before" reads the row as the statement found it, to report severity changes.
SpiQuery update_episodes_query(
    "UPDATE alert_grouping.episodes AS e "
    "   SET alert_count = e.alert_count + v.n, "
    "       active_alert_count = e.active_alert_count + v.active, "
    "       all_alerts_resolved_at = CASE WHEN v.active > 0 THEN NULL "
    "                                     ELSE e.all_alerts_resolved_at END, "
    "       last_activity_at = GREATEST(e.last_activity_at, v.last_at), "
    "       severity = GREATEST(e.severity, v.sev::alert_grouping.severity), "
    "       monitor_ids = COALESCE(NULLIF(v.mons, '')::uuid[], e.monitor_ids), "
    "       unique_monitor_count = COALESCE(pg_catalog.cardinality("
    "           NULLIF(v.mons, '')::uuid[]), e.unique_monitor_count), "
    "       state = CASE WHEN v.reopen THEN 'open'::alert_grouping.episode_state ELSE e.state END, "
    "       resolved_at = CASE WHEN v.reopen THEN NULL ELSE e.resolved_at END, "
    "       acknowledged_at = CASE WHEN v.reopen THEN NULL ELSE e.acknowledged_at END, "
    "       reopen_count = e.reopen_count + CASE WHEN v.reopen THEN 1 ELSE 0 END, "
    "       title = CASE WHEN e.title_template IS NULL OR v.n = 0 THEN e.title "
    "                    ELSE pg_catalog.replace(e.title_template, '{{alert_count}}', "
    "                                            (e.alert_count + v.n)::text) END "
    "  FROM (SELECT u.*, b.severity AS old_sev "
    "          FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::int4[]), "
    "       pg_catalog.unnest($4::int4[]), pg_catalog.unnest($5::timestamptz[]), "
    "       pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), "
    "       pg_catalog.unnest($8::bool[])) "
    "               AS u(id, n, active, last_at, sev, mons, reopen) "
    "          JOIN alert_grouping.episodes AS b ON b.project_id = $1 AND b.id = u.id) AS v "
    " WHERE e.project_id = $1 AND e.id = v.id "
    "RETURNING e.id, v.old_sev::text, e.severity::text, v.last_at, v.reopen, e.reopen_count",
    {UUIDOID, UUIDARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,
     TEXTARRAYOID, BOOLARRAYOID});

SpiQuery insert_events_query(
    "INSERT INTO alert_grouping.episode_events (project_id, episode_id, at, kind, detail) "
    "SELECT $1, v.e, v.at, v.kind, v.detail::jsonb "
    "  FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::timestamptz[]), "
    "pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[])) "
    "    AS v(e, at, kind, detail)",
    {UUIDOID, UUIDARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID});

SpiQuery insert_members_query(
    "INSERT INTO alert_grouping.episode_members "
    "  (project_id, episode_id, alert_id, added_by, rule_id, similarity_score) "
    "SELECT $1, v.e, v.a, $2, v.r, v.s::numeric(5,4) "
    "  FROM ROWS FROM (pg_catalog.unnest($3::uuid[]), pg_catalog.unnest($4::uuid[]), "
    "pg_catalog.unnest($5::uuid[]), pg_catalog.unnest($6::float8[])) AS v(e, a, r, s)",
    {UUIDOID, TEXTOID, UUIDARRAYOID, UUIDARRAYOID, UUIDARRAYOID, FLOAT8ARRAYOID});

SpiQuery set_episode_query(
    "UPDATE alert_grouping.alerts AS a SET episode_id = v.e "
    "  FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::uuid[])) AS v(a, e) "
    " WHERE a.project_id = $1 AND a.id = v.a",
    {UUIDOID, UUIDARRAYOID, UUIDARRAYOID});

// Owners and labels named by a rule are attached only where they still exist.
SpiQuery owner_users_query(
    "INSERT INTO alert_grouping.episode_owner_users (project_id, episode_id, user_id) "
    "SELECT $1, v.e, v.x FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), "
    "pg_catalog.unnest($3::uuid[])) AS v(e, x) "
    " WHERE EXISTS (SELECT FROM alert_grouping.project_members AS m "
    "                WHERE m.project_id = $1 AND m.user_id = v.x) "
    "ON CONFLICT DO NOTHING",
    {UUIDOID, UUIDARRAYOID, UUIDARRAYOID});
SpiQuery owner_teams_query(
    "INSERT INTO alert_grouping.episode_owner_teams (project_id, episode_id, team_id) "
    "SELECT $1, v.e, v.x FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), "
    "pg_catalog.unnest($3::uuid[])) AS v(e, x) "
    " WHERE EXISTS (SELECT FROM alert_grouping.teams AS t WHERE t.project_id = $1 AND t.id = v.x) "
    "ON CONFLICT DO NOTHING",
    {UUIDOID, UUIDARRAYOID, UUIDARRAYOID});
SpiQuery episode_labels_query(
    "INSERT INTO alert_grouping.episode_labels (project_id, episode_id, label_id) "
    "SELECT $1, v.e, v.x FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), "
    "pg_catalog.unnest($3::uuid[])) AS v(e, x) "
    " WHERE EXISTS (SELECT FROM alert_grouping.labels AS l WHERE l.project_id = $1 AND l.id = v.x) "
    "ON CONFLICT DO NOTHING",
    {UUIDOID, UUIDARRAYOID, UUIDARRAYOID});

struct Events {
  std::vector<Uuid> episode;
  std::vector<TimestampTz> at;
  std::vector<std::string> kind;
  std::vector<std::string> detail;
  void add(const Uuid &e, TimestampTz t, const char *k, const nlohmann::json &d) {
    episode.push_back(e);
    at.push_back(t);
    kind.push_back(k);
    detail.push_back(d.dump());
  }
};

// Accumulated change to one existing episode.
struct EpisodeDelta {
  int32 added = 0;
  int32 active = 0;
  TimestampTz last_at = DT_NOBEGIN;
  Severity severity = Severity::Info;
  std::string monitors;  // new monitor_ids literal, "" to keep
  bool reopen = false;
};

class ProjectBatch {
 public:
  ProjectBatch(const Uuid &project, std::shared_ptr<const ProjectConfig> config,
               const EngineOptions &options, EngineResult &result)
      : project_(project), config_(std::move(config)), options_(options), result_(result) {}

  void add(AlertRow *row) { rows_.push_back(row); }
  const std::vector<AlertRow *> &rows() const { return rows_; }

  void deduplicate();
  void match_rules(std::vector<int32> &group_lock_keys);
  void group_and_write();

 private:
  struct Matched {
    AlertRow *row;
    std::string key;
  };
  struct Loaded {
    std::vector<Uuid> monitors;
  };

  void plan_rule(const CompiledRule &rule, std::vector<Matched> &alerts);
  void load_candidates(const CompiledRule &rule, const std::vector<std::string> &keys,
                       TimestampTz since, bool resolved, Planner &planner);
  void write();

  Uuid project_;
  std::shared_ptr<const ProjectConfig> config_;
  const EngineOptions &options_;
  EngineResult &result_;
  std::vector<AlertRow *> rows_;  // survivors of deduplication, in statement order
  std::map<size_t, std::vector<Matched>> by_rule_;  // rule index -> matched alerts

  // What the plans decided, gathered across rules, written in one pass.
  struct NewEpisode {
    Uuid id;
    const CompiledRule *rule;
    EpisodeState state;
    std::vector<AlertRow *> members;
  };
  std::vector<NewEpisode> new_episodes_;
  std::map<Uuid, EpisodeDelta> deltas_;
  std::vector<Uuid> member_episode_, member_alert_, member_rule_;
  std::vector<double> member_score_;
  std::vector<bool> member_score_null_;
  std::unordered_map<Uuid, Loaded, UuidHash> loaded_;
};

void ProjectBatch::deduplicate() {
  std::vector<std::string> fingerprints;
  for (AlertRow *row : rows_)
    if (row->active) fingerprints.push_back(row->fingerprint);
  if (fingerprints.empty()) return;

  std::unordered_map<Uuid, bool, UuidHash> is_new;
  for (AlertRow *row : rows_) is_new[row->id] = true;

  // The oldest active alert already stored holds each fingerprint.
  struct Holder {
    Uuid id;
    TimestampTz created_at;
  };
  std::unordered_map<std::string, Holder> holders;
  uint64 n = dedup_query.run({project_.to_datum(), text_array(fingerprints)});
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    Uuid id = Uuid::from_datum(spi_value(i, 1, &isnull));
    if (is_new.count(id)) continue;
    TimestampTz created_at = DatumGetTimestampTz(spi_value(i, 3, &isnull));
    auto [it, inserted] =
        holders.try_emplace(text_from_datum(spi_value(i, 2, &isnull)), Holder{id, created_at});
    Holder &h = it->second;
    if (!inserted && (created_at < h.created_at || (created_at == h.created_at && id < h.id)))
      h = Holder{id, created_at};
  }
  std::unordered_map<std::string, Uuid> holder;
  for (const auto &[fingerprint, h] : holders) holder.emplace(fingerprint, h.id);

  struct Absorbed {
    int32 count = 0;
    TimestampTz at = DT_NOBEGIN;
    Severity severity = Severity::Info;
  };
  std::map<Uuid, Absorbed> absorbed;
  std::unordered_map<std::string, AlertRow *> first_new;
  std::vector<Uuid> duplicates;
  std::vector<AlertRow *> survivors;
  for (AlertRow *row : rows_) {
    if (!row->active) {
      survivors.push_back(row);
      continue;
    }
    auto stored = holder.find(row->fingerprint);
    AlertRow *earlier = nullptr;
    if (stored == holder.end()) {
      auto [it, inserted] = first_new.emplace(row->fingerprint, row);
      if (inserted) {
        survivors.push_back(row);
        continue;
      }
      earlier = it->second;
    }
    Uuid target = earlier ? earlier->id : stored->second;
    Absorbed &a = absorbed[target];
    a.count++;
    a.at = std::max(a.at, row->created_at);
    a.severity = std::max(a.severity, row->alert.severity);
    // A new alert that absorbs a later one in the same statement groups at the higher severity.
    if (earlier) earlier->alert.severity = std::max(earlier->alert.severity, row->alert.severity);
    duplicates.push_back(row->id);
  }
  rows_ = std::move(survivors);
  if (duplicates.empty()) return;

  std::vector<Uuid> ids;
  std::vector<int32> counts;
  std::vector<TimestampTz> ats;
  std::vector<std::string> severities;
  for (const auto &[id, a] : absorbed) {
    ids.push_back(id);
    counts.push_back(a.count);
    ats.push_back(a.at);
    severities.push_back(severity_text(a.severity));
  }
  uint64 updated = absorb_query.run({project_.to_datum(), uuid_array(ids), int4_array(counts),
                                     timestamptz_array(ats), text_array(severities)});
  // A duplicate keeps its holder's episode alive and can raise its severity.
  for (uint64 i = 0; i < updated; i++) {
    bool isnull;
    Datum episode = spi_value(i, 1, &isnull);
    if (isnull) continue;
    EpisodeDelta &d = deltas_[Uuid::from_datum(episode)];
    d.severity = std::max(d.severity, *parse_severity(text_from_datum(spi_value(i, 2, &isnull))));
    d.last_at = std::max(d.last_at, DatumGetTimestampTz(spi_value(i, 3, &isnull)));
  }
  delete_query.run({project_.to_datum(), uuid_array(duplicates)});
  result_.deduplicated += static_cast<int64>(duplicates.size());
}

void ProjectBatch::match_rules(std::vector<int32> &group_lock_keys) {
  const auto &rules = config_->rules;
  for (AlertRow *row : rows_) {
    for (size_t r = 0; r < rules.size(); r++) {
      if (options_.only_rule && rules[r].id != *options_.only_rule) continue;
      if (!rules[r].rule.match.matches(row->alert)) continue;
      std::string key = group_key(rules[r].rule.grouping, row->alert);
      group_lock_keys.push_back(hash32(project_, rules[r].id.text() + '\x1f' + key));
      by_rule_[r].push_back({row, std::move(key)});
      break;  // the first matching rule wins
    }
  }
}

void ProjectBatch::load_candidates(const CompiledRule &rule, const std::vector<std::string> &keys,
                                   TimestampTz since, bool resolved, Planner &planner) {
  SpiQuery &query = resolved ? resolved_episodes_query : open_episodes_query;
  uint64 n = query.run(
      {project_.to_datum(), rule.id.to_datum(), text_array(keys), TimestampTzGetDatum(since)});
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    EpisodeState e;
    Uuid id = Uuid::from_datum(spi_value(i, 1, &isnull));
    e.id = id.text();
    e.group_key = text_from_datum(spi_value(i, 2, &isnull));
    e.first_title = text_from_datum(spi_value(i, 3, &isnull));
    e.started_at_us = DatumGetTimestampTz(spi_value(i, 4, &isnull));
    e.last_activity_us = DatumGetTimestampTz(spi_value(i, 5, &isnull));
    Datum resolved_at = spi_value(i, 6, &isnull);
    e.resolved_at_us = isnull ? 0 : DatumGetTimestampTz(resolved_at);
    e.severity = parse_severity(text_from_datum(spi_value(i, 7, &isnull))).value_or(Severity::Info);
    e.alert_count = DatumGetInt32(spi_value(i, 8, &isnull));
    e.reopen_count = DatumGetInt32(spi_value(i, 9, &isnull));
    loaded_[id].monitors = uuids_from_array(spi_value(i, 10, &isnull));
    e.resolved = DatumGetBool(spi_value(i, 11, &isnull));
    planner.add_existing(std::move(e));
  }
}

void ProjectBatch::plan_rule(const CompiledRule &rule, std::vector<Matched> &alerts) {
  // Event-time order; the statement order breaks ties.
  std::stable_sort(alerts.begin(), alerts.end(), [](const Matched &a, const Matched &b) {
    return a.row->created_at < b.row->created_at;
  });
  int64 window_us = rule.rule.grouping.time_window_minutes
                        ? int64(*rule.rule.grouping.time_window_minutes) * USECS_PER_MINUTE
                        : config_->default_window_us;
  int64 reopen_us = int64(rule.rule.episode.reopen_window_minutes) * USECS_PER_MINUTE;
  TimestampTz earliest = alerts.front().row->created_at;

  std::vector<std::string> keys;
  for (const Matched &m : alerts) keys.push_back(m.key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  Planner planner(rule.rule, window_us);
  load_candidates(rule, keys, earliest - window_us, false, planner);
  if (reopen_us > 0) load_candidates(rule, keys, earliest - reopen_us, true, planner);
  size_t existing = planner.episodes().size();

  std::vector<Placement> placements;
  placements.reserve(alerts.size());
  for (const Matched &m : alerts) placements.push_back(planner.place(m.row->alert, m.key));

  const auto &episodes = planner.episodes();
  // Planner index -> position in new_episodes_ (new episodes only).
  std::map<size_t, size_t> created;
  for (size_t i = existing; i < episodes.size(); i++) {
    if (!config_->auto_create_episodes) continue;  // such alerts stay ungrouped
    created[i] = new_episodes_.size();
    new_episodes_.push_back({Uuid::random(), &rule, episodes[i], {}});
  }

  for (size_t k = 0; k < alerts.size(); k++) {
    const Placement &p = placements[k];
    AlertRow *row = alerts[k].row;
    Uuid episode_id;
    if (p.episode >= existing) {
      auto c = created.find(p.episode);
      if (c == created.end()) continue;
      NewEpisode &ne = new_episodes_[c->second];
      ne.members.push_back(row);
      episode_id = ne.id;
    } else {
      const EpisodeState &state = episodes[p.episode];
      episode_id = Uuid::from_datum(
          pg_call([&] { return DirectFunctionCall1(uuid_in, CStringGetDatum(state.id.c_str())); }));
      EpisodeDelta &d = deltas_[episode_id];
      d.added++;
      if (row->active) d.active++;
      d.last_at = std::max(d.last_at, row->created_at);
      d.severity = std::max(d.severity, row->alert.severity);
      d.reopen = d.reopen || state.reopened;
      if (row->monitor) {
        auto &monitors = loaded_[episode_id].monitors;
        if (std::find(monitors.begin(), monitors.end(), *row->monitor) == monitors.end()) {
          monitors.push_back(*row->monitor);
          d.monitors = uuid_array_literal(monitors);
        }
      }
    }
    member_episode_.push_back(episode_id);
    member_alert_.push_back(row->id);
    member_rule_.push_back(rule.id);
    member_score_.push_back(p.similarity_score.value_or(0));
    member_score_null_.push_back(!p.similarity_score.has_value());
  }
}

void ProjectBatch::group_and_write() {
  for (auto &[rule_index, alerts] : by_rule_) plan_rule(config_->rules[rule_index], alerts);
  if (member_alert_.empty() && deltas_.empty()) return;
  write();
}

void ProjectBatch::write() {
  Events events;
  if (!new_episodes_.empty()) {
    counter_query.run({project_.to_datum(), Int32GetDatum(int32(new_episodes_.size()))});
    bool isnull;
    int32 last_number = DatumGetInt32(spi_value(0, 1, &isnull));
    int32 number = last_number - int32(new_episodes_.size());

    std::vector<Uuid> ids, rule_ids;
    std::vector<int32> numbers, counts, actives;
    std::vector<std::string> keys, titles, templates, first_titles, severities, monitors;
    std::vector<TimestampTz> started, last_at, last_resolved;
    std::vector<Uuid> owner_ep_users, owner_users, owner_ep_teams, owner_teams, label_eps,
        label_ids;
    for (NewEpisode &ne : new_episodes_) {
      const AlertRow &first = *ne.members.front();
      const EpisodeConfig &config = ne.rule->rule.episode;
      int32 active = 0;
      std::vector<Uuid> monitor_ids;
      TimestampTz resolved = first.resolved_at;
      Severity severity = first.alert.severity;
      for (const AlertRow *m : ne.members) {
        if (m->active) active++;
        resolved = std::max(resolved, m->resolved_at);
        severity = std::max(severity, m->alert.severity);
        if (m->monitor &&
            std::find(monitor_ids.begin(), monitor_ids.end(), *m->monitor) == monitor_ids.end())
          monitor_ids.push_back(*m->monitor);
      }
      std::string tmpl, title;
      if (config.title_template) {
        std::string rendered =
            render_title_template(*config.title_template, first.alert, ne.state.group_key);
        title = fill_alert_count(rendered, int64(ne.members.size()));
        if (rendered.find("{{alert_count}}") != std::string::npos) tmpl = rendered;
      } else {
        title = first.alert.title;
      }
      ids.push_back(ne.id);
      numbers.push_back(++number);
      rule_ids.push_back(ne.rule->id);
      keys.push_back(ne.state.group_key);
      titles.push_back(title);
      templates.push_back(tmpl);
      first_titles.push_back(first.alert.title);
      severities.push_back(severity_text(severity));
      started.push_back(first.created_at);
      last_at.push_back(ne.state.last_activity_us);
      counts.push_back(int32(ne.members.size()));
      actives.push_back(active);
      monitors.push_back(uuid_array_literal(monitor_ids));
      last_resolved.push_back(resolved);
      events.add(ne.id, first.created_at, "created",
                 {{"reason", options_.added_by == "rule" ? "rule_matched" : "regroup"},
                  {"rule_id", ne.rule->id.text()},
                  {"group_key", ne.state.group_key},
                  {"first_alert_id", first.id.text()}});
      auto to_uuid = [](const std::string &text) {
        return Uuid::from_datum(
            pg_call([&] { return DirectFunctionCall1(uuid_in, CStringGetDatum(text.c_str())); }));
      };
      for (const auto &u : config.owner_user_ids) {
        owner_ep_users.push_back(ne.id);
        owner_users.push_back(to_uuid(u));
      }
      for (const auto &t : config.owner_team_ids) {
        owner_ep_teams.push_back(ne.id);
        owner_teams.push_back(to_uuid(t));
      }
      for (const auto &l : config.label_ids) {
        label_eps.push_back(ne.id);
        label_ids.push_back(to_uuid(l));
      }
    }
    insert_episodes_query.run({project_.to_datum(), uuid_array(ids), int4_array(numbers),
                               uuid_array(rule_ids), text_array(keys), text_array(titles),
                               text_array(templates), text_array(first_titles),
                               text_array(severities), timestamptz_array(started),
                               timestamptz_array(last_at), int4_array(counts), int4_array(actives),
                               text_array(monitors), timestamptz_array(last_resolved)});
    result_.episodes_created += int64(ids.size());
    if (!owner_users.empty())
      owner_users_query.run(
          {project_.to_datum(), uuid_array(owner_ep_users), uuid_array(owner_users)});
    if (!owner_teams.empty())
      owner_teams_query.run(
          {project_.to_datum(), uuid_array(owner_ep_teams), uuid_array(owner_teams)});
    if (!label_ids.empty())
      episode_labels_query.run({project_.to_datum(), uuid_array(label_eps), uuid_array(label_ids)});
  }

  if (!deltas_.empty()) {
    std::vector<Uuid> ids;
    std::vector<int32> added, active;
    std::vector<TimestampTz> last_at;
    std::vector<std::string> severities, monitors;
    std::vector<bool> reopen;
    for (const auto &[id, d] : deltas_) {
      ids.push_back(id);
      added.push_back(d.added);
      active.push_back(d.active);
      last_at.push_back(d.last_at);
      severities.push_back(severity_text(d.severity));
      monitors.push_back(d.monitors);
      reopen.push_back(d.reopen);
    }
    uint64 n = update_episodes_query.run({project_.to_datum(), uuid_array(ids), int4_array(added),
                                          int4_array(active), timestamptz_array(last_at),
                                          text_array(severities), text_array(monitors),
                                          bool_array(reopen)});
    for (uint64 i = 0; i < n; i++) {
      bool isnull;
      Uuid id = Uuid::from_datum(spi_value(i, 1, &isnull));
      std::string before = text_from_datum(spi_value(i, 2, &isnull));
      std::string after = text_from_datum(spi_value(i, 3, &isnull));
      TimestampTz at = DatumGetTimestampTz(spi_value(i, 4, &isnull));
      if (DatumGetBool(spi_value(i, 5, &isnull)))
        events.add(id, at, "reopened",
                   {{"reason", "alert_within_reopen_window"},
                    {"reopen_count", DatumGetInt32(spi_value(i, 6, &isnull))}});
      if (*parse_severity(after) > *parse_severity(before))
        events.add(id, at, "severity_raised", {{"from", before}, {"to", after}});
    }
  }

  if (!member_alert_.empty()) {
    std::string added_by = options_.added_by;
    set_episode_query.run(
        {project_.to_datum(), uuid_array(member_alert_), uuid_array(member_episode_)});
    insert_members_query.run(
        {project_.to_datum(), PointerGetDatum(cstring_to_text(added_by.c_str())),
         uuid_array(member_episode_), uuid_array(member_alert_), uuid_array(member_rule_),
         float8_array(member_score_, member_score_null_)});
    result_.grouped += int64(member_alert_.size());
  }

  if (!events.episode.empty())
    insert_events_query.run({project_.to_datum(), uuid_array(events.episode),
                             timestamptz_array(events.at), text_array(events.kind),
                             text_array(events.detail)});
}

}  // namespace

int32 fingerprint_lock_key(const Uuid &project, const std::string &fingerprint) {
  return hash32(project, fingerprint);
}

EngineResult run_engine(std::vector<AlertRow> &rows, const EngineOptions &options) {
  EngineResult result;
  // Projects in a fixed order so that per-project locks (the episode counter row) are also
  // taken in one global order.
  std::map<Uuid, std::unique_ptr<ProjectBatch>> batches;
  for (AlertRow &row : rows) {
    auto it = batches.find(row.project);
    if (it == batches.end()) {
      auto config = project_config(row.project);
      if (!config->grouping_enabled) {
        batches.emplace(row.project, nullptr);
        continue;
      }
      it = batches
               .emplace(row.project,
                        std::make_unique<ProjectBatch>(row.project, config, options, result))
               .first;
    }
    if (it->second) it->second->add(&row);
  }

  if (options.deduplicate) {
    std::vector<int32> keys;
    for (auto &[project, batch] : batches)
      if (batch)
        for (AlertRow *row : batch->rows())
          if (row->active) keys.push_back(hash32(project, row->fingerprint));
    lock_all(kFingerprintLockClass, std::move(keys));
    for (auto &[project, batch] : batches)
      if (batch) batch->deduplicate();
  }

  std::vector<int32> group_keys;
  for (auto &[project, batch] : batches)
    if (batch) batch->match_rules(group_keys);
  lock_all(kGroupLockClass, std::move(group_keys));
  for (auto &[project, batch] : batches)
    if (batch) batch->group_and_write();
  return result;
}

}  // namespace ag::pg
