#include "statement_tracker.hpp"

#include <algorithm>
#include <unordered_map>

extern "C" {
#include "access/xact.h"
#include "executor/executor.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
}

namespace ag::pg {

namespace {

struct RunningInsert {
  QueryDesc *query;
  CommandId command;
  Oid relation;
  SubTransactionId subtransaction;
};

// Innermost last. Entries of an aborted (sub)transaction are dropped by the callbacks: the
// executor's end hook never runs for them.
std::vector<RunningInsert> running;
std::unordered_map<Uuid, DecidedAlert, UuidHash> decided;
std::unordered_map<Uuid, GuessedMembership, UuidHash> predicted;

ExecutorStart_hook_type previous_start = nullptr;
ExecutorEnd_hook_type previous_end = nullptr;

// The plan stores at most one row: ModifyTable over a Result with no input of its own.
bool single_row_insert(const QueryDesc *query, Oid *relation) {
  const PlannedStmt *stmt = query->plannedstmt;
  if (stmt == nullptr || stmt->commandType != CMD_INSERT || stmt->planTree == nullptr ||
      !IsA(stmt->planTree, ModifyTable))
    return false;
  const auto *modify = reinterpret_cast<const ModifyTable *>(stmt->planTree);
  if (modify->onConflictAction != ONCONFLICT_NONE || list_length(modify->resultRelations) != 1)
    return false;
  const Plan *source = outerPlan(&modify->plan);
  if (source == nullptr || !IsA(source, Result) || outerPlan(source) != nullptr) return false;
  Index rti = linitial_int(modify->resultRelations);
  *relation = rt_fetch(rti, stmt->rtable)->relid;
  return true;
}

void on_executor_start(QueryDesc *query, int eflags) {
  if (previous_start)
    previous_start(query, eflags);
  else
    standard_ExecutorStart(query, eflags);
  Oid relation;
  if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 && single_row_insert(query, &relation)) {
    // No C++ exception may leave this hook: without memory the statement is simply not
    // tracked, and its row takes the statement-level path.
    try {
      running.push_back(
          {query, query->estate->es_output_cid, relation, GetCurrentSubTransactionId()});
    } catch (...) {
    }
  }
}

void on_executor_end(QueryDesc *query) {
  running.erase(std::remove_if(running.begin(), running.end(),
                               [&](const RunningInsert &r) { return r.query == query; }),
                running.end());
  if (previous_end)
    previous_end(query);
  else
    standard_ExecutorEnd(query);
}

void on_transaction_end(XactEvent event, void *) {
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
      event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
      event == XACT_EVENT_PREPARE) {
    running.clear();
    decided.clear();
    predicted.clear();
  }
}

void on_subtransaction_end(SubXactEvent event, SubTransactionId subtransaction, SubTransactionId,
                           void *) {
  if (event != SUBXACT_EVENT_ABORT_SUB) return;
  running.erase(
      std::remove_if(running.begin(), running.end(),
                     [&](const RunningInsert &r) { return r.subtransaction >= subtransaction; }),
      running.end());
}

}  // namespace

void register_statement_tracker() {
  previous_start = ExecutorStart_hook;
  ExecutorStart_hook = on_executor_start;
  previous_end = ExecutorEnd_hook;
  ExecutorEnd_hook = on_executor_end;
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_end, nullptr);
}

// The innermost running single-row INSERT is this trigger's statement when it targets the
// relation and nothing has written since it started (a write by another trigger moves the
// command counter on): anything else (COPY, multi-row INSERT, a statement nested in a
// trigger) is not tracked and takes the statement-level path.
bool running_single_row_insert(Oid relation) {
  if (running.empty()) return false;
  const RunningInsert &top = running.back();
  return top.relation == relation && top.command == GetCurrentCommandId(false);
}

void remember_decided(const DecidedAlert &alert) { decided[alert.id] = alert; }

bool take_decided(const Uuid &id, DecidedAlert *out) {
  auto it = decided.find(id);
  if (it == decided.end()) return false;
  *out = it->second;
  decided.erase(it);
  return true;
}

void remember_predicted(const Uuid &id, const GuessedMembership &guess) { predicted[id] = guess; }

bool any_predicted() { return !predicted.empty(); }

bool take_predicted(const Uuid &id, GuessedMembership *guess) {
  auto it = predicted.find(id);
  if (it == predicted.end()) return false;
  *guess = it->second;
  predicted.erase(it);
  return true;
}

}  // namespace ag::pg
