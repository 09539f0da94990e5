#include <cmath>
#include <map>

#include "engine_statements.hpp"
#include "engine_writes.hpp"
#include "episode_prediction.hpp"
#include "metric_counters.hpp"
#include "owner.hpp"
#include "severity.hpp"

namespace ag::pg {

namespace {

namespace sql = statements;

// Duplicates: the holders count them, the absorbed rows go (an unstored one once stored).
void absorb_duplicates(const Writes &w, UnstoredRow *unstored) {
  if (w.removed.id.empty()) return;
  // Decided before the row was stored (a single-row INSERT): the holder already counts it.
  auto &a = w.absorb;
  if (a.id.size() == 1)
    sql::absorb_duplicate_one.run({a.project[0].to_datum(), a.id[0].to_datum(),
                                   Int32GetDatum(a.count[0]), TimestampTzGetDatum(a.at[0]),
                                   text_datum(a.severity[0])});
  else if (!a.id.empty())
    sql::absorb_duplicates.run({uuid_array(a.project), uuid_array(a.id), int4_array(a.count),
                                timestamptz_array(a.at), text_array(a.severity)});
  std::vector<Uuid> projects, ids;
  for (size_t i = 0; i < w.removed.id.size(); i++) {
    if (unstored && w.removed.id[i] == unstored->id) {
      unstored->duplicate = true;
      continue;
    }
    projects.push_back(w.removed.project[i]);
    ids.push_back(w.removed.id[i]);
  }
  if (!ids.empty()) sql::delete_alerts.run({uuid_array(projects), uuid_array(ids)});
}

using Members = decltype(Writes::members);

// Keeps only the members for which drop(i) is false, in order.
template <typename Drop>
void drop_members(Members &m, Drop &&drop) {
  size_t kept = 0;
  for (size_t i = 0; i < m.alert.size(); i++) {
    if (drop(i)) continue;
    m.project[kept] = m.project[i];
    m.episode[kept] = m.episode[i];
    m.alert[kept] = m.alert[i];
    m.rule[kept] = m.rule[i];
    m.score[kept] = m.score[i];
    m.no_score[kept] = m.no_score[i];
    kept++;
  }
  for (auto *column : {&m.project, &m.episode, &m.alert, &m.rule}) column->resize(kept);
  m.score.resize(kept);
  m.no_score.resize(kept);
}

// Leaves the unstored row's membership out of the members to write back, into unstored.
void take_unstored_member(Writes &w, UnstoredRow &unstored) {
  auto &m = w.members;
  drop_members(m, [&](size_t i) {
    if (m.alert[i] != unstored.id) return false;
    unstored.grouped = true;
    unstored.episode = m.episode[i];
    unstored.rule = m.rule[i];
    if (!m.no_score[i]) unstored.score = m.score[i];
    return true;
  });
}

// Rows a silence holds: the unstored one carries it on its tuple, the others are updated.
void write_silenced(Writes &w, UnstoredRow *unstored) {
  auto &s = w.silenced;
  if (s.id.empty()) return;
  if (unstored)
    for (size_t i = 0; i < s.id.size(); i++)
      if (s.id[i] == unstored->id) {
        unstored->silence = s.silence[i];
        s.project.erase(s.project.begin() + i);
        s.id.erase(s.id.begin() + i);
        s.silence.erase(s.silence.begin() + i);
        break;
      }
  if (!s.id.empty())
    sql::set_alert_silenced.run({uuid_array(s.project), uuid_array(s.id), uuid_array(s.silence)});
}

// Scores are stored as numeric(5,4): equal when they round alike.
bool same_score(const std::optional<double> &guessed, bool no_score, double score) {
  if (!guessed || no_score) return !guessed && no_score;
  return std::llround(*guessed * 10000) == std::llround(score * 10000);
}

// Members whose row was stored with the decided membership need no write-back; guessed rows
// that joined no episode (and are not deleted as duplicates) have the guess cleared.
void keep_guesses(EnginePlan &plan) {
  auto &m = plan.writes.members;
  auto &guesses = plan.predicted;
  drop_members(m, [&](size_t i) {
    auto guess = guesses.find(m.alert[i]);
    if (guess == guesses.end()) return false;
    bool holds = guess->second.rule == m.rule[i] && guess->second.episode == m.episode[i] &&
                 same_score(guess->second.similarity_score, m.no_score[i], m.score[i]);
    guesses.erase(guess);
    if (holds) plan.result.grouped++;
    return holds;
  });
  for (const Uuid &id : plan.writes.removed.id) guesses.erase(id);
  if (guesses.empty()) return;
  std::vector<Uuid> projects, ids;
  for (const auto &[id, guess] : guesses) {
    ids.push_back(id);
    projects.push_back(guess.project);
  }
  sql::clear_alert_episode.run({uuid_array(projects), uuid_array(ids)});
}

void remember_placements(Writes &w) {
  const auto &g = w.placements;
  for (size_t i = 0; i < g.episode.size(); i++)
    placed_in_episode(g.project[i], g.rule[i], g.key[i], g.episode[i], g.at[i]);
  for (auto &k : w.known) known_episodes(k.project, k.rule, k.key, std::move(k.episodes));
}

}  // namespace

void write_plan(EnginePlan &plan, UnstoredRow *unstored) {
  Writes &w = plan.writes;
  EngineResult &result = plan.result;
  absorb_duplicates(w, unstored);
  if (unstored) {
    take_unstored_member(w, *unstored);
    if (unstored->grouped) result.grouped++;
  }
  write_silenced(w, unstored);
  if (!plan.predicted.empty()) keep_guesses(plan);
  // Episode numbers: one counter row per project, locked in project order.
  if (!w.numbered_projects.empty()) {
    std::map<Uuid, int32> first_number;
    uint64 n = sql::take_episode_numbers.run(
        {uuid_array(w.numbered_projects), int4_array(w.numbered_counts)});
    for (uint64 i = 0; i < n; i++) {
      bool isnull;
      Uuid project = Uuid::from_datum(spi_value(i, 1, &isnull));
      first_number[project] = DatumGetInt32(spi_value(i, 2, &isnull));
    }
    for (size_t i = 0; i < w.numbered_projects.size(); i++)
      first_number[w.numbered_projects[i]] -= w.numbered_counts[i] - 1;
    for (size_t i = 0; i < w.created.id.size(); i++)
      w.created.number[i] += first_number.at(w.created.project[i]);
  }

  const bool timers = episode_timers_in_schema();
  auto &c = w.created;
  if (!c.id.empty()) {
    std::vector<Datum> episodes = {uuid_array(c.project),
                                   uuid_array(c.id),
                                   int4_array(c.number),
                                   uuid_array(c.rule),
                                   text_array(c.key),
                                   text_array(c.title),
                                   text_array(c.tmpl),
                                   text_array(c.first_title),
                                   text_array(c.severity),
                                   timestamptz_array(c.started),
                                   timestamptz_array(c.last_at),
                                   int4_array(c.count),
                                   int4_array(c.active),
                                   text_array(c.monitors),
                                   timestamptz_array(c.resolved)};
    if (timers) {
      episodes.push_back(int4_array(c.inactivity_timeout));
      sql::insert_episodes_timed.run(episodes);
    } else {
      sql::insert_episodes.run(episodes);
    }
    result.episodes_created += int64(c.id.size());
    auto attach = [](SpiQuery &query, const Writes::Attach &a) {
      if (!a.project.empty())
        query.run({uuid_array(a.project), uuid_array(a.episode), uuid_array(a.target)});
    };
    attach(sql::insert_owner_users, w.owner_users);
    attach(sql::insert_owner_teams, w.owner_teams);
    attach(sql::insert_episode_labels, w.labels);
  }

  auto &u = w.updated;
  auto &updates = timers ? sql::episode_updates_timed : sql::episode_updates_untimed;
  if (!u.id.empty()) {
    uint64 n;
    if (u.id.size() == 1) {
      std::vector<Datum> args = {u.project[0].to_datum(),           u.id[0].to_datum(),
                                 Int32GetDatum(u.count[0]),         Int32GetDatum(u.active[0]),
                                 TimestampTzGetDatum(u.last_at[0]), text_datum(u.severity[0]),
                                 text_datum(u.monitors[0]),         BoolGetDatum(u.reopen[0])};
      if (u.before[0].empty()) {
        n = updates.one.run(args);
      } else {
        args.push_back(text_datum(u.before[0]));
        n = updates.known.run(args);
      }
    } else {
      n = updates.many.run({uuid_array(u.project), uuid_array(u.id), int4_array(u.count),
                            int4_array(u.active), timestamptz_array(u.last_at),
                            text_array(u.severity), text_array(u.monitors), bool_array(u.reopen)});
    }
    for (uint64 i = 0; i < n; i++) {
      bool isnull;
      Uuid project = Uuid::from_datum(spi_value(i, 1, &isnull));
      Uuid id = Uuid::from_datum(spi_value(i, 2, &isnull));
      std::string before = text_from_datum(spi_value(i, 3, &isnull));
      std::string after = text_from_datum(spi_value(i, 4, &isnull));
      TimestampTz at = DatumGetTimestampTz(spi_value(i, 5, &isnull));
      if (DatumGetBool(spi_value(i, 6, &isnull)))
        w.event(project, id, at, "reopened",
                {{"reason", "alert_within_reopen_window"},
                 {"reopen_count", DatumGetInt32(spi_value(i, 7, &isnull))}});
      if (*parse_severity(after) > *parse_severity(before))
        w.event(project, id, at, "severity_raised", {{"from", before}, {"to", after}});
    }
  }

  auto &m = w.members;
  if (!m.alert.empty()) {
    std::vector<Datum> members = {text_datum(plan.added_by), uuid_array(m.project),
                                  uuid_array(m.alert),       uuid_array(m.episode),
                                  uuid_array(m.rule),        float8_array(m.score, m.no_score)};
    if (membership_on_alert_rows()) {
      sql::set_alert_episode.run(members);
    } else {
      sql::set_alert_episode_only.run({members[1], members[2], members[3]});
      std::swap(members[2], members[3]);  // insert_members takes (project, episode, alert)
      sql::insert_members.run(members);
    }
    result.grouped += int64(m.alert.size());
  }

  auto &e = w.events;
  if (!e.episode.empty())
    sql::insert_events.run({uuid_array(e.project), uuid_array(e.episode), timestamptz_array(e.at),
                            text_array(e.kind), text_array(e.detail)});
  remember_placements(w);
  count_event(Counter::AlertsDeduplicated, result.deduplicated);
  count_event(Counter::AlertsGrouped, result.grouped);
  count_event(Counter::EpisodesCreated, result.episodes_created);

  // A row decided before it is stored cannot be counted yet: its statement's AFTER trigger
  // writes an empty plan, which considers them.
  auto &ic = w.incident_candidates;
  auto &deferred = deferred_incident_candidates();
  if (unstored) {
    deferred.project.insert(deferred.project.end(), ic.project.begin(), ic.project.end());
    deferred.episode.insert(deferred.episode.end(), ic.episode.begin(), ic.episode.end());
    return;
  }
  ic.project.insert(ic.project.end(), deferred.project.begin(), deferred.project.end());
  ic.episode.insert(ic.episode.end(), deferred.episode.begin(), deferred.episode.end());
  deferred.project.clear();
  deferred.episode.clear();
  if (timers && !ic.episode.empty())
    sql::consider_incidents.run({uuid_array(ic.project), uuid_array(ic.episode)});
}

IncidentCandidates &deferred_incident_candidates() {
  static IncidentCandidates deferred;
  return deferred;
}

}  // namespace ag::pg
