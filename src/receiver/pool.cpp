#include "pool.hpp"

namespace ag::receiver {

Pool::Pool(std::string dsn, int size) : dsn_(std::move(dsn)), size_(size < 1 ? 1 : size) {}

Pool::~Pool() {
  for (PGconn *c : idle_) PQfinish(c);
}

PGconn *Pool::borrow() {
  std::unique_lock<std::mutex> lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    PGconn *c = idle_.back();
    idle_.pop_back();
    if (PQstatus(c) == CONNECTION_OK) return c;
    PQfinish(c);
    --open_;
  }
  ++open_;
  lock.unlock();
  PGconn *c = PQconnectdb(dsn_.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    PQfinish(c);
    std::lock_guard<std::mutex> relock(mutex_);
    --open_;
    available_.notify_one();
    return nullptr;
  }
  return c;
}

void Pool::give_back(PGconn *conn) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (conn != nullptr && PQstatus(conn) == CONNECTION_OK &&
      PQtransactionStatus(conn) == PQTRANS_IDLE) {
    idle_.push_back(conn);
  } else {
    if (conn != nullptr) PQfinish(conn);
    --open_;
  }
  available_.notify_one();
}

Result Pool::run(const std::string &sql, const std::vector<std::string> &params) {
  Result result;
  PGconn *conn = borrow();
  if (conn == nullptr) return result;
  std::vector<const char *> values;
  for (const auto &p : params) values.push_back(p.c_str());
  PGresult *res = PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
  const ExecStatusType status = PQresultStatus(res);
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    result.connected = true;
    result.ok = true;
    for (int r = 0; r < PQntuples(res); ++r) {
      std::vector<std::optional<std::string>> row;
      for (int c = 0; c < PQnfields(res); ++c) {
        if (PQgetisnull(res, r, c))
          row.emplace_back(std::nullopt);
        else
          row.emplace_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
      }
      result.rows.push_back(std::move(row));
    }
  } else {
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    // Without a SQLSTATE the server did not answer: the connection broke under the
    // statement, and whether it committed is unknown to the sender, who retries.
    result.connected = state != nullptr && PQstatus(conn) == CONNECTION_OK;
    result.sqlstate = state ? state : "";
    result.message = primary ? primary : PQerrorMessage(conn);
  }
  PQclear(res);
  give_back(conn);
  return result;
}

}  // namespace ag::receiver
