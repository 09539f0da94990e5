// AlertRowReader::read, a template so the trigger (slots) and regroup/preview (SPI rows)
// share it.
#pragma once

namespace ag::pg {

// A composite value does not enforce the table's NOT NULL constraints: every datum the engine
// dereferences is checked.
template <typename Get>
AlertRow AlertRowReader::read(Get &&get, size_t ordinal) {
  AlertRow row;
  bool isnull;
  auto required = [&](int column) {
    Datum d = get(column, &isnull);
    if (isnull)
      throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    std::string("alert field \"") + kAlertColumns[column] + "\" must not be null",
                    "", "");
    return d;
  };
  row.ordinal = ordinal;
  row.project = Uuid::from_datum(required(0));
  row.id = Uuid::from_datum(required(1));
  Datum monitor = get(2, &isnull);
  if (!isnull) {
    row.monitor = Uuid::from_datum(monitor);
    row.alert.monitor_id = row.monitor->text();
  }
  row.alert.severity = severity_of(required(3));
  row.alert.title = text_from_datum(required(4));
  Datum description = get(5, &isnull);
  if (!isnull) row.alert.description = text_from_datum(description);
  Datum labels = get(6, &isnull);
  if (!isnull)
    row.alert.labels = labels_from_jsonb(pg_call([&] { return DatumGetJsonbP(labels); }));
  Datum fingerprint = get(7, &isnull);
  if (!isnull) row.fingerprint = text_from_datum(fingerprint);
  row.created_at = DatumGetTimestampTz(required(8));
  row.alert.created_at_us = row.created_at;
  row.active = !is_resolved(required(9));
  Datum resolved_at = get(10, &isnull);
  row.resolved_at = isnull ? row.created_at : DatumGetTimestampTz(resolved_at);
  return row;
}

}  // namespace ag::pg
