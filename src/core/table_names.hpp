// Renames the tables a SQL statement names: every "<schema>.<name>" whose name is in the map
// becomes the mapped name. Used to point the engine's statements at the shards of one
// co-located shard group on Citus. Identifiers are matched whole (so "<schema>.alerts" does
// not rename "<schema>.alerts_x"), and text inside quotes is left alone.
#pragma once

#include <string>
#include <unordered_map>

namespace ag {

std::string rename_tables(const std::string &sql, const std::string &schema,
                          const std::unordered_map<std::string, std::string> &names);

}  // namespace ag
