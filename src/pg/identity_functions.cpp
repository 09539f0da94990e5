// SQL entry points of identity: current_user_id(), member_project_ids(), and the wrapper
// through which the API functions that need the engine's internal locks run their
// implementation (<name>_internal, never granted) as the tables' owner, once the caller's
// right to act in the project has been checked.
#include "entry.hpp"
#include "identity.hpp"
#include "owner.hpp"

using namespace ag::pg;

AG_FUNCTION(ag_current_user_id) {
  std::optional<Uuid> user = acting_user();
  if (!user) PG_RETURN_NULL();
  return user->to_datum();
}

AG_FUNCTION(ag_member_project_ids) {
  if (PG_ARGISNULL(0))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "min_role must not be null", "", "");
  std::string name = text_from_datum(PG_GETARG_DATUM(0));
  ProjectRole min_role = parse_project_role(name);
  if (min_role == ProjectRole::None)
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "unknown project role \"" + name + "\"", "",
                  "Use viewer, responder or admin.");
  std::vector<Uuid> projects = member_projects(min_role);
  pg_call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  for (const Uuid &project : projects)
    pg_call([&] {
      Datum value = project.to_datum();
      bool isnull = false;
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
    });
  return (Datum)0;
}

namespace {

struct ApiImplementation {
  FmgrInfo info;
  const char *action;  // for "permission denied to <action> in project ..."
};

// The implementation of an API function: same schema and arguments, name + "_internal".
ApiImplementation *implementation_of(FunctionCallInfo fcinfo) {
  if (fcinfo->flinfo->fn_extra != nullptr)
    return static_cast<ApiImplementation *>(fcinfo->flinfo->fn_extra);
  return pg_call([&] {
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
    if (!HeapTupleIsValid(tuple))
      elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
    auto *proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
    char *name = psprintf("%s_internal", NameStr(proc->proname));
    List *qualified = list_make2(makeString(pstrdup("alert_grouping")), makeString(name));
    Oid impl = LookupFuncName(qualified, proc->pronargs, proc->proargtypes.values, false);
    ReleaseSysCache(tuple);
    auto *api = static_cast<ApiImplementation *>(
        MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ApiImplementation)));
    fmgr_info_cxt(impl, &api->info, fcinfo->flinfo->fn_mcxt);
    api->action = strncmp(name, "ingest", 6) == 0 ? "ingest alerts" : "change episodes";
    fcinfo->flinfo->fn_extra = api;
    return api;
  });
}

constexpr int kMaxApiArgs = 8;

}  // namespace

// ingest, ingest_batch and the episode lifecycle functions: the caller must be a responder
// or admin of the project (RLS-exempt roles need only an existing project).
AG_FUNCTION(ag_api_call) {
  if (fcinfo->nargs < 1 || fcinfo->nargs > kMaxApiArgs)
    throw PgError(ERRCODE_INTERNAL_ERROR, "ag_api_call: unexpected argument count", "", "");
  if (PG_ARGISNULL(0))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "project_id must not be null", "", "");
  Uuid project = Uuid::from_datum(PG_GETARG_DATUM(0));
  ApiImplementation *impl = implementation_of(fcinfo);
  ActingUserScope acting(require_project_role(project, ProjectRole::Responder, impl->action));
  ActAsOwner owner(alerts_owner());
  return pg_call([&] {
    LOCAL_FCINFO(call, kMaxApiArgs);
    InitFunctionCallInfoData(*call, &impl->info, fcinfo->nargs, fcinfo->fncollation,
                             fcinfo->context, fcinfo->resultinfo);
    for (int i = 0; i < fcinfo->nargs; i++) call->args[i] = fcinfo->args[i];
    Datum result = FunctionCallInvoke(call);
    fcinfo->isnull = call->isnull;
    return result;
  });
}
