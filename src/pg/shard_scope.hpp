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

// Whether the engine works on the tables themselves (not on shards): the direct index
// reads need the tables' own indexes.
bool on_plain_tables();

// Entered by the alert triggers for their relation and left on every exit (PG_FINALLY).
void enter_shard_scope(Relation alerts_relation);
void leave_shard_scope();

// The shard group of a project's shards when they are stored on this node (the functions
// distributed by project_id run there); an error otherwise.
void enter_project_shard_scope(const char *project_uuid_text);

void register_shard_scope();

}  // namespace ag::pg
