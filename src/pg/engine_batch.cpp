#include "engine_batch.hpp"

#include <algorithm>

#include "engine_locks.hpp"
#include "grouping.hpp"
#include "time_math.hpp"

namespace ag::pg {

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

namespace {

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

}  // namespace

Severity severity_from_text(Datum d) {
  return parse_severity(text_from_datum(d)).value_or(Severity::Info);
}

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

void ProjectBatch::resolve_duplicates(Writes &w, int64 &deduplicated, DuplicateLocks &locks) {
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
      locks.group_keys.push_back(
          group_lock_key(project_, stored->second.episode_rule, stored->second.episode_key));
      locks.projects.push_back(project_);
      locks.episodes.push_back(*stored->second.episode);
      locks.holders.push_back(stored->second.id);
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

// Every row's rule and group key, before deduplication: the group locks cover rows that may
// turn out to be duplicates too, so that deciding again (a holder resolved meanwhile) needs
// no lock it does not hold already.
void ProjectBatch::match_all(std::vector<int64> &group_lock_keys) {
  for (AlertRow *row : rows_) {
    auto match = first_match(*config_, row->alert, options_.only_rule);
    if (match) {
      const CompiledRule &rule = config_->rules[match->first];
      group_lock_keys.push_back(group_lock_key(project_, rule.id.text(), match->second));
    }
    matches_.emplace(row, std::move(match));
  }
}

void ProjectBatch::apply_silences(Writes &w, TimestampTz arrival, int64 &silenced) {
  if (config_->silences.empty()) return;
  std::vector<AlertRow *> kept;
  for (AlertRow *row : rows_) {
    const ag::Silence *held =
        row->active ? ag::holding_silence(config_->silences, row->alert.labels, arrival) : nullptr;
    if (!held) {
      kept.push_back(row);
      continue;
    }
    w.silenced.project.push_back(project_);
    w.silenced.id.push_back(row->id);
    w.silenced.silence.push_back(config_->silence_ids[size_t(held - config_->silences.data())]);
    silenced++;
  }
  rows_ = std::move(kept);
}

void ProjectBatch::plan_rules() {
  for (AlertRow *row : rows_) {
    auto &match = matches_.at(row);
    if (!match) continue;
    auto &[index, key] = *match;
    RulePlan &plan = plans_[index];
    plan.rule = &config_->rules[index];
    plan.alerts.push_back({row, key});
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
    loaded_severity_[id] = state.severity;
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
    members_.push_back(
        {episode_id, row->id, plan.rule->id, p.similarity_score,
         plan.rule->rule.grouping.type != ag::GroupingType::Smart ? &plan.alerts[k].key : nullptr,
         std::max(row->created_at, row->last_duplicate_at)});
  }
  if (plan.rule->rule.grouping.type != ag::GroupingType::Smart) return;
  // The open episodes of each key as the planner leaves them: the next statements' guesses.
  std::map<std::string, std::vector<KnownEpisode>> by_key;
  for (const Matched &m : plan.alerts) by_key[m.key];
  for (size_t i = 0; i < episodes.size(); i++) {
    const EpisodeState &state = episodes[i];
    auto key = by_key.find(state.group_key);
    if (state.resolved || key == by_key.end()) continue;
    if (i < existing) {
      key->second.push_back({loaded_ids_.at(state.id), state});
    } else if (auto c = created.find(i); c != created.end()) {
      key->second.push_back({new_episodes_[c->second].id, state});
    }
  }
  for (auto &[key, known] : by_key) known_.push_back({plan.rule->id, key, std::move(known)});
}

// Numbers are offsets within the project's new episodes; the write phase adds the first number
// it takes from the project's counter.
void ProjectBatch::write(Writes &w) {
  for (auto &known : known_)
    w.known.push_back({project_, known.rule, known.key, std::move(known.episodes)});
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
    c.inactivity_timeout.push_back(config.inactivity_timeout_minutes.value_or(0));
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
    auto before = loaded_severity_.find(id);
    u.before.push_back(before == loaded_severity_.end() ? "" : severity_name(before->second));
  }
  // In a project with a rule that opens incidents (most have none), every episode the
  // statement touched: alerts joined it, or a duplicate raised an alert's severity.
  // consider_incidents keeps those of such rules.
  std::vector<Uuid> incident_episodes;
  if (std::any_of(config_->rules.begin(), config_->rules.end(),
                  [](const CompiledRule &r) { return r.rule.episode.create_incident; })) {
    for (const Member &m : members_) incident_episodes.push_back(m.episode);
    for (const auto &[id, d] : deltas_) incident_episodes.push_back(id);
  }
  std::sort(incident_episodes.begin(), incident_episodes.end());
  incident_episodes.erase(std::unique(incident_episodes.begin(), incident_episodes.end()),
                          incident_episodes.end());
  for (const Uuid &e : incident_episodes) {
    w.incident_candidates.project.push_back(project_);
    w.incident_candidates.episode.push_back(e);
  }
  for (const Member &m : members_) {
    auto &mm = w.members;
    mm.project.push_back(project_);
    mm.episode.push_back(m.episode);
    mm.alert.push_back(m.alert);
    mm.rule.push_back(m.rule);
    mm.score.push_back(m.score.value_or(0));
    mm.no_score.push_back(!m.score.has_value());
    if (m.guess_key) {
      auto &g = w.placements;
      g.project.push_back(project_);
      g.rule.push_back(m.rule);
      g.episode.push_back(m.episode);
      g.key.push_back(*m.guess_key);
      g.at.push_back(m.at);
    }
  }
}

}  // namespace ag::pg
