// AlertRowReader::read, a template so the trigger (slots) and regroup/preview (SPI rows)
// share it.
#pragma once

namespace ag::pg {

template <typename Get>
AlertRow AlertRowReader::read(Get &&get, size_t ordinal) {
  AlertRow row;
  bool isnull;
  row.ordinal = ordinal;
  row.project = Uuid::from_datum(get(0, &isnull));
  row.id = Uuid::from_datum(get(1, &isnull));
  Datum monitor = get(2, &isnull);
  if (!isnull) {
    row.monitor = Uuid::from_datum(monitor);
    row.alert.monitor_id = row.monitor->text();
  }
  row.alert.severity = severity_of(get(3, &isnull));
  row.alert.title = text_from_datum(get(4, &isnull));
  Datum description = get(5, &isnull);
  if (!isnull) row.alert.description = text_from_datum(description);
  Datum labels = get(6, &isnull);
  if (!isnull) row.alert.labels = labels_from_jsonb(pg_call([&] { return DatumGetJsonbP(labels); }));
  Datum fingerprint = get(7, &isnull);
  if (!isnull) row.fingerprint = text_from_datum(fingerprint);
  row.created_at = DatumGetTimestampTz(get(8, &isnull));
  row.alert.created_at_us = row.created_at;
  row.active = !is_resolved(get(9, &isnull));
  Datum resolved_at = get(10, &isnull);
  row.resolved_at = isnull ? row.created_at : DatumGetTimestampTz(resolved_at);
  return row;
}

}  // namespace ag::pg
