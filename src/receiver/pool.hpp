// A small pool of libpq connections: each request borrows one for a single statement (its
// own transaction, committed when the statement returns), and a connection found broken is
// replaced on the next borrow, so the receiver recovers when the database comes back.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ag::receiver {

// The outcome of one statement.
struct Result {
  bool connected = false;  // false: the database could not be reached (answer 503)
  bool ok = false;         // the statement succeeded (and, alone in its transaction, committed)
  std::string sqlstate;    // on an error
  std::string message;     // on an error
  std::vector<std::vector<std::optional<std::string>>> rows;
};

class Pool {
 public:
  Pool(std::string dsn, int size);
  ~Pool();
  Pool(const Pool &) = delete;
  Pool &operator=(const Pool &) = delete;

  // Runs sql with text parameters on a pooled connection.
  Result run(const std::string &sql, const std::vector<std::string> &params);

 private:
  PGconn *borrow();
  void give_back(PGconn *conn);

  std::string dsn_;
  int size_;
  int open_ = 0;
  std::vector<PGconn *> idle_;
  std::mutex mutex_;
  std::condition_variable available_;
};

}  // namespace ag::receiver
