// fingerprint(), dedup_key_fingerprint() and the lock functions the ingest functions use.
#include "engine.hpp"
#include "engine_locks.hpp"
#include "entry.hpp"
#include "grouping.hpp"
#include "owner.hpp"
#include "shard_scope.hpp"

using namespace ag::pg;

namespace {}  // namespace

AG_FUNCTION(ag_fingerprint) {
  std::string monitor;
  if (!PG_ARGISNULL(0)) monitor = Uuid::from_datum(PG_GETARG_DATUM(0)).text();
  std::string title = PG_ARGISNULL(1) ? "" : text_from_datum(PG_GETARG_DATUM(1));
  ag::Labels labels;
  if (!PG_ARGISNULL(2)) labels = labels_from_jsonb(pg_call([&] { return PG_GETARG_JSONB_P(2); }));
  return text_datum(alert_fingerprint(monitor, title, labels));
}

AG_FUNCTION(ag_dedup_key_fingerprint) {
  return text_datum(sha256_hex(ag::dedup_key_material(text_from_datum(PG_GETARG_DATUM(0)))));
}

AG_FUNCTION(ag_lock_fingerprint) {
  lock_fingerprints(Uuid::from_datum(PG_GETARG_DATUM(0)), {text_from_datum(PG_GETARG_DATUM(1))});
  PG_RETURN_VOID();
}

// Internal (never granted): the ingest implementations, running as the owner, lock the
// episodes they are about to change, in the engine's order.
AG_FUNCTION(ag_lock_episodes) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) PG_RETURN_VOID();
  Uuid project = Uuid::from_datum(PG_GETARG_DATUM(0));
  std::vector<Uuid> episodes = uuids_from_array(PG_GETARG_DATUM(1));
  lock_episodes(project, episodes);
  PG_RETURN_VOID();
}

AG_FUNCTION(ag_lock_for_batch) {
  Uuid project = Uuid::from_datum(PG_GETARG_DATUM(0));
  ArrayType *alerts = pg_call([&] { return PG_GETARG_ARRAYTYPE_P(1); });
  ArrayType *fps = pg_call([&] { return PG_GETARG_ARRAYTYPE_P(2); });
  Datum *elems = nullptr;
  bool *nulls = nullptr;
  int n = 0;
  pg_call([&] { deconstruct_array(fps, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n); });
  std::vector<std::string> fingerprints;
  for (int i = 0; i < n; i++)
    if (!nulls[i]) fingerprints.push_back(text_from_datum(elems[i]));
  pg_call([&] {
    int16 len;
    bool byval;
    char align;
    get_typlenbyvalalign(ARR_ELEMTYPE(alerts), &len, &byval, &align);
    deconstruct_array(alerts, ARR_ELEMTYPE(alerts), len, byval, align, &elems, &nulls, &n);
  });
  std::vector<AlertRow> rows;
  AlertRowReader reader;
  for (int i = 0; i < n; i++) {
    if (nulls[i]) continue;
    HeapTupleHeader tuple = pg_call([&] { return DatumGetHeapTupleHeader(elems[i]); });
    rows.push_back(reader.read(
        [&](int column, bool *isnull) {
          return pg_call([&] { return GetAttributeByName(tuple, kAlertColumns[column], isnull); });
        },
        i));
  }
  if (pg_call([] { return SPI_connect(); }) != SPI_OK_CONNECT)
    throw PgError(ERRCODE_INTERNAL_ERROR, "SPI_connect failed", "", "");
  {
    ActAsOwner as_owner(alerts_owner());
    ProjectShardScope shards(project.text());
    // Called on a node that does not store the project (Citus ran ingest_batch inside a
    // larger query on the coordinator), the episodes cannot be read here; the fingerprints
    // still order this node's batches, and the engine on the project's node locks the rest.
    if (shards.placement() == ProjectPlacement::RemoteShards)
      lock_fingerprints(project, fingerprints);
    else
      lock_for_batch(project, rows, fingerprints);
  }
  pg_call([] { SPI_finish(); });
  PG_RETURN_VOID();
}
