// Each project's grouping settings and compiled rules, cached per backend. Writes to the
// rule, project and flag tables send a relcache invalidation of grouping_rules (see
// config_changed), which every backend receives at its next transaction or command and
// which empties this cache.
#pragma once

#include <memory>
#include <vector>

#include "rule.hpp"
#include "silence.hpp"
#include "values.hpp"

namespace ag::pg {

struct CompiledRule {
  Uuid id;
  ag::Rule rule;
};

struct ProjectConfig {
  bool exists = false;
  bool grouping_enabled = false;  // projects.grouping_enabled and flag "grouping"
  bool auto_create_episodes = true;
  int64 default_window_us = 0;
  std::vector<CompiledRule> rules;  // enabled rules in evaluation order
  // Silences that had not ended when this was loaded (0.8), by start; whether one holds an
  // alert is decided at the alert's arrival, so one that ends later simply stops matching.
  std::vector<ag::Silence> silences;
  std::vector<Uuid> silence_ids;  // silences[i]'s id
  // On Citus, the alerts shard it was read for: a shard moved away and back is a new
  // relation, and rules changed meanwhile on the other node never invalidated this one.
  Oid shard_relid = InvalidOid;
};

// Writes to the silences table send the same invalidation.
// Loads (SPI must be connected) or returns the cached configuration.
std::shared_ptr<const ProjectConfig> project_config(const Uuid &project);

// The cached configuration only (no catalog access, no SPI), or nullptr.
std::shared_ptr<const ProjectConfig> cached_project_config(const Uuid &project);

// Counts the times the cache was emptied: what is derived from it is stale when it moved.
uint64 config_generation();

// Registers the invalidation callback (from _PG_init).
void register_config_invalidation();

// Tells every backend that rules or settings changed (from the config_changed trigger).
void broadcast_config_change();

}  // namespace ag::pg
