#include "index_reads.hpp"

#include "shard_scope.hpp"

#include <algorithm>
#include <optional>

extern "C" {
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "parser/parse_relation.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

#include "alert_columns.hpp"
#include "guard.hpp"

namespace ag::pg {

namespace {

// One condition on an index column (1-based), as a B-tree scan key.
struct Condition {
  AttrNumber column;
  Oid type;  // what the index column must hold
  StrategyNumber strategy;
  RegProcedure proc;
  Datum value;
};

// A scan of an alert_grouping table through one of its indexes, with a snapshot taken as a
// non-read-only SPI statement takes it: after a command counter increment, so that it sees
// what this transaction wrote before. Ends (and releases what it holds) when destroyed.
class IndexScan {
 public:
  IndexScan(const char *table, const char *index) {
    pg_call([&] {
      Oid schema = get_namespace_oid("alert_grouping", false);
      Oid table_id = get_relname_relid(table, schema);
      Oid index_id = get_relname_relid(index, schema);
      if (!OidIsValid(table_id) || !OidIsValid(index_id))
        elog(ERROR, "alert_grouping.%s or its index %s does not exist", table, index);
      table_ = table_open(table_id, AccessShareLock);
      index_ = index_open(index_id, AccessShareLock);
    });
  }
  ~IndexScan() {
    try {
      pg_call([&] {
        if (scan_ != nullptr) index_endscan(scan_);
        if (slot_ != nullptr) ExecDropSingleTupleTableSlot(slot_);
        if (snapshot_ != nullptr) UnregisterSnapshot(snapshot_);
        index_close(index_, NoLock);
        table_close(table_, NoLock);
      });
    } catch (const PgError &) {
      // The transaction is failing already; its end releases what is left.
    }
  }
  IndexScan(const IndexScan &) = delete;
  IndexScan &operator=(const IndexScan &) = delete;

  Relation table() const { return table_; }

  int column(const char *name) const {
    int n = pg_call([&] { return attnameAttNum(table_, name, false); });
    if (n <= 0)
      throw PgError(ERRCODE_UNDEFINED_COLUMN,
                    std::string("column \"") + name + "\" of alert_grouping." +
                        RelationGetRelationName(table_) + " does not exist",
                    "", "");
    return n;
  }
  Oid column_type(int column) const { return TupleDescAttr(table_->rd_att, column - 1)->atttypid; }
  Oid column_collation(int column) const {
    return TupleDescAttr(table_->rd_att, column - 1)->attcollation;
  }

  // Starts the scan; false (nothing started) when the index is not the one the conditions
  // were written for: an older version's schema, before ALTER EXTENSION UPDATE.
  bool start(const std::vector<Condition> &conditions) {
    int n = int(conditions.size());
    if (n > IndexRelationGetNumberOfKeyAttributes(index_)) return false;
    for (const Condition &c : conditions)
      if (TupleDescAttr(RelationGetDescr(index_), c.column - 1)->atttypid != c.type) return false;
    pg_call([&] {
      ScanKeyData keys[INDEX_MAX_KEYS];
      for (int i = 0; i < n; i++) {
        const Condition &c = conditions[size_t(i)];
        ScanKeyEntryInitialize(&keys[i], 0, c.column, c.strategy, InvalidOid,
                               index_->rd_indcollation[c.column - 1], c.proc, c.value);
      }
      CommandCounterIncrement();
      snapshot_ = RegisterSnapshot(GetTransactionSnapshot());
      slot_ = table_slot_create(table_, nullptr);
      scan_ = index_beginscan(table_, index_, snapshot_, n, 0);
      index_rescan(scan_, keys, n, nullptr, 0);
    });
    return true;
  }

  // The next visible row, its columns deformed; false at the end.
  bool next() {
    return pg_call([&] {
      if (!index_getnext_slot(scan_, ForwardScanDirection, slot_)) return false;
      slot_getallattrs(slot_);
      return true;
    });
  }
  std::optional<Datum> value(int column) const {
    if (slot_->tts_isnull[column - 1]) return std::nullopt;
    return slot_->tts_values[column - 1];
  }
  Datum required(int column) const {
    std::optional<Datum> v = value(column);
    if (!v)
      throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    std::string("column \"") +
                        NameStr(TupleDescAttr(table_->rd_att, column - 1)->attname) +
                        "\" of alert_grouping." + RelationGetRelationName(table_) + " is null",
                    "", "");
    return *v;
  }

 private:
  Relation table_ = nullptr, index_ = nullptr;
  IndexScanDesc scan_ = nullptr;
  TupleTableSlot *slot_ = nullptr;
  Snapshot snapshot_ = nullptr;
};

// The OID of an enum type's label.
Oid enum_label_oid(Oid enum_type, const char *label) {
  return pg_call([&] {
    return DatumGetObjectId(
        DirectFunctionCall2(enum_in, CStringGetDatum(label), ObjectIdGetDatum(enum_type)));
  });
}

std::string enum_label(Datum value) {
  return pg_call(
      [&] { return std::string(DatumGetCString(DirectFunctionCall1(enum_out, value))); });
}

Condition equals_uuid(AttrNumber column, const Uuid &value) {
  return {column, UUIDOID, BTEqualStrategyNumber, F_UUID_EQ, value.to_datum()};
}

// The episode's rule and group key, read through its primary key.
// False when the primary key is not (project_id, id).
bool read_episode_group(const Uuid &project, const Uuid &episode, StoredHolder &holder) {
  IndexScan s("episodes", "episodes_pkey");
  int rule = s.column("rule_id"), key = s.column("group_key");
  if (!s.start({equals_uuid(1, project), equals_uuid(2, episode)})) return false;
  if (!s.next()) return true;  // as the LEFT JOIN: an alert whose episode is gone
  if (std::optional<Datum> r = s.value(rule)) holder.episode_rule = Uuid::from_datum(*r).text();
  if (std::optional<Datum> k = s.value(key)) holder.episode_key = text_from_datum(*k);
  return true;
}

}  // namespace

bool index_reads_available() { return on_plain_tables(); }

std::optional<std::vector<StoredHolder>> index_read_holders(const Uuid &project,
                                                            const std::string &fingerprint) {
  std::vector<StoredHolder> holders;
  {
    IndexScan s("alerts", "alerts_active_fingerprint_idx");
    const AlertColumns &columns = alert_columns(s.table());
    int id = columns.id, created_at = columns.created_at, episode = columns.episode,
        state = columns.state;
    Oid resolved = enum_label_oid(s.column_type(state), "resolved");
    if (!s.start({equals_uuid(1, project),
                  {2, TEXTOID, BTEqualStrategyNumber, F_TEXTEQ, text_datum(fingerprint)}}))
      return std::nullopt;
    while (s.next()) {
      if (DatumGetObjectId(s.required(state)) == resolved) continue;
      StoredHolder h;
      h.project = project;
      h.id = Uuid::from_datum(s.required(id));
      h.fingerprint = fingerprint;
      h.created_at = DatumGetTimestampTz(s.required(created_at));
      if (std::optional<Datum> e = s.value(episode)) h.episode = Uuid::from_datum(*e);
      holders.push_back(std::move(h));
    }
  }
  for (StoredHolder &h : holders)
    if (h.episode && !read_episode_group(project, *h.episode, h)) return std::nullopt;
  return holders;
}

std::optional<std::vector<CandidateEpisode>> index_read_candidates(bool open, const Uuid &project,
                                                                   const Uuid &rule,
                                                                   const std::string &key,
                                                                   TimestampTz since) {
  std::vector<CandidateEpisode> found;
  IndexScan s("episodes", open ? "episodes_open_key_idx" : "episodes_resolved_key_idx");
  int id = s.column("id"), group_key = s.column("group_key"),
      first_title = s.column("first_alert_title"), title = s.column("title"),
      started_at = s.column("started_at"), last_activity_at = s.column("last_activity_at"),
      resolved_at = s.column("resolved_at"), severity = s.column("severity"),
      alert_count = s.column("alert_count"), reopen_count = s.column("reopen_count"),
      monitor_ids = s.column("monitor_ids"), state = s.column("state");
  Oid resolved = enum_label_oid(s.column_type(state), "resolved");
  // The indexed expression: hashtextextended(group_key, 0) under the column's collation.
  Datum key_datum = text_datum(key);
  int64 hash = pg_call([&] {
    return DatumGetInt64(DirectFunctionCall2Coll(hashtextextended, s.column_collation(group_key),
                                                 key_datum, Int64GetDatum(0)));
  });
  std::vector<Condition> conditions{
      equals_uuid(1, project),
      equals_uuid(2, rule),
      {3, INT8OID, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(hash)}};
  if (!open)
    conditions.push_back({4, TIMESTAMPTZOID, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
                          TimestampTzGetDatum(since)});
  if (!s.start(conditions)) return std::nullopt;
  while (s.next()) {
    bool is_resolved = DatumGetObjectId(s.required(state)) == resolved;
    if (is_resolved == open) continue;
    std::optional<Datum> resolved_time = s.value(resolved_at);
    TimestampTz activity = DatumGetTimestampTz(s.required(last_activity_at));
    if (open ? activity < since : !resolved_time || DatumGetTimestampTz(*resolved_time) < since)
      continue;
    std::string stored_key = text_from_datum(s.required(group_key));
    if (stored_key != key) continue;  // a hash collision
    CandidateEpisode c;
    c.project = project;
    c.rule = rule;
    c.id = Uuid::from_datum(s.required(id));
    EpisodeState &e = c.state;
    e.id = c.id.text();
    e.group_key = std::move(stored_key);
    std::optional<Datum> first = s.value(first_title);
    e.first_title = text_from_datum(first ? *first : s.required(title));
    e.started_at_us = DatumGetTimestampTz(s.required(started_at));
    e.last_activity_us = activity;
    e.resolved_at_us = resolved_time ? DatumGetTimestampTz(*resolved_time) : 0;
    e.severity = parse_severity(enum_label(s.required(severity))).value_or(Severity::Info);
    e.alert_count = DatumGetInt32(s.required(alert_count));
    e.reopen_count = DatumGetInt32(s.required(reopen_count));
    c.monitors = uuids_from_array(s.required(monitor_ids));
    e.resolved = is_resolved;
    found.push_back(std::move(c));
  }
  std::sort(found.begin(), found.end(),
            [](const CandidateEpisode &a, const CandidateEpisode &b) { return a.id < b.id; });
  return found;
}

}  // namespace ag::pg
