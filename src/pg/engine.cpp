#include "engine.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "engine_locks.hpp"
#include "engine_statements.hpp"
#include "engine_writes.hpp"
#include "grouping.hpp"
#include "interrupts.hpp"
#include "planner.hpp"
#include "project_config.hpp"
#include "time_math.hpp"

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

namespace sql = statements;

// The first enabled rule (in evaluation order) that matches, with the alert's group key.
std::optional<std::pair<size_t, std::string>> first_match(const ProjectConfig &config,
                                                          const Alert &alert,
                                                          const std::optional<Uuid> &only_rule) {
  for (size_t r = 0; r < config.rules.size(); r++) {
    if (only_rule && config.rules[r].id != *only_rule) continue;
    if (config.rules[r].rule.match.matches(alert))
      return std::make_pair(r, group_key(config.rules[r].rule.grouping, alert));
  }
  return std::nullopt;
}

std::string uuid_array_literal(const std::vector<Uuid> &ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); i++) {
    if (i) out += ',';
    out += ids[i].text();
  }
  return out + "}";
}

Uuid uuid_from_text(const std::string &text) {
  return Uuid::from_datum(
      pg_call([&] { return DirectFunctionCall1(uuid_in, CStringGetDatum(text.c_str())); }));
}

Severity severity_from_text(Datum d) {
  return parse_severity(text_from_datum(d)).value_or(Severity::Info);
}

// Candidate-episode lookups gathered across projects and rules.
struct CandidateRequests {
  std::vector<Uuid> project, rule;
  std::vector<std::string> key;
  std::vector<TimestampTz> since;
  void add(const Uuid &p, const Uuid &r, const std::string &k, TimestampTz s) {
    project.push_back(p);
    rule.push_back(r);
    key.push_back(k);
    since.push_back(s);
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

// The decisions for one project's rows of the statement.
class ProjectBatch {
 public:
  ProjectBatch(const Uuid &project, std::shared_ptr<const ProjectConfig> config,
               const EngineOptions &options)
      : project_(project), config_(std::move(config)), options_(options) {}

  void add(AlertRow *row) { rows_.push_back(row); }
  const std::vector<AlertRow *> &rows() const { return rows_; }

  // Deduplication: the statement's active fingerprints, the stored holders found for them,
  // then which rows are absorbed by which holder.
  void active_fingerprints(std::vector<Uuid> &projects, std::vector<std::string> &fps) const;
  struct Holder {
    Uuid id;
    TimestampTz created_at = 0;
    std::optional<Uuid> episode;
    std::string episode_rule, episode_key;  // the group of the holder's episode
  };
  void add_holder(const std::string &fingerprint, Holder holder);
  void resolve_duplicates(Writes &w, int64 &deduplicated, std::vector<int64> &group_lock_keys,
                          std::vector<Uuid> &lock_projects, std::vector<Uuid> &lock_episodes);
  void duplicate_touched_episode(const Uuid &episode, Severity severity, TimestampTz at);

  void match_rules(std::vector<int64> &group_lock_keys);
  void request_candidates(CandidateRequests &open, CandidateRequests &resolved);
  void add_candidate(const Uuid &rule, const Uuid &id, EpisodeState state,
                     std::vector<Uuid> monitors);
  void plan();
  int32 new_episode_count() const { return int32(new_episodes_.size()); }
  void write(Writes &w);

 private:
  struct Matched {
    AlertRow *row;
    std::string key;
  };
  struct RulePlan {
    const CompiledRule *rule = nullptr;
    std::vector<Matched> alerts;
    std::unique_ptr<Planner> planner;
  };
  struct NewEpisode {
    Uuid id;
    const CompiledRule *rule;
    EpisodeState state;
    std::vector<AlertRow *> members;
  };
  struct Member {
    Uuid episode, alert, rule;
    std::optional<double> score;
  };

  void plan_rule(RulePlan &plan);

  Uuid project_;
  std::shared_ptr<const ProjectConfig> config_;
  const EngineOptions &options_;
  std::vector<AlertRow *> rows_;  // after deduplication: the rows to group, in statement order
  std::unordered_map<std::string, Holder> holders_;
  std::map<size_t, RulePlan> plans_;  // by rule index, i.e. evaluation order
  std::unordered_map<Uuid, std::vector<Uuid>, UuidHash> monitors_;  // loaded episodes
  std::unordered_map<std::string, Uuid> loaded_ids_;  // planner's text id -> loaded episode id
  std::vector<NewEpisode> new_episodes_;
  std::map<Uuid, EpisodeDelta> deltas_;
  std::vector<Member> members_;
};

void ProjectBatch::active_fingerprints(std::vector<Uuid> &projects,
                                       std::vector<std::string> &fps) const {
  std::vector<std::string> mine;
  for (const AlertRow *row : rows_)
    if (row->active) mine.push_back(row->fingerprint);
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  for (auto &fp : mine) {
    projects.push_back(project_);
    fps.push_back(std::move(fp));
  }
}

void ProjectBatch::add_holder(const std::string &fingerprint, Holder holder) {
  auto [it, inserted] = holders_.try_emplace(fingerprint, holder);
  Holder &held = it->second;
  // The oldest active alert holds the fingerprint.
  if (!inserted && (holder.created_at < held.created_at ||
                    (holder.created_at == held.created_at && holder.id < held.id)))
    held = std::move(holder);
}

void ProjectBatch::resolve_duplicates(Writes &w, int64 &deduplicated,
                                      std::vector<int64> &group_lock_keys,
                                      std::vector<Uuid> &lock_projects,
                                      std::vector<Uuid> &lock_episodes) {
  struct Absorbed {
    int32 count = 0;
    TimestampTz at = DT_NOBEGIN;
    Severity severity = Severity::Info;
  };
  std::map<Uuid, Absorbed> absorbed;
  std::map<Uuid, Uuid> holder_episodes;  // stored holders that belong to an episode
  std::unordered_map<std::string, AlertRow *> first_new;
  std::vector<AlertRow *> survivors;
  for (AlertRow *row : rows_) {
    if (!row->active) {
      survivors.push_back(row);
      continue;
    }
    auto stored = holders_.find(row->fingerprint);
    AlertRow *earlier = nullptr;
    if (stored == holders_.end()) {
      auto [it, inserted] = first_new.emplace(row->fingerprint, row);
      if (inserted) {
        survivors.push_back(row);
        continue;
      }
      earlier = it->second;
    }
    if (!earlier && stored->second.episode && !absorbed.count(stored->second.id)) {
      group_lock_keys.push_back(
          group_lock_key(project_, stored->second.episode_rule, stored->second.episode_key));
      lock_projects.push_back(project_);
      lock_episodes.push_back(*stored->second.episode);
      holder_episodes.emplace(stored->second.id, *stored->second.episode);
    }
    Absorbed &a = absorbed[earlier ? earlier->id : stored->second.id];
    a.count++;
    a.at = std::max(a.at, row->created_at);
    a.severity = std::max(a.severity, row->alert.severity);
    // A new alert that absorbs a later one of the same statement groups at the higher severity.
    if (earlier) {
      earlier->alert.severity = std::max(earlier->alert.severity, row->alert.severity);
      earlier->last_duplicate_at = std::max(earlier->last_duplicate_at, row->created_at);
    }
    w.removed.project.push_back(project_);
    w.removed.id.push_back(row->id);
    deduplicated++;
  }
  rows_ = std::move(survivors);
  for (const auto &[id, a] : absorbed) {
    w.absorb.project.push_back(project_);
    w.absorb.id.push_back(id);
    w.absorb.count.push_back(a.count);
    w.absorb.at.push_back(a.at);
    w.absorb.severity.push_back(severity_name(a.severity));
    auto episode = holder_episodes.find(id);
    if (episode != holder_episodes.end())
      duplicate_touched_episode(episode->second, a.severity, a.at);
  }
}

// A duplicate keeps its holder's episode alive and can raise its severity.
void ProjectBatch::duplicate_touched_episode(const Uuid &episode, Severity severity,
                                             TimestampTz at) {
  EpisodeDelta &d = deltas_[episode];
  d.severity = std::max(d.severity, severity);
  d.last_at = std::max(d.last_at, at);
}

void ProjectBatch::match_rules(std::vector<int64> &group_lock_keys) {
  for (AlertRow *row : rows_) {
    auto match = first_match(*config_, row->alert, options_.only_rule);
    if (!match) continue;
    auto &[index, key] = *match;
    const CompiledRule &rule = config_->rules[index];
    group_lock_keys.push_back(group_lock_key(project_, rule.id.text(), key));
    RulePlan &plan = plans_[index];
    plan.rule = &rule;
    plan.alerts.push_back({row, std::move(key)});
  }
}

void ProjectBatch::request_candidates(CandidateRequests &open, CandidateRequests &resolved) {
  for (auto &[index, plan] : plans_) {
    // Event-time order; the statement order breaks ties.
    std::stable_sort(
        plan.alerts.begin(), plan.alerts.end(),
        [](const Matched &a, const Matched &b) { return a.row->created_at < b.row->created_at; });
    const ag::Rule &rule = plan.rule->rule;
    int64 window_us = rule.grouping.time_window_minutes
                          ? int64(*rule.grouping.time_window_minutes) * USECS_PER_MINUTE
                          : config_->default_window_us;
    int64 reopen_us = int64(rule.episode.reopen_window_minutes) * USECS_PER_MINUTE;
    plan.planner = std::make_unique<Planner>(rule, window_us);
    TimestampTz earliest = plan.alerts.front().row->created_at;
    std::vector<std::string> keys;
    for (const Matched &m : plan.alerts) keys.push_back(m.key);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (const auto &key : keys) {
      open.add(project_, plan.rule->id, key, ag::saturating_sub(earliest, window_us));
      if (reopen_us > 0)
        resolved.add(project_, plan.rule->id, key, ag::saturating_sub(earliest, reopen_us));
    }
  }
}

void ProjectBatch::add_candidate(const Uuid &rule, const Uuid &id, EpisodeState state,
                                 std::vector<Uuid> monitors) {
  for (auto &[index, plan] : plans_) {
    if (plan.rule->id != rule) continue;
    monitors_[id] = std::move(monitors);
    loaded_ids_.emplace(state.id, id);
    plan.planner->add_existing(std::move(state));
    return;
  }
}

void ProjectBatch::plan() {
  for (auto &[index, plan] : plans_) plan_rule(plan);
}

void ProjectBatch::plan_rule(RulePlan &plan) {
  Planner &planner = *plan.planner;
  size_t existing = planner.episodes().size();
  std::vector<Placement> placements;
  placements.reserve(plan.alerts.size());
  for (const Matched &m : plan.alerts) placements.push_back(planner.place(m.row->alert, m.key));

  const auto &episodes = planner.episodes();
  std::map<size_t, size_t> created;  // planner index -> new_episodes_ index
  for (size_t i = existing; i < episodes.size(); i++) {
    if (!config_->auto_create_episodes) continue;  // such alerts stay ungrouped
    created[i] = new_episodes_.size();
    new_episodes_.push_back({Uuid::random(), plan.rule, episodes[i], {}});
  }
  for (size_t k = 0; k < plan.alerts.size(); k++) {
    const Placement &p = placements[k];
    AlertRow *row = plan.alerts[k].row;
    Uuid episode_id;
    if (p.episode >= existing) {
      auto c = created.find(p.episode);
      if (c == created.end()) continue;
      NewEpisode &ne = new_episodes_[c->second];
      ne.members.push_back(row);
      episode_id = ne.id;
    } else {
      const EpisodeState &state = episodes[p.episode];
      episode_id = loaded_ids_.at(state.id);
      EpisodeDelta &d = deltas_[episode_id];
      d.added++;
      if (row->active) d.active++;
      // A duplicate the row absorbed in the same statement keeps the episode active too, as
      // it would have had it arrived in a statement of its own.
      d.last_at = std::max({d.last_at, row->created_at, row->last_duplicate_at});
      d.severity = std::max(d.severity, row->alert.severity);
      d.reopen = d.reopen || state.reopened;
      if (row->monitor) {
        auto &monitors = monitors_[episode_id];
        if (std::find(monitors.begin(), monitors.end(), *row->monitor) == monitors.end()) {
          monitors.push_back(*row->monitor);
          d.monitors = uuid_array_literal(monitors);
        }
      }
    }
    members_.push_back({episode_id, row->id, plan.rule->id, p.similarity_score});
  }
}

// Numbers are offsets within the project's new episodes; the write phase adds the first number
// it takes from the project's counter.
void ProjectBatch::write(Writes &w) {
  int32 number = 0;
  if (!new_episodes_.empty()) {
    w.numbered_projects.push_back(project_);
    w.numbered_counts.push_back(int32(new_episodes_.size()));
  }
  for (NewEpisode &ne : new_episodes_) {
    const AlertRow &first = *ne.members.front();
    const EpisodeConfig &config = ne.rule->rule.episode;
    int32 active = 0;
    std::vector<Uuid> monitor_ids;
    TimestampTz resolved = first.resolved_at;
    TimestampTz last_at = ne.state.last_activity_us;
    Severity severity = first.alert.severity;
    for (const AlertRow *m : ne.members) {
      last_at = std::max(last_at, m->last_duplicate_at);
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
    auto &c = w.created;
    c.project.push_back(project_);
    c.id.push_back(ne.id);
    c.number.push_back(number++);
    c.rule.push_back(ne.rule->id);
    c.key.push_back(ne.state.group_key);
    c.title.push_back(title);
    c.tmpl.push_back(tmpl);
    c.first_title.push_back(first.alert.title);
    c.severity.push_back(severity_name(severity));
    c.started.push_back(first.created_at);
    c.last_at.push_back(last_at);
    c.count.push_back(int32(ne.members.size()));
    c.active.push_back(active);
    c.monitors.push_back(uuid_array_literal(monitor_ids));
    c.resolved.push_back(resolved);
    w.event(project_, ne.id, first.created_at, "created",
            {{"reason", options_.added_by == "rule" ? "rule_matched" : "regroup"},
             {"rule_id", ne.rule->id.text()},
             {"group_key", ne.state.group_key},
             {"first_alert_id", first.id.text()}});
    for (const auto &u : config.owner_user_ids)
      w.owner_users.add(project_, ne.id, uuid_from_text(u));
    for (const auto &t : config.owner_team_ids)
      w.owner_teams.add(project_, ne.id, uuid_from_text(t));
    for (const auto &l : config.label_ids) w.labels.add(project_, ne.id, uuid_from_text(l));
  }
  for (const auto &[id, d] : deltas_) {
    auto &u = w.updated;
    u.project.push_back(project_);
    u.id.push_back(id);
    u.count.push_back(d.added);
    u.active.push_back(d.active);
    u.last_at.push_back(d.last_at);
    u.severity.push_back(severity_name(d.severity));
    u.monitors.push_back(d.monitors);
    u.reopen.push_back(d.reopen);
  }
  for (const Member &m : members_) {
    auto &mm = w.members;
    mm.project.push_back(project_);
    mm.episode.push_back(m.episode);
    mm.alert.push_back(m.alert);
    mm.rule.push_back(m.rule);
    mm.score.push_back(m.score.value_or(0));
    mm.no_score.push_back(!m.score.has_value());
  }
}

using Batches = std::map<Uuid, std::unique_ptr<ProjectBatch>>;

ProjectBatch &batch_of(Batches &batches, const Uuid &project) { return *batches.at(project); }

// Locks to take after the fingerprints: the groups of the statement's rows and of the
// holders' episodes, then the holders' episodes.
struct EpisodeLocks {
  std::vector<int64> group_keys;
  std::vector<Uuid> projects, episodes;
};

std::vector<int64> episode_keys(const std::vector<Uuid> &projects, const std::vector<Uuid> &ids) {
  std::vector<int64> keys;
  for (size_t i = 0; i < ids.size(); i++) keys.push_back(episode_lock_key(projects[i], ids[i]));
  return keys;
}

// Under REPEATABLE READ or SERIALIZABLE, a holder committed after the transaction's snapshot
// is invisible to it, and the fingerprint lock alone cannot keep a second active alert out:
// such a statement fails with a serialization failure, and the client retries.
void check_holders_visible(const std::vector<Uuid> &projects,
                           const std::vector<std::string> &fingerprints, uint64 visible,
                           const std::unordered_map<Uuid, bool, UuidHash> &is_new) {
  std::unordered_map<Uuid, bool, UuidHash> seen;
  bool isnull;
  for (uint64 i = 0; i < visible; i++) seen[Uuid::from_datum(spi_value(i, 2, &isnull))] = true;
  uint64 latest =
      sql::active_holders.run_with_snapshot({uuid_array(projects), text_array(fingerprints)},
                                            pg_call([] { return GetLatestSnapshot(); }));
  for (uint64 i = 0; i < latest; i++) {
    Uuid id = Uuid::from_datum(spi_value(i, 2, &isnull));
    if (!seen.count(id) && !is_new.count(id))
      throw PgError(ERRCODE_T_R_SERIALIZATION_FAILURE,
                    "could not serialize access due to a concurrent alert with the same "
                    "fingerprint",
                    "Alert " + id.text() + " was committed after this transaction's snapshot.",
                    "Retry the transaction.");
  }
}

// Duplicates, decided before anything is written: the fingerprint locks, the stored holders,
// which new rows each absorbs. Holders' episodes join the group and episode locks.
void find_duplicates(Batches &batches, Writes &w, EngineResult &result, EpisodeLocks &locks) {
  std::vector<int64> keys;
  std::vector<Uuid> projects;
  std::vector<std::string> fingerprints;
  for (auto &[project, batch] : batches) batch->active_fingerprints(projects, fingerprints);
  if (fingerprints.empty()) return;
  for (size_t i = 0; i < fingerprints.size(); i++)
    keys.push_back(lock_key(LockClass::Fingerprint, projects[i], fingerprints[i]));
  lock_keys(std::move(keys));

  std::unordered_map<Uuid, bool, UuidHash> is_new;
  for (auto &[project, batch] : batches)
    for (const AlertRow *row : batch->rows()) is_new[row->id] = true;
  if (IsolationUsesXactSnapshot()) {
    uint64 visible = sql::active_holders.run({uuid_array(projects), text_array(fingerprints)});
    check_holders_visible(projects, fingerprints, visible, is_new);
  }
  uint64 n = sql::active_holders.run({uuid_array(projects), text_array(fingerprints)});
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    ProjectBatch::Holder holder;
    holder.id = Uuid::from_datum(spi_value(i, 2, &isnull));
    if (is_new.count(holder.id)) continue;
    holder.created_at = DatumGetTimestampTz(spi_value(i, 4, &isnull));
    Datum episode = spi_value(i, 5, &isnull);
    if (!isnull) {
      holder.episode = Uuid::from_datum(episode);
      Datum rule = spi_value(i, 6, &isnull);
      holder.episode_rule = isnull ? "" : Uuid::from_datum(rule).text();
      Datum key = spi_value(i, 7, &isnull);
      holder.episode_key = isnull ? "" : text_from_datum(key);
    }
    batch_of(batches, Uuid::from_datum(spi_value(i, 1, &isnull)))
        .add_holder(text_from_datum(spi_value(i, 3, &isnull)), std::move(holder));
  }
  for (auto &[project, batch] : batches)
    batch->resolve_duplicates(w, result.deduplicated, locks.group_keys, locks.projects,
                              locks.episodes);
}

// Candidates are read, their episode locks taken, and read again: what a lifecycle function
// changed before releasing the lock is seen, and nothing changes them afterwards.
void load_candidates(SpiQuery &query, const CandidateRequests &requests, Batches &batches) {
  if (requests.project.empty()) return;
  std::vector<Datum> args = {uuid_array(requests.project), uuid_array(requests.rule),
                             text_array(requests.key), timestamptz_array(requests.since)};
  uint64 n = query.run(args);
  if (n == 0) return;
  std::vector<int64> keys;
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    keys.push_back(episode_lock_key(Uuid::from_datum(spi_value(i, 1, &isnull)),
                                    Uuid::from_datum(spi_value(i, 3, &isnull))));
  }
  lock_keys(std::move(keys));
  n = query.run(args);
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    EpisodeState e;
    Uuid id = Uuid::from_datum(spi_value(i, 3, &isnull));
    e.id = id.text();
    e.group_key = text_from_datum(spi_value(i, 4, &isnull));
    e.first_title = text_from_datum(spi_value(i, 5, &isnull));
    e.started_at_us = DatumGetTimestampTz(spi_value(i, 6, &isnull));
    e.last_activity_us = DatumGetTimestampTz(spi_value(i, 7, &isnull));
    Datum resolved_at = spi_value(i, 8, &isnull);
    e.resolved_at_us = isnull ? 0 : DatumGetTimestampTz(resolved_at);
    e.severity = severity_from_text(spi_value(i, 9, &isnull));
    e.alert_count = DatumGetInt32(spi_value(i, 10, &isnull));
    e.reopen_count = DatumGetInt32(spi_value(i, 11, &isnull));
    std::vector<Uuid> monitors = uuids_from_array(spi_value(i, 12, &isnull));
    e.resolved = DatumGetBool(spi_value(i, 13, &isnull));
    batch_of(batches, Uuid::from_datum(spi_value(i, 1, &isnull)))
        .add_candidate(Uuid::from_datum(spi_value(i, 2, &isnull)), id, std::move(e),
                       std::move(monitors));
  }
}

}  // namespace

void lock_for_batch(const Uuid &project, const std::vector<AlertRow> &rows,
                    const std::vector<std::string> &fingerprints) {
  lock_fingerprints(project, fingerprints);
  auto config = project_config(project);
  std::vector<int64> group_keys;
  std::vector<Uuid> episodes;
  if (config->grouping_enabled)
    for (const AlertRow &row : rows)
      if (auto match = first_match(*config, row.alert, std::nullopt))
        group_keys.push_back(
            group_lock_key(project, config->rules[match->first].id.text(), match->second));
  if (!fingerprints.empty()) {
    std::vector<Uuid> projects(fingerprints.size(), project);
    uint64 n = sql::active_holders.run({uuid_array(projects), text_array(fingerprints)});
    for (uint64 i = 0; i < n; i++) {
      bool isnull;
      Datum episode = spi_value(i, 5, &isnull);
      if (isnull) continue;
      episodes.push_back(Uuid::from_datum(episode));
      Datum rule = spi_value(i, 6, &isnull);
      std::string rule_text = isnull ? "" : Uuid::from_datum(rule).text();
      Datum key = spi_value(i, 7, &isnull);
      group_keys.push_back(group_lock_key(project, rule_text, isnull ? "" : text_from_datum(key)));
    }
  }
  lock_keys(std::move(group_keys));
  lock_episodes(project, episodes);
}

std::unique_ptr<EnginePlan> decide(std::vector<AlertRow> &rows, const EngineOptions &options) {
  auto plan = std::make_unique<EnginePlan>();
  plan->added_by = options.added_by;
  EngineResult &result = plan->result;
  // Projects in a fixed order, so that everything locked per project is locked in one
  // global order.
  Batches batches;
  std::map<Uuid, bool> disabled;
  for (AlertRow &row : rows) {
    auto it = batches.find(row.project);
    if (it == batches.end()) {
      if (disabled.count(row.project)) continue;
      auto config = project_config(row.project);
      if (!config->grouping_enabled) {
        disabled[row.project] = true;
        continue;
      }
      it =
          batches.emplace(row.project, std::make_unique<ProjectBatch>(row.project, config, options))
              .first;
    }
    it->second->add(&row);
  }
  if (batches.empty()) return plan;

  Writes &writes = plan->writes;
  EpisodeLocks locks;
  if (options.deduplicate) find_duplicates(batches, writes, result, locks);
  for (auto &[project, batch] : batches) batch->match_rules(locks.group_keys);
  if (locks.group_keys.empty() && writes.removed.id.empty()) return plan;
  lock_keys(std::move(locks.group_keys));
  lock_keys(episode_keys(locks.projects, locks.episodes));

  CandidateRequests open, resolved;
  for (auto &[project, batch] : batches) batch->request_candidates(open, resolved);
  load_candidates(sql::open_episodes, open, batches);
  load_candidates(sql::resolved_episodes, resolved, batches);
  for (auto &[project, batch] : batches) {
    ag::check_interrupts();
    batch->plan();
    batch->write(writes);
  }
  return plan;
}

EngineResult run_engine(std::vector<AlertRow> &rows, const EngineOptions &options) {
  std::unique_ptr<EnginePlan> plan = decide(rows, options);
  write_plan(*plan);
  return plan->result;
}

}  // namespace ag::pg
