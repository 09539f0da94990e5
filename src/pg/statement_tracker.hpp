// Which INSERT is running, and whether it can store more than one row. The BEFORE ROW
// trigger decides an alert's episode before the row is written only when the row is the
// statement's only one: a multi-row statement takes its locks in one sorted pass after its
// rows are stored (taking them row by row could deadlock two such statements). Also keeps
// the alerts decided that way, which the statement-level pass then leaves alone.
#pragma once

#include <optional>
#include <vector>

#include "pg_headers.hpp"
#include "values.hpp"

namespace ag::pg {

// Installs the executor hooks and transaction callbacks (from _PG_init).
void register_statement_tracker();

// True when the statement firing a BEFORE ROW trigger on relation now is a single-row
// INSERT (INSERT ... VALUES of one row, without ON CONFLICT) of that relation.
bool running_single_row_insert(Oid relation);

// Alerts whose episode the BEFORE ROW trigger decided, and those of them that are
// duplicates (absorbed by their holder: the statement-level pass deletes them once stored).
struct DecidedAlert {
  Uuid project, id;
  bool duplicate = false;
};
void remember_decided(const DecidedAlert &alert);
// Removes and returns the entry for id, if any.
bool take_decided(const Uuid &id, DecidedAlert *out);

// Rows of multi-row statements stored with a guessed episode (episode_prediction.hpp): the
// statement-level pass decides them like any other row and keeps the guess when it holds.
struct GuessedMembership {
  Uuid episode, rule;
  std::optional<double> similarity_score;
};
void remember_predicted(const Uuid &id, const GuessedMembership &guess);
bool take_predicted(const Uuid &id, GuessedMembership *guess);
bool any_predicted();

}  // namespace ag::pg
