// alertmanager_events() and grafana_events(): a monitoring system's webhook body as the events
// ingest_batch takes (the mapping is the core's, src/core/alert_sources.cpp).
#include "alert_sources.hpp"
#include "entry.hpp"
#include "values.hpp"

extern "C" {
#include <port.h>
#include <utils/builtins.h>
#include <utils/fmgrprotos.h>
#include <utils/jsonb.h>
}

using namespace ag::pg;

namespace {

Datum mapped_events(FunctionCallInfo fcinfo, std::string (*map)(std::string_view)) {
  const std::string body = jsonb_text(PG_GETARG_DATUM(0));
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

// A new integration token: 32 characters of [a-z0-9], the shape of a PagerDuty routing key,
// from the server's strong random source (about 165 bits).
AG_FUNCTION(ag_new_integration_token) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  constexpr unsigned kSize = sizeof(kAlphabet) - 1;  // 36
  std::string token;
  while (token.size() < 32) {
    unsigned char bytes[64];
    if (!pg_call([&] { return pg_strong_random(bytes, sizeof(bytes)); }))
      throw PgError(ERRCODE_INTERNAL_ERROR, "could not generate random bytes", "", "");
    for (unsigned char b : bytes) {
      // Rejection sampling: 252 = 7 * 36, so every character is equally likely.
      if (b < 252 && token.size() < 32) token.push_back(kAlphabet[b % kSize]);
    }
  }
  return pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(token.data(), 32)); });
}
