#include "episode_prediction.hpp"

#include <unordered_map>

#include "project_config.hpp"
#include "time_math.hpp"

extern "C" {
#include "access/xact.h"
}

namespace ag::pg {

namespace {

struct Placement {
  Uuid episode, rule;
  TimestampTz last_activity;
};

// Keyed by project, rule and group key bytes in one string.
using Placements = std::unordered_map<std::string, Placement>;
using Knowns = std::unordered_map<std::string, std::vector<KnownEpisode>>;

// Bounded: a backend grouping many keys forgets and starts over rather than growing.
constexpr size_t kMaxPlacements = 100000;

Placements committed, pending;
Knowns committed_known, pending_known;
uint64 generation_seen = 0;

std::string key_of(const Uuid &project, const Uuid &rule, const std::string &key) {
  std::string k(reinterpret_cast<const char *>(project.bytes.data()), project.bytes.size());
  k.append(reinterpret_cast<const char *>(rule.bytes.data()), rule.bytes.size());
  k += key;
  return k;
}

// Rules or projects changed, or episodes were deleted (the same invalidation): forget all.
void drop_if_stale() {
  uint64 generation = config_generation();
  if (generation != generation_seen) {
    committed.clear();
    pending.clear();
    committed_known.clear();
    pending_known.clear();
    generation_seen = generation;
  }
}

void on_transaction_end(XactEvent event, void *) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
      try {
        if (committed.size() + pending.size() > kMaxPlacements) committed.clear();
        for (auto &[k, p] : pending) committed[k] = p;
        if (committed_known.size() + pending_known.size() > kMaxPlacements) committed_known.clear();
        for (auto &[k, known] : pending_known) committed_known[k] = std::move(known);
      } catch (...) {
        committed.clear();  // out of memory: guessing is only an optimisation
        committed_known.clear();
      }
      pending.clear();
      pending_known.clear();
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
      pending.clear();
      pending_known.clear();
      break;
    default:
      break;
  }
}

// A rolled-back savepoint may have created episodes that are gone: drop what is pending.
void on_subtransaction_end(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    pending.clear();
    pending_known.clear();
  }
}

const Placement *find(const Uuid &project, const Uuid &rule, const std::string &key) {
  drop_if_stale();
  std::string k = key_of(project, rule, key);
  auto found = pending.find(k);
  if (found != pending.end()) return &found->second;
  auto done = committed.find(k);
  return done == committed.end() ? nullptr : &done->second;
}

const std::vector<KnownEpisode> *find_known(const std::string &k) {
  auto found = pending_known.find(k);
  if (found != pending_known.end()) return &found->second;
  auto done = committed_known.find(k);
  return done == committed_known.end() ? nullptr : &done->second;
}

}  // namespace

std::vector<Uuid> expected_episodes(const Uuid &project, const Uuid &rule, const std::string &key) {
  std::vector<Uuid> episodes;
  if (const Placement *p = find(project, rule, key)) episodes.push_back(p->episode);
  if (const auto *known = find_known(key_of(project, rule, key)))
    for (const KnownEpisode &e : *known) episodes.push_back(e.id);
  return episodes;
}

std::optional<PredictedEpisode> predict_episode(const Uuid &project, const Uuid &rule,
                                                const std::string &key, TimestampTz created_at,
                                                int64 window_us) {
  const Placement *p = find(project, rule, key);
  if (p == nullptr || ag::saturating_sub(created_at, p->last_activity) > window_us) return {};
  return PredictedEpisode{p->episode, p->rule};
}

void placed_in_episode(const Uuid &project, const Uuid &rule, const std::string &key,
                       const Uuid &episode, TimestampTz last_activity) {
  drop_if_stale();
  auto [it, inserted] =
      pending.try_emplace(key_of(project, rule, key), Placement{episode, rule, last_activity});
  Placement &p = it->second;
  if (inserted) return;
  if (p.episode == episode)
    p.last_activity = std::max(p.last_activity, last_activity);
  else
    p = {episode, rule, last_activity};
}

std::optional<PredictedEpisode> predict_smart_episode(const Uuid &project, const Uuid &rule,
                                                      const ag::Rule &compiled,
                                                      const std::string &key,
                                                      const ag::Alert &alert, int64 window_us) {
  drop_if_stale();
  const std::vector<KnownEpisode> *known = find_known(key_of(project, rule, key));
  if (known == nullptr || known->empty()) return {};
  ag::Planner planner(compiled, window_us);
  for (const KnownEpisode &e : *known) planner.add_existing(e.state);
  ag::Placement placement = planner.place(alert, key);
  if (placement.episode >= known->size()) return {};
  return PredictedEpisode{(*known)[placement.episode].id, rule, placement.similarity_score};
}

void known_episodes(const Uuid &project, const Uuid &rule, const std::string &key,
                    std::vector<KnownEpisode> episodes) {
  drop_if_stale();
  pending_known[key_of(project, rule, key)] = std::move(episodes);
}

void register_episode_prediction() {
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_end, nullptr);
}

}  // namespace ag::pg
