#include "shard_scope.hpp"

#include <algorithm>
#include <vector>

#include "guard.hpp"
#include "spi_query.hpp"
#include "values.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace ag::pg {

namespace {

struct Entry {
  Oid relid;      // InvalidOid: the plain tables
  int64_t shard;  // the alerts shard id, when relid names a shard
};
std::vector<Entry> &scopes() {
  static auto *stack = new std::vector<Entry>();
  return *stack;
}
std::unordered_map<int64_t, ShardGroup> &groups() {
  static auto *map = new std::unordered_map<int64_t, ShardGroup>();
  return *map;
}

// Every table of the alerts shard's co-location group, with the name of its shard on this
// node (Citus names a shard <table>_<shard id>); the reference tables come from
// local_reference_tables().
const char *kGroupQuery =
    "SELECT c.relname::pg_catalog.text, s2.shardid "
    "  FROM pg_catalog.pg_dist_shard AS s1 "
    "  JOIN pg_catalog.pg_dist_partition AS p1 ON p1.logicalrelid OPERATOR(pg_catalog.=) "
    "s1.logicalrelid "
    "  JOIN pg_catalog.pg_dist_partition AS p2 ON p2.colocationid OPERATOR(pg_catalog.=) "
    "p1.colocationid "
    "  JOIN pg_catalog.pg_dist_shard AS s2 ON s2.logicalrelid OPERATOR(pg_catalog.=) "
    "p2.logicalrelid "
    "   AND s2.shardminvalue OPERATOR(pg_catalog.=) s1.shardminvalue "
    "  JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) s2.logicalrelid "
    " WHERE s1.shardid OPERATOR(pg_catalog.=) $1 "
    "   AND c.relnamespace OPERATOR(pg_catalog.=) 'alert_grouping'::pg_catalog.regnamespace";

const ShardGroup &load_group(int64_t shard) {
  auto found = groups().find(shard);
  if (found != groups().end()) return found->second;
  ShardGroup group;
  group.key = shard;
  pg_call([&] {
    Oid types[1] = {INT8OID};
    Datum args[1] = {Int64GetDatum(shard)};
    int rc = SPI_execute_with_args(kGroupQuery, 1, types, args, nullptr, true, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "reading the shards of alerts shard %ld failed", shard);
  });
  bool isnull;
  for (uint64 i = 0; i < SPI_processed; i++) {
    std::string table = text_from_datum(spi_value(i, 1, &isnull));
    int64_t id = DatumGetInt64(spi_value(i, 2, &isnull));
    group.tables[table] = table + "_" + std::to_string(id);
  }
  if (const ShardGroup *refs = local_reference_tables())
    group.tables.insert(refs->tables.begin(), refs->tables.end());
  if (group.tables.count("alerts") == 0)
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  "shard " + std::to_string(shard) + " is not a shard of alert_grouping.alerts", "",
                  "");
  return groups().emplace(shard, std::move(group)).first->second;
}

// "alerts_102008" -> 102008; 0 when the name is not a shard's.
int64_t shard_id_of(const char *relname) {
  const char *prefix = "alerts_";
  size_t n = strlen(prefix);
  if (strncmp(relname, prefix, n) != 0 || relname[n] == '\0') return 0;
  int64_t id = 0;
  for (const char *p = relname + n; *p; p++) {
    if (*p < '0' || *p > '9') return 0;
    id = id * 10 + (*p - '0');
  }
  return id;
}

// Scopes are left in PG_FINALLY; this only guards against one left behind.
void on_xact(XactEvent event, void *) {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) scopes().clear();
}

void push(Oid relid, int64_t shard) { scopes().push_back(Entry{relid, shard}); }

// The reference tables' local placements and whether alerts is distributed, read once per
// backend and again after a relcache invalidation of one of the tables (distribute()).
bool references_loaded = false;
ShardGroup references;
bool alerts_distributed = false;
std::vector<Oid> reference_relids;  // and alerts: distribute() invalidates them all

void on_relcache_invalidation(Datum, Oid relid) {
  if (relid == InvalidOid ||
      std::find(reference_relids.begin(), reference_relids.end(), relid) != reference_relids.end())
    references_loaded = false;
}

const char *kReferenceQuery =
    "SELECT c.relname::pg_catalog.text, s.shardid, c.oid "
    "  FROM pg_catalog.pg_dist_partition AS p "
    "  JOIN pg_catalog.pg_dist_shard AS s ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid "
    "  JOIN pg_catalog.pg_dist_placement AS pl ON pl.shardid OPERATOR(pg_catalog.=) s.shardid "
    "  JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid "
    " WHERE p.partmethod OPERATOR(pg_catalog.=) 'n' AND p.repmodel OPERATOR(pg_catalog.=) 't' "
    "   AND c.relnamespace OPERATOR(pg_catalog.=) 'alert_grouping'::pg_catalog.regnamespace "
    "   AND pl.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM "
    "pg_catalog.pg_dist_local_group AS g)";

void load_references() {
  references = ShardGroup();
  references.key = -1;
  alerts_distributed = false;
  reference_relids.clear();
  Oid nsp = pg_call([] { return get_namespace_oid("alert_grouping", true); });
  for (const char *name :
       {"projects", "project_members", "application_roles", "feature_flags", "alerts"})
    reference_relids.push_back(pg_call([&] { return get_relname_relid(name, nsp); }));
  if (citus_installed()) {
    alerts_distributed = pg_call([] {
      return SPI_execute(
                 "SELECT FROM pg_catalog.pg_dist_partition AS p "
                 " WHERE p.logicalrelid OPERATOR(pg_catalog.=) "
                 "'alert_grouping.alerts'::pg_catalog.regclass",
                 true, 0) == SPI_OK_SELECT &&
             SPI_processed == 1;
    });
    pg_call([&] {
      if (SPI_execute(kReferenceQuery, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "reading the reference tables' placements failed");
    });
    bool isnull;
    for (uint64 i = 0; i < SPI_processed; i++) {
      std::string table = text_from_datum(spi_value(i, 1, &isnull));
      int64_t id = DatumGetInt64(spi_value(i, 2, &isnull));
      references.tables[table] = table + "_" + std::to_string(id);
      // Plans are kept per key: new reference shards (the extension distributed again) get
      // plans of their own.
      references.key = std::min(references.key, -id);
    }
  }
  references_loaded = true;
}

}  // namespace

bool citus_installed() {
  return pg_call([] {
    return GetConfigOption("citus.version", true, false) != nullptr &&
           get_extension_oid("citus", true) != InvalidOid;
  });
}

const ShardGroup *local_reference_tables() {
  if (!references_loaded) load_references();
  return references.tables.empty() ? nullptr : &references;
}

const ShardGroup *current_shard_group() {
  if (scopes().empty() || scopes().back().shard == 0) return nullptr;
  return &load_group(scopes().back().shard);
}

Oid current_alerts_shard_relid() {
  if (scopes().empty() || scopes().back().shard == 0) return InvalidOid;
  if (scopes().back().relid != InvalidOid) return scopes().back().relid;
  const ShardGroup &group = load_group(scopes().back().shard);
  return pg_call([&] {
    return get_relname_relid(group.tables.at("alerts").c_str(),
                             get_namespace_oid("alert_grouping", false));
  });
}

bool on_plain_tables() { return scopes().empty() || scopes().back().shard == 0; }

void enter_shard_scope(Relation alerts_relation) {
  push(RelationGetRelid(alerts_relation), shard_id_of(RelationGetRelationName(alerts_relation)));
}

void leave_shard_scope() {
  if (!scopes().empty()) scopes().pop_back();
}

ProjectShardScope::ProjectShardScope(const std::string &project_uuid_text)
    : placement_(ProjectPlacement::PlainTables), project_(project_uuid_text) {
  if (!references_loaded) load_references();
  int64_t shard = 0;
  if (alerts_distributed) {
    shard = pg_call([&]() -> int64_t {
      Oid types[1] = {TEXTOID};
      Datum args[1] = {CStringGetTextDatum(project_.c_str())};
      int rc = SPI_execute_with_args(
          "SELECT s.shardid FROM pg_catalog.pg_dist_placement AS s "
          " WHERE s.shardid OPERATOR(pg_catalog.=) "
          "pg_catalog.get_shard_id_for_distribution_column("
          "           'alert_grouping.alerts'::pg_catalog.regclass, $1) "
          "   AND s.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM "
          "pg_catalog.pg_dist_local_group AS g)",
          1, types, args, nullptr, true, 0);
      if (rc != SPI_OK_SELECT) elog(ERROR, "reading the shard placements failed");
      if (SPI_processed == 0) return 0;
      bool isnull;
      return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    });
    placement_ = shard == 0 ? ProjectPlacement::RemoteShards : ProjectPlacement::LocalShards;
  }
  push(InvalidOid, shard);
}

ProjectShardScope::~ProjectShardScope() { leave_shard_scope(); }

void ProjectShardScope::require_local(const char *function) const {
  if (placement_ != ProjectPlacement::RemoteShards) return;
  throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED,
                std::string(function) + " must run on the node that stores project " + project_,
                "On Citus it is a distributed function: Citus runs a call on the project's node "
                "when the call is a statement of its own.",
                std::string("Call it as SELECT alert_grouping.") + function +
                    "(...), not inside a larger query.");
}

void register_shard_scope() {
  RegisterXactCallback(on_xact, nullptr);
  CacheRegisterRelcacheCallback(on_relcache_invalidation, (Datum)0);
}

}  // namespace ag::pg
