// membership_is_valid(), the body of alerts_membership_check. PostgreSQL parses and plans a
// table's check constraints again for every statement that writes the table, so for
// single-row INSERTs once per alert: written as a CASE expression, this one was 4.5% of a
// backend's CPU (perf); as one call of a C function it costs a fraction of that.
#include <string_view>

#include "entry.hpp"

extern "C" {
#include "utils/numeric.h"
}

namespace {

bool is_membership_source(text *added_by) {
  static const char *const kSources[] = {"rule", "manual", "retroactive", "api"};
  std::string_view value(VARDATA_ANY(added_by), VARSIZE_ANY_EXHDR(added_by));
  for (const char *source : kSources)
    if (value == source) return true;
  return false;
}

// 0 <= score <= 1 (NaN is greater than every number).
bool is_unit_score(Datum score) {
  return ag::pg::pg_call([&] {
    Datum zero = NumericGetDatum(int64_to_numeric(0));
    Datum one = NumericGetDatum(int64_to_numeric(1));
    return DatumGetInt32(DirectFunctionCall2(numeric_cmp, score, zero)) >= 0 &&
           DatumGetInt32(DirectFunctionCall2(numeric_cmp, score, one)) <= 0;
  });
}

}  // namespace

// (episode_id, added_by, added_at, rule_id, similarity_score): membership facts exist exactly
// when the alert belongs to an episode, with the contract's added_by values and a score
// between 0 and 1.
AG_FUNCTION(ag_membership_is_valid) {
  if (PG_ARGISNULL(0))
    PG_RETURN_BOOL(PG_ARGISNULL(1) && PG_ARGISNULL(2) && PG_ARGISNULL(3) && PG_ARGISNULL(4));
  if (PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_BOOL(false);
  text *added_by = ag::pg::pg_call([&] { return PG_GETARG_TEXT_PP(1); });
  PG_RETURN_BOOL(is_membership_source(added_by) &&
                 (PG_ARGISNULL(4) || is_unit_score(PG_GETARG_DATUM(4))));
}
