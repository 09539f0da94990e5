// SQL entry points of identity: current_user_id(), member_project_ids(), and the wrapper
// through which the API functions that need the engine's internal locks run their
// implementation (<name>_internal, never granted) as the tables' owner, once the caller's
// right to act in the project has been checked.
#include "citus_forward.hpp"
#include "entry.hpp"
#include "identity.hpp"
#include "owner.hpp"

extern "C" {
#include "storage/proc.h"
}

using namespace ag::pg;

AG_FUNCTION(ag_current_user_id) {
  std::optional<Uuid> user = acting_user();
  if (!user) PG_RETURN_NULL();
  return user->to_datum();
}

static ProjectRole min_role_argument(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "min_role must not be null", "", "");
  std::string name = text_from_datum(PG_GETARG_DATUM(0));
  ProjectRole min_role = parse_project_role(name);
  if (min_role == ProjectRole::None)
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "unknown project role \"" + name + "\"", "",
                  "Use viewer, responder or admin.");
  return min_role;
}

AG_FUNCTION(ag_member_project_ids) {
  std::vector<Uuid> projects = member_projects(min_role_argument(fcinfo));
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

// One call site's last answer: a policy calls member_project_array once per row it checks,
// and the answer only changes with the transaction, the command (which sees new members),
// the role or alert_grouping.user_id.
struct MemberArrayCache {
  LocalTransactionId lxid;
  CommandId command;
  Oid role;
  char user_setting[64];
  Datum array;
};

CommandId current_command() {
  return ActiveSnapshotSet() ? GetActiveSnapshot()->curcid : GetCurrentCommandId(false);
}

}  // namespace

// The policies' form of member_project_ids(): an array, so that a policy needs no subquery
// (Citus refuses subqueries in the policies of distributed tables) and an index can use it.
AG_FUNCTION(ag_member_project_array) {
  ProjectRole min_role = min_role_argument(fcinfo);
  const char *setting =
      pg_call([] { return GetConfigOption("alert_grouping.user_id", true, false); });
  if (setting == nullptr) setting = "";
  auto *cache = static_cast<MemberArrayCache *>(fcinfo->flinfo->fn_extra);
  LocalTransactionId lxid = MyProc->lxid;
  CommandId command = current_command();
  Oid role = GetUserId();
  if (cache != nullptr && cache->lxid == lxid && cache->command == command && cache->role == role &&
      strncmp(cache->user_setting, setting, sizeof(cache->user_setting)) == 0)
    return cache->array;
  std::vector<Uuid> projects = member_projects(min_role);
  return pg_call([&] {
    std::vector<Datum> values;
    for (const Uuid &project : projects) values.push_back(project.to_datum());
    MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
    ArrayType *array =
        construct_array(values.data(), int(values.size()), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
    if (cache == nullptr)
      cache = static_cast<MemberArrayCache *>(palloc0(sizeof(MemberArrayCache)));
    else if (cache->array != (Datum)0)
      pfree(DatumGetPointer(cache->array));
    MemoryContextSwitchTo(old);
    cache->lxid = lxid;
    cache->command = command;
    cache->role = role;
    // Cut to the buffer: a longer setting (no uuid) never matches it again.
    strlcpy(cache->user_setting, setting, sizeof(cache->user_setting));
    cache->array = PointerGetDatum(array);
    fcinfo->flinfo->fn_extra = cache;
    return cache->array;
  });
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
    api->action = strncmp(name, "ingest", 6) == 0       ? "ingest alerts"
                  : strstr(name, "incident") != nullptr ? "change incidents"
                                                        : "change episodes";
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
  std::optional<Uuid> user = require_project_role(project, ProjectRole::Responder, impl->action);
  ProjectNodeCall node(fcinfo, project);
  if (node.forwarded()) return node.result();
  ActingUserScope acting(user);
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
