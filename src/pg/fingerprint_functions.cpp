// fingerprint(), dedup_key_fingerprint(), the lock functions the ingest functions use, and
// the BEFORE INSERT trigger that fills an alert's fingerprint.
#include "engine.hpp"
#include "engine_locks.hpp"
#include "entry.hpp"
#include "grouping.hpp"
#include "owner.hpp"

using namespace ag::pg;

namespace {

std::string alert_fingerprint(const char *monitor_text, const std::string &title,
                              const ag::Labels &labels) {
  return sha256_hex(ag::fingerprint_material(monitor_text ? monitor_text : "", title, labels));
}

Datum text_datum(const std::string &s) {
  return pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), s.size())); });
}

}  // namespace

AG_FUNCTION(ag_fingerprint) {
  std::string monitor;
  if (!PG_ARGISNULL(0)) monitor = Uuid::from_datum(PG_GETARG_DATUM(0)).text();
  std::string title = PG_ARGISNULL(1) ? "" : text_from_datum(PG_GETARG_DATUM(1));
  ag::Labels labels;
  if (!PG_ARGISNULL(2)) labels = labels_from_jsonb(pg_call([&] { return PG_GETARG_JSONB_P(2); }));
  return text_datum(alert_fingerprint(monitor.c_str(), title, labels));
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
    lock_for_batch(project, rows, fingerprints);
  }
  pg_call([] { SPI_finish(); });
  PG_RETURN_VOID();
}

// Fills id and fingerprint (from dedup_key when given, else monitor, title and labels).
AG_FUNCTION(ag_alerts_before_insert) {
  auto *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
  if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
      !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
    throw PgError(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                  "alerts_before_insert must fire BEFORE INSERT FOR EACH ROW", "", "");
  HeapTuple tuple = trigdata->tg_trigtuple;
  TupleDesc desc = RelationGetDescr(trigdata->tg_relation);
  int fingerprint_att = SPI_fnumber(desc, "fingerprint");
  bool isnull;
  heap_getattr(tuple, fingerprint_att, desc, &isnull);
  if (!isnull) return PointerGetDatum(tuple);  // a client-supplied fingerprint is kept

  std::string fingerprint;
  Datum dedup_key = heap_getattr(tuple, SPI_fnumber(desc, "dedup_key"), desc, &isnull);
  if (!isnull) {
    fingerprint = sha256_hex(ag::dedup_key_material(text_from_datum(dedup_key)));
  } else {
    std::string monitor;
    Datum m = heap_getattr(tuple, SPI_fnumber(desc, "monitor_id"), desc, &isnull);
    if (!isnull) monitor = Uuid::from_datum(m).text();
    Datum t = heap_getattr(tuple, SPI_fnumber(desc, "title"), desc, &isnull);
    std::string title = isnull ? "" : text_from_datum(t);
    ag::Labels labels;
    Datum l = heap_getattr(tuple, SPI_fnumber(desc, "labels"), desc, &isnull);
    if (!isnull) labels = labels_from_jsonb(pg_call([&] { return DatumGetJsonbP(l); }));
    fingerprint = alert_fingerprint(monitor.c_str(), title, labels);
  }
  Datum value = text_datum(fingerprint);
  return pg_call([&] {
    int att = fingerprint_att;
    bool null = false;
    return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 1, &att, &value, &null));
  });
}
