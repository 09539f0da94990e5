#include "project_config.hpp"

#include <unordered_map>

#include "guard.hpp"
#include "rule_error.hpp"
#include "shard_scope.hpp"
#include "spi_query.hpp"

namespace ag::pg {

namespace {

// The callback may run in the middle of any catalog access, so it only marks the cache
// stale; the next lookup drops it (holders keep their shared_ptr alive meanwhile).
bool cache_stale = false;
uint64 generation = 0;
Oid watched_relid = InvalidOid;

std::unordered_map<Uuid, std::shared_ptr<const ProjectConfig>, UuidHash> &cache() {
  static auto *map = new std::unordered_map<Uuid, std::shared_ptr<const ProjectConfig>, UuidHash>();
  return *map;
}

Oid rules_relid() {
  return pg_call([] {
    Oid nsp = get_namespace_oid("alert_grouping", false);
    return get_relname_relid("grouping_rules", nsp);
  });
}

void on_relcache_invalidation(Datum, Oid relid) {
  if (relid == InvalidOid || relid == watched_relid) cache_stale = true;
}

// flag_enabled() is PL/pgSQL since 0.4: on a Citus shard its lookups are router queries on
// the project's co-located shards, which a shard's trigger may run.
SpiQuery project_query(
    "SELECT p.grouping_enabled AND alert_grouping.flag_enabled('grouping', p.id), "
    "       p.auto_create_episodes, "
    "       (EXTRACT(EPOCH FROM p.default_time_window) OPERATOR(pg_catalog.*) 1000000)::int8 "
    "  FROM alert_grouping.projects AS p WHERE p.id OPERATOR(pg_catalog.=) $1",
    {UUIDOID});

SpiQuery rules_query(
    "SELECT r.id, r.match_criteria::text, r.grouping_config::text, r.episode_config::text, "
    "       r.priority "
    "  FROM alert_grouping.grouping_rules AS r "
    " WHERE r.project_id OPERATOR(pg_catalog.=) $1 AND r.enabled "
    " ORDER BY r.priority, r.created_at, r.id",
    {UUIDOID});

SpiQuery silences_query(
    "SELECT s.id, s.starts_at, s.ends_at, s.matchers "
    "  FROM alert_grouping.silences AS s "
    " WHERE s.project_id OPERATOR(pg_catalog.=) $1 "
    "   AND s.ends_at OPERATOR(pg_catalog.>) pg_catalog.now() "
    " ORDER BY s.starts_at, s.id",
    {UUIDOID});

bool silences_in_schema() {
  return pg_call([] {
    Oid nsp = get_namespace_oid("alert_grouping", false);
    return OidIsValid(get_relname_relid("silences", nsp));
  });
}

void load_silences(const Uuid &project, ProjectConfig &config) {
  if (!silences_in_schema()) return;
  uint64 n = silences_query.run({project.to_datum()});
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    ag::Silence silence;
    Uuid id = Uuid::from_datum(spi_value(i, 1, &isnull));
    silence.id = id.text();
    silence.starts_us = DatumGetTimestampTz(spi_value(i, 2, &isnull));
    silence.ends_us = DatumGetTimestampTz(spi_value(i, 3, &isnull));
    std::vector<std::string> texts = texts_from_array(spi_value(i, 4, &isnull));
    try {
      silence.matchers = ag::parse_silence_matchers(texts);
    } catch (const RuleError &e) {
      // Validated when written; skipped rather than failing every insert.
      std::string message = e.what();
      pg_call([&] {
        ereport(WARNING, (errmsg("alert_grouping: skipping invalid silence %s: %s",
                                 silence.id.c_str(), message.c_str())));
      });
      continue;
    }
    config.silences.push_back(std::move(silence));
    config.silence_ids.push_back(id);
  }
}

std::shared_ptr<const ProjectConfig> load(const Uuid &project, Oid shard) {
  auto config = std::make_shared<ProjectConfig>();
  config->shard_relid = shard;
  if (project_query.run({project.to_datum()}) == 1) {
    bool isnull;
    config->exists = true;
    config->grouping_enabled = DatumGetBool(spi_value(0, 1, &isnull)) && !isnull;
    config->auto_create_episodes = DatumGetBool(spi_value(0, 2, &isnull));
    config->default_window_us = DatumGetInt64(spi_value(0, 3, &isnull));
  }
  if (!config->exists) return config;
  uint64 n = rules_query.run({project.to_datum()});
  for (uint64 i = 0; i < n; i++) {
    bool isnull;
    CompiledRule compiled;
    compiled.id = Uuid::from_datum(spi_value(i, 1, &isnull));
    try {
      compiled.rule = compile_rule(text_from_datum(spi_value(i, 2, &isnull)),
                                   text_from_datum(spi_value(i, 3, &isnull)),
                                   text_from_datum(spi_value(i, 4, &isnull)));
    } catch (const RuleError &e) {
      // Rules are validated when written; one that no longer compiles (written by an older
      // version) is skipped rather than failing every insert.
      std::string message = e.what();
      pg_call([&] {
        ereport(WARNING, (errmsg("alert_grouping: skipping invalid grouping rule %s: %s",
                                 compiled.id.text().c_str(), message.c_str())));
      });
      continue;
    }
    compiled.rule.id = compiled.id.text();
    compiled.rule.priority = DatumGetInt32(spi_value(i, 5, &isnull));
    config->rules.push_back(std::move(compiled));
  }
  load_silences(project, *config);
  return config;
}

}  // namespace

std::shared_ptr<const ProjectConfig> project_config(const Uuid &project) {
  // A pooled backend outlives DROP EXTENSION / CREATE EXTENSION: a new grouping_rules table
  // (a new OID) means everything cached belongs to the old one.
  Oid relid = rules_relid();
  if (relid != watched_relid) {
    watched_relid = relid;
    cache_stale = true;
  }
  if (cache_stale) {
    cache().clear();
    cache_stale = false;
    generation++;
  }
  Oid shard = current_alerts_shard_relid();
  auto found = cache().find(project);
  if (found != cache().end() && found->second->shard_relid == shard) return found->second;
  auto config = load(project, shard);
  // A project not yet visible (created in this transaction by another statement) is not cached.
  if (config->exists) cache()[project] = config;
  return config;
}

std::shared_ptr<const ProjectConfig> cached_project_config(const Uuid &project) {
  if (cache_stale) return nullptr;
  auto found = cache().find(project);
  return found == cache().end() ? nullptr : found->second;
}

uint64 config_generation() { return cache_stale ? generation + 1 : generation; }

void register_config_invalidation() {
  CacheRegisterRelcacheCallback(on_relcache_invalidation, (Datum)0);
}

void broadcast_config_change() {
  Oid relid = rules_relid();
  pg_call([&] { CacheInvalidateRelcacheByRelid(relid); });
}

}  // namespace ag::pg
