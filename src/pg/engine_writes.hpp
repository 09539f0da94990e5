// What the engine writes for one statement, decided before any write (engine.cpp), and the
// write phase itself (engine_write.cpp). Deciding takes only advisory locks and reads, so it
// can run in a subtransaction that never needs a transaction id of its own.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine.hpp"
#include "episode_prediction.hpp"

namespace ag::pg {

struct IncidentCandidates {
  std::vector<Uuid> project, episode;
};

// Everything one statement writes, across all its projects, as the parallel arrays the
// engine's SQL statements take. Decided under the engine's locks before anything is written.
struct Writes {
  struct {
    std::vector<Uuid> project, id;
    std::vector<int32> count;
    std::vector<TimestampTz> at;
    std::vector<std::string> severity;
  } absorb;
  struct {
    std::vector<Uuid> project, id;
  } removed;
  // Active rows a silence holds: stored with it, grouped by nothing.
  struct {
    std::vector<Uuid> project, id, silence;
  } silenced;
  // Projects that create episodes, with how many (numbers are taken when writing).
  std::vector<Uuid> numbered_projects;
  std::vector<int32> numbered_counts;
  struct {
    std::vector<Uuid> project, id, rule;
    std::vector<int32> number, count, active;  // number: offset within its project's new ones
    std::vector<std::string> key, title, tmpl, first_title, severity, monitors;
    std::vector<TimestampTz> started, last_at, resolved;
    std::vector<int32> inactivity_timeout;  // minutes, 0: none
  } created;
  struct Attach {
    std::vector<Uuid> project, episode, target;
    void add(const Uuid &p, const Uuid &e, const Uuid &x) {
      project.push_back(p);
      episode.push_back(e);
      target.push_back(x);
    }
  } owner_users, owner_teams, labels;
  struct {
    std::vector<Uuid> project, id;
    std::vector<int32> count, active;
    std::vector<TimestampTz> last_at;
    std::vector<std::string> severity, monitors;
    std::vector<bool> reopen;
    std::vector<std::string> before;  // severity before, when read under the lock ("" if not)
  } updated;
  // Episodes that alerts joined, of rules with create_incident: checked for an incident once
  // written.
  IncidentCandidates incident_candidates;
  struct {
    std::vector<Uuid> project, episode, alert, rule;
    std::vector<double> score;
    std::vector<bool> no_score;
  } members;
  struct {
    std::vector<Uuid> project, episode;
    std::vector<TimestampTz> at;
    std::vector<std::string> kind, detail;
  } events;
  // Where alerts of non-smart rules went, remembered for guessing (episode_prediction.hpp)
  // once written.
  struct {
    std::vector<Uuid> project, rule, episode;
    std::vector<std::string> key;
    std::vector<TimestampTz> at;
  } placements;
  struct Known {
    Uuid project, rule;
    std::string key;
    std::vector<KnownEpisode> episodes;
  };
  std::vector<Known> known;  // smart rules' open episodes per key

  void event(const Uuid &p, const Uuid &e, TimestampTz at, const char *kind,
             const nlohmann::json &detail) {
    events.project.push_back(p);
    events.episode.push_back(e);
    events.at.push_back(at);
    events.kind.push_back(kind);
    events.detail.push_back(detail.dump());
  }
};

struct EnginePlan {
  Writes writes;
  EngineResult result;
  std::string added_by;
  // Rows stored with a guessed membership, by alert id.
  struct Guess {
    Uuid project, rule, episode;
    std::optional<double> similarity_score;
  };
  std::unordered_map<Uuid, Guess, UuidHash> predicted;
};

// The only row of a single-row INSERT, decided before it is stored: its membership goes on
// the tuple instead of being written back, and a duplicate is deleted once it is stored.
struct UnstoredRow {
  Uuid id;
  bool duplicate = false;
  bool grouped = false;
  std::optional<Uuid> silence;  // the silence that holds it
  Uuid episode, rule;
  std::optional<double> score;
};

// Runs every write of the plan (SPI connected, as the tables' owner); adds to plan.result.
// With unstored, that row is left out of the writes and its outcome reported there.
void write_plan(EnginePlan &plan, UnstoredRow *unstored = nullptr);

// Candidates of rows decided before they were stored, for their statement's AFTER trigger.
IncidentCandidates &deferred_incident_candidates();

}  // namespace ag::pg
