#include "owner.hpp"

namespace ag::pg {

Oid alerts_owner() {
  return pg_call([] {
    Oid relid = get_relname_relid("alerts", get_namespace_oid("alert_grouping", false));
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for relation %u", relid);
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
  });
}

bool membership_on_alert_rows() {
  return pg_call([] {
    Oid relid = get_relname_relid("alerts", get_namespace_oid("alert_grouping", false));
    return get_attnum(relid, "added_by") != InvalidAttrNumber;
  });
}

bool episode_timers_in_schema() {
  return pg_call([] {
    Oid relid = get_relname_relid("episodes", get_namespace_oid("alert_grouping", false));
    return get_attnum(relid, "inactivity_check_at") != InvalidAttrNumber;
  });
}

}  // namespace ag::pg
