// Candidate episodes: the open (or recently resolved) episodes of each rule and key the
// statement's alerts may join, read under the group locks and their own episode locks.
#include <algorithm>
#include <string>
#include <unordered_set>

#include "engine_locks.hpp"
#include "engine_statements.hpp"
#include "engine_steps.hpp"
#include "index_reads.hpp"

namespace ag::pg {

namespace {

namespace sql = statements;

// The rows of the last SPI read of candidates.
std::vector<CandidateEpisode> parse_candidates(uint64 n) {
  std::vector<CandidateEpisode> out;
  out.reserve(n);
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    CandidateEpisode c;
    c.project = Uuid::from_datum(spi_value(i, 1, &isnull));
    c.rule = Uuid::from_datum(spi_value(i, 2, &isnull));
    c.id = Uuid::from_datum(spi_value(i, 3, &isnull));
    EpisodeState &e = c.state;
    e.id = c.id.text();
    e.group_key = text_from_datum(spi_value(i, 4, &isnull));
    e.first_title = text_from_datum(spi_value(i, 5, &isnull));
    e.started_at_us = DatumGetTimestampTz(spi_value(i, 6, &isnull));
    e.last_activity_us = DatumGetTimestampTz(spi_value(i, 7, &isnull));
    Datum resolved_at = spi_value(i, 8, &isnull);
    e.resolved_at_us = isnull ? 0 : DatumGetTimestampTz(resolved_at);
    e.severity = severity_from_text(spi_value(i, 9, &isnull));
    e.alert_count = DatumGetInt32(spi_value(i, 10, &isnull));
    e.reopen_count = DatumGetInt32(spi_value(i, 11, &isnull));
    c.monitors = uuids_from_array(spi_value(i, 12, &isnull));
    e.resolved = DatumGetBool(spi_value(i, 13, &isnull));
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<CandidateEpisode> read_candidates(bool open, const CandidateRequests &r) {
  if (r.project.empty()) return {};
  if (r.project.size() == 1) {
    if (index_reads_available())
      if (auto found = index_read_candidates(open, r.project[0], r.rule[0], r.key[0], r.since[0]))
        return std::move(*found);
    return parse_candidates((open ? sql::open_episodes_one : sql::resolved_episodes_one)
                                .run({r.project[0].to_datum(), r.rule[0].to_datum(),
                                      text_datum(r.key[0]), TimestampTzGetDatum(r.since[0])}));
  }
  return parse_candidates((open ? sql::open_episodes : sql::resolved_episodes)
                              .run({uuid_array(r.project), uuid_array(r.rule), text_array(r.key),
                                    timestamptz_array(r.since)}));
}

std::string group_of(const Uuid &project, const Uuid &rule, const std::string &key) {
  return project.text() + rule.text() + key;
}

}  // namespace

// A lifecycle function (resolve_episode, ...) changes an episode under its episode lock
// only: what it changed before releasing the lock must be seen, and nothing may change
// the episode afterwards. So a key's read counts only if every episode found for it was
// already locked when it ran (the engine locks the episodes it expects first); the keys
// that found another have those locks taken and are read again.
void load_candidates(bool open, const CandidateRequests &requests, Batches &batches,
                     std::unordered_set<int64> &held) {
  if (requests.project.empty()) return;
  std::vector<CandidateEpisode> found = read_candidates(open, requests);
  if (found.empty()) return;
  std::vector<int64> missing;
  std::unordered_set<std::string> stale;  // keys read before all their locks were held
  for (const CandidateEpisode &c : found) {
    int64 key = episode_lock_key(c.project, c.id);
    if (held.count(key)) continue;
    missing.push_back(key);
    stale.insert(group_of(c.project, c.rule, c.state.group_key));
  }
  if (!missing.empty()) {
    held.insert(missing.begin(), missing.end());
    lock_keys(std::move(missing));
    CandidateRequests again;
    for (size_t i = 0; i < requests.project.size(); i++)
      if (stale.count(group_of(requests.project[i], requests.rule[i], requests.key[i])))
        again.add(requests.project[i], requests.rule[i], requests.key[i], requests.since[i]);
    found.erase(std::remove_if(found.begin(), found.end(),
                               [&](const CandidateEpisode &c) {
                                 return stale.count(group_of(c.project, c.rule, c.state.group_key));
                               }),
                found.end());
    // Locked now: what this read finds cannot change before the transaction ends.
    for (CandidateEpisode &c : read_candidates(open, again)) {
      held.insert(episode_lock_key(c.project, c.id));
      found.push_back(std::move(c));
    }
  }
  for (CandidateEpisode &c : found)
    batches.at(c.project)->add_candidate(c.rule, c.id, std::move(c.state), std::move(c.monitors));
}

}  // namespace ag::pg
