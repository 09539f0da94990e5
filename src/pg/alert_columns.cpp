#include "alert_columns.hpp"

namespace ag::pg {

namespace {

AlertColumns cached;
Oid cached_relid = InvalidOid;
// Set by the invalidation callback, which may run in the middle of any catalog access: the
// values stay readable until the next lookup replaces them.
bool stale = true;

void on_relcache_invalidation(Datum, Oid relid) {
  if (relid == InvalidOid || relid == cached_relid) stale = true;
}

}  // namespace

const AlertColumns &alert_columns(Relation rel) {
  if (!stale && cached_relid == RelationGetRelid(rel)) return cached;
  TupleDesc desc = RelationGetDescr(rel);
  AlertColumns c;
  c.fingerprint = SPI_fnumber(desc, "fingerprint");
  c.dedup_key = SPI_fnumber(desc, "dedup_key");
  c.monitor = SPI_fnumber(desc, "monitor_id");
  c.title = SPI_fnumber(desc, "title");
  c.labels = SPI_fnumber(desc, "labels");
  c.id = SPI_fnumber(desc, "id");
  c.project = SPI_fnumber(desc, "project_id");
  c.episode = SPI_fnumber(desc, "episode_id");
  c.added_by = SPI_fnumber(desc, "added_by");
  c.added_at = SPI_fnumber(desc, "added_at");
  c.rule = SPI_fnumber(desc, "rule_id");
  c.score = SPI_fnumber(desc, "similarity_score");
  c.created_at = SPI_fnumber(desc, "created_at");
  c.state = SPI_fnumber(desc, "state");
  c.silenced_by = SPI_fnumber(desc, "silenced_by");
  for (int i = 0; i < kAlertColumnCount; i++) c.reader[i] = SPI_fnumber(desc, kAlertColumns[i]);
  cached = c;
  cached_relid = RelationGetRelid(rel);
  stale = false;
  return cached;
}

void register_alert_columns_cache() {
  CacheRegisterRelcacheCallback(on_relcache_invalidation, (Datum)0);
}

}  // namespace ag::pg
