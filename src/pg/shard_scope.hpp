// On Citus the alert triggers fire on a shard of alerts, on the node that stores it, and the
// engine's statements must read and write that shard's co-located shards (and the local
// placements of the reference tables). A ShardScope names the shard the engine works on;
// SpiQuery then runs its statements with their tables renamed to those shards, planned
// once per shard group. Planned that way they are ordinary local statements: Citus has no
// distributed plan to make, so whatever a statement does (several projects of one shard,
// a transition table, LATERAL) works, and costs what it costs on one node.
// Outside a scope, or on the table itself (no Citus, or tables not distributed), statements
// name the tables as written.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "pg_headers.hpp"

namespace ag::pg {

struct ShardGroup {
  int64_t key = 0;                                      // the alerts shard id
  std::unordered_map<std::string, std::string> tables;  // table name -> shard name
};

// The shard group statements run on now, or nullptr. Needs SPI connected the first time a
// shard is seen (it reads Citus's metadata).
const ShardGroup *current_shard_group();

// The local placements of the schema's reference tables (projects, project_members, ...), or
// nullptr when they have none here (no Citus, not distributed, or no placement on this
// node). The identity lookups read them directly: they run inside the policies of a shard's
// query on a worker, where Citus refuses to start another distributed query.
const ShardGroup *local_reference_tables();

// The alerts shard the statements run on now (InvalidOid on the plain tables).
Oid current_alerts_shard_relid();

// Whether the engine works on the tables themselves (not on shards): the direct index
// reads need the tables' own indexes.
bool on_plain_tables();

// Entered by the alert triggers for their relation and left on every exit (PG_FINALLY).
void enter_shard_scope(Relation alerts_relation);
void leave_shard_scope();

// Whether the citus extension is in this database. The library's setting answers first (no
// catalog read when Citus is not loaded at all).
bool citus_installed();

// Where a project's rows are: plain tables (no Citus, or not distributed), shards on this
// node (a distributed function's call runs there), or shards on another node (a call that
// Citus ran on the coordinator, inside a larger query).
enum class ProjectPlacement { PlainTables, LocalShards, RemoteShards };

// For the C functions that take a project_id: while alive, their statements run on the
// project's shards when this node stores them. Needs SPI connected.
class ProjectShardScope {
 public:
  explicit ProjectShardScope(const std::string &project_uuid_text);
  ~ProjectShardScope();
  ProjectShardScope(const ProjectShardScope &) = delete;
  ProjectShardScope &operator=(const ProjectShardScope &) = delete;
  ProjectPlacement placement() const { return placement_; }
  // Raises unless the statements can run here (not RemoteShards).
  void require_local(const char *function) const;

 private:
  ProjectPlacement placement_;
  std::string project_;
};

void register_shard_scope();

}  // namespace ag::pg
