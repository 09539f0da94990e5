// The BEFORE INSERT ... FOR EACH ROW trigger. It fills the alert's fingerprint (from
// dedup_key when given, else monitor, title and labels) and, when the row is its statement's
// only one, runs the whole engine on it before it is stored (engine_guard.hpp): the row is
// written once, with its episode and membership already on it. Rows of multi-row
// statements, COPY included, are decided by the statement-level trigger once they are all
// stored (alert_trigger.cpp), under locks taken in one sorted pass; each is stored with the
// episode it most likely joins, so that only the rows whose guess fails are written again.
#include "alert_columns.hpp"
#include "engine.hpp"
#include "engine_batch.hpp"
#include "engine_guard.hpp"
#include "engine_latency.hpp"
#include "engine_writes.hpp"
#include "episode_prediction.hpp"
#include "grouping.hpp"
#include "module.hpp"
#include "shard_scope.hpp"
#include "statement_tracker.hpp"

extern "C" {
#include "catalog/pg_trigger.h"
}

using namespace ag::pg;

namespace {

using Columns = AlertColumns;

std::string computed_fingerprint(HeapTuple tuple, TupleDesc desc, const Columns &c) {
  bool isnull;
  Datum dedup_key = heap_getattr(tuple, c.dedup_key, desc, &isnull);
  if (!isnull) return sha256_hex(ag::dedup_key_material(text_from_datum(dedup_key)));
  std::string monitor;
  Datum m = heap_getattr(tuple, c.monitor, desc, &isnull);
  if (!isnull) monitor = Uuid::from_datum(m).text();
  Datum t = heap_getattr(tuple, c.title, desc, &isnull);
  std::string title = isnull ? "" : text_from_datum(t);
  ag::Labels labels;
  Datum l = heap_getattr(tuple, c.labels, desc, &isnull);
  if (!isnull) labels = labels_from_jsonb(pg_call([&] { return DatumGetJsonbP(l); }));
  return alert_fingerprint(monitor, title, labels);
}

HeapTuple modify(HeapTuple tuple, TupleDesc desc, std::vector<int> columns,
                 std::vector<Datum> values, std::vector<bool> nulls) {
  std::unique_ptr<bool[]> isnull(new bool[nulls.size()]);
  for (size_t i = 0; i < nulls.size(); i++) isnull[i] = nulls[i];
  return pg_call([&] {
    return heap_modify_tuple_by_cols(tuple, desc, int(columns.size()), columns.data(),
                                     values.data(), isnull.get());
  });
}

// The fingerprint, unless the client supplied one; a row that arrives grouped and says
// nothing of how it joined was put there by the client ('api', now).
HeapTuple fill_columns(HeapTuple tuple, TupleDesc desc, const Columns &c) {
  bool isnull;
  heap_getattr(tuple, c.fingerprint, desc, &isnull);
  if (isnull)
    tuple = modify(tuple, desc, {c.fingerprint}, {text_datum(computed_fingerprint(tuple, desc, c))},
                   {false});
  if (c.added_by <= 0) return tuple;  // a schema older than 0.3: no membership columns
  bool no_episode, no_added_by;
  heap_getattr(tuple, c.episode, desc, &no_episode);
  heap_getattr(tuple, c.added_by, desc, &no_added_by);
  if (!no_episode && no_added_by) {
    bool no_added_at;
    heap_getattr(tuple, c.added_at, desc, &no_added_at);
    Datum now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    tuple = no_added_at ? modify(tuple, desc, {c.added_by, c.added_at}, {text_datum("api"), now},
                                 {false, false})
                        : modify(tuple, desc, {c.added_by}, {text_datum("api")}, {false});
  }
  return tuple;
}

// The trigger's name, or on a Citus shard the name with the shard id Citus appends.
bool named(const char *tgname, const char *name) {
  size_t n = strlen(name);
  if (strncmp(tgname, name, n) != 0) return false;
  if (tgname[n] == '\0') return true;
  if (tgname[n] != '_' || tgname[n + 1] == '\0') return false;
  for (const char *p = tgname + n + 1; *p; p++)
    if (*p < '0' || *p > '9') return false;
  return true;
}

// Only when this trigger runs last, so that it sees the row as it will be stored, and when
// the statement-level trigger (which deletes decided duplicates and checks guesses) fires
// whenever this one does (the same enabled state).
bool triggers_allow_deciding(const TriggerData *trigdata) {
  const TriggerDesc *triggers = trigdata->tg_relation->trigdesc;
  const Trigger *last = nullptr;
  bool statement_pass = false;
  for (int i = 0; i < triggers->numtriggers; i++) {
    const Trigger &t = triggers->triggers[i];
    if (t.tgenabled != TRIGGER_DISABLED && TRIGGER_FOR_ROW(t.tgtype) &&
        TRIGGER_FOR_BEFORE(t.tgtype) && TRIGGER_FOR_INSERT(t.tgtype))
      last = &t;
    if (named(t.tgname, "alerts_after_insert") && !TRIGGER_FOR_ROW(t.tgtype) &&
        t.tgenabled == trigdata->tg_trigger->tgenabled && t.tgnewtable != nullptr)
      statement_pass = true;
  }
  return statement_pass && last != nullptr && last->tgoid == trigdata->tg_trigger->tgoid;
}

// Whether the engine may look at this row before it is stored: the pipeline is on, the
// schema is 0.3's, the row is not grouped by the client, and the triggers allow it.
bool engine_may_see(const TriggerData *trigdata, HeapTuple tuple, const Columns &c) {
  if (!grouping_enabled_guc || restoring_guc || c.added_by <= 0) return false;
  bool no_episode;
  heap_getattr(tuple, c.episode, RelationGetDescr(trigdata->tg_relation), &no_episode);
  return no_episode && triggers_allow_deciding(trigdata);
}

HeapTuple set_membership(HeapTuple tuple, TupleDesc desc, const Columns &c, const Uuid &episode,
                         const Uuid &rule, const std::optional<double> &similarity) {
  Datum score = 0;
  if (similarity)
    score = pg_call([&] {
      Datum n = DirectFunctionCall1(float8_numeric, Float8GetDatum(*similarity));
      return DirectFunctionCall2(numeric, n, Int32GetDatum(((5 << 16) | 4) + VARHDRSZ));
    });
  return modify(
      tuple, desc, {c.episode, c.added_by, c.added_at, c.rule, c.score},
      {episode.to_datum(), text_datum("rule"),
       TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), rule.to_datum(), score},
      {false, false, false, false, !similarity.has_value()});
}

// A row of a multi-row statement: stored with the episode its rule and key most likely join
// (episode_prediction.hpp), from cached configuration only; the statement-level pass decides.
// A smart rule's guess is its planner's placement among the key's last known episodes.
HeapTuple guess_membership(HeapTuple tuple, TupleDesc desc, const Columns &c) {
  bool isnull;
  Datum project_datum = heap_getattr(tuple, c.project, desc, &isnull);
  if (isnull) return tuple;
  Uuid project = Uuid::from_datum(project_datum);
  auto config = cached_project_config(project);
  if (!config || !config->grouping_enabled || config->rules.empty()) return tuple;
  AlertRowReader reader;
  AlertRow row = reader.read(
      [&](int i, bool *null) { return heap_getattr(tuple, c.reader[i], desc, null); }, 0);
  // A row a silence holds joins nothing: no guess to write back and clear.
  if (row.active && ag::holding_silence(config->silences, row.alert.labels,
                                        GetCurrentTransactionStartTimestamp()))
    return tuple;
  auto match = first_match(*config, row.alert, std::nullopt);
  if (!match) return tuple;
  const CompiledRule &rule = config->rules[match->first];
  int64 window_us = rule.rule.grouping.time_window_minutes
                        ? int64(*rule.rule.grouping.time_window_minutes) * USECS_PER_MINUTE
                        : config->default_window_us;
  auto guess =
      rule.rule.grouping.type == ag::GroupingType::Smart
          ? predict_smart_episode(project, rule.id, rule.rule, match->second, row.alert, window_us)
          : predict_episode(project, rule.id, match->second, row.created_at, window_us);
  if (!guess) return tuple;
  remember_predicted(row.id, {guess->episode, guess->rule, guess->similarity_score});
  return set_membership(tuple, desc, c, guess->episode, guess->rule, guess->similarity_score);
}

// A guess is only an optimisation: when the core fails on it (a C++ exception), the row is
// stored without one and the statement-level pass decides it, recording the failure if
// deciding fails too. A PostgreSQL error (caught without a subtransaction) and a lack of
// memory still end the statement.
HeapTuple guess_or_keep(HeapTuple tuple, TupleDesc desc, const Columns &c) {
  try {
    return guess_membership(tuple, desc, c);
  } catch (const PgError &) {
    throw;
  } catch (const std::bad_alloc &) {
    throw;
  } catch (const std::exception &) {
    return tuple;
  }
}

struct RowContext {
  HeapTuple tuple;
  TupleDesc desc;
  const Columns *columns;
  Uuid project, id;
  UnstoredRow unstored;
};

void decide_row(void *context, std::unique_ptr<EnginePlan> &plan) {
  auto &c = *static_cast<RowContext *>(context);
  AlertRowReader reader;
  std::vector<AlertRow> rows;
  rows.push_back(reader.read(
      [&](int i, bool *isnull) {
        return heap_getattr(c.tuple, c.columns->reader[i], c.desc, isnull);
      },
      0));
  EngineOptions options;
  plan = decide(rows, options);
}

void record_row_error(void *context, ErrorData *edata) {
  auto &c = *static_cast<RowContext *>(context);
  insert_engine_error({c.project}, {c.id}, edata);
}

void write_row(void *context, EnginePlan &plan) {
  auto &c = *static_cast<RowContext *>(context);
  c.unstored.id = c.id;
  write_plan(plan, &c.unstored);
}

HeapTuple apply_membership(RowContext &c, const Columns &columns) {
  remember_decided({c.project, c.id, c.unstored.duplicate});
  if (c.unstored.silence && columns.silenced_by > 0)
    return modify(c.tuple, c.desc, {columns.silenced_by}, {c.unstored.silence->to_datum()},
                  {false});
  if (!c.unstored.grouped) return c.tuple;
  return set_membership(c.tuple, c.desc, columns, c.unstored.episode, c.unstored.rule,
                        c.unstored.score);
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(ag_alerts_before_insert);
}

static Datum before_insert(TriggerData *trigdata) {
  TupleDesc desc = RelationGetDescr(trigdata->tg_relation);
  // Copied: the cache may be replaced by a lookup from a nested statement.
  const Columns columns = alert_columns(trigdata->tg_relation);
  // Plain data only from here on: an error raised below must not skip a C++ destructor.
  RowContext *context = new (palloc0(sizeof(RowContext))) RowContext();
  context->desc = desc;
  context->columns = &columns;
  bool decide = false;
  PendingError error = capture_errors([&] {
    context->tuple = fill_columns(trigdata->tg_trigtuple, desc, columns);
    if (!engine_may_see(trigdata, context->tuple, columns)) return;
    if (!running_single_row_insert(RelationGetRelid(trigdata->tg_relation))) {
      context->tuple = guess_or_keep(context->tuple, desc, columns);
      return;
    }
    // A missing key is the NOT NULL constraint's to report, after this trigger.
    bool no_project, no_id;
    Datum project = heap_getattr(context->tuple, columns.project, desc, &no_project);
    Datum id = heap_getattr(context->tuple, columns.id, desc, &no_id);
    decide = !no_project && !no_id;
    if (!decide) return;
    context->project = Uuid::from_datum(project);
    context->id = Uuid::from_datum(id);
  });
  raise_pending(error);
  if (!decide) return PointerGetDatum(context->tuple);

  Oid owner = trigdata->tg_relation->rd_rel->relowner;
  int64 started = monotonic_us();
  EnginePlan *plan = decide_guarded(owner, decide_row, context, record_row_error);
  if (plan != nullptr) write_guarded(owner, plan, write_row, context);
  record_engine_latency(monotonic_us() - started, 1);
  if (plan == nullptr) return PointerGetDatum(context->tuple);
  HeapTuple result = nullptr;
  error = capture_errors([&] { result = apply_membership(*context, columns); });
  raise_pending(error);
  return PointerGetDatum(result);
}

extern "C" Datum ag_alerts_before_insert(PG_FUNCTION_ARGS) {
  auto *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
  if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
      !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("alerts_before_insert must fire BEFORE INSERT FOR EACH ROW")));
  Datum result;
  enter_shard_scope(trigdata->tg_relation);
  PG_TRY();
  { result = before_insert(trigdata); }
  PG_FINALLY();
  { leave_shard_scope(); }
  PG_END_TRY();
  return result;
}
