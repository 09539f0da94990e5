// alertmanager_events() and grafana_events(): a monitoring system's webhook body as the events
// ingest_batch takes (the mapping is the core's, src/core/alert_sources.cpp).
#include "alert_sources.hpp"
#include "entry.hpp"

extern "C" {
#include <utils/fmgrprotos.h>
#include <utils/jsonb.h>
}

using namespace ag::pg;

namespace {

Datum mapped_events(FunctionCallInfo fcinfo, std::string (*map)(std::string_view)) {
  const std::string body = pg_call([&] {
    Jsonb *jb = PG_GETARG_JSONB_P(0);
    return std::string(JsonbToCString(nullptr, &jb->root, VARSIZE(jb)));
  });
  std::string events;
  try {
    events = map(body);
  } catch (const ag::PayloadError &e) {
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, e.what(), "", "");
  }
  return pg_call([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(events.c_str())); });
}

}  // namespace

AG_FUNCTION(ag_alertmanager_events) { return mapped_events(fcinfo, ag::alertmanager_events); }

AG_FUNCTION(ag_grafana_events) { return mapped_events(fcinfo, ag::grafana_events); }
