// alert_grouping_receiver: the thin HTTP front of the SQL entry points. Alertmanager and
// Grafana post their webhooks to /v1/alertmanager/<token> and /v1/grafana/<token>; anything
// that speaks PagerDuty's Events API v2 posts to /v2/enqueue. Every request is one statement
// in its own transaction: a 2xx is sent only once it committed, a 503 when the database
// cannot be reached (the sender retries, nothing is lost).
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "pool.hpp"

using json = nlohmann::json;
using ag::receiver::Pool;
using ag::receiver::Result;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 9095;
  std::string dsn;
  int pool = 8;
  size_t max_body = 4 << 20;
};

const char *env_or(const char *name, const char *fallback) {
  const char *v = std::getenv(name);
  return v && *v ? v : fallback;
}

[[noreturn]] void usage(const std::string &problem) {
  std::cerr << "alert_grouping_receiver: " << problem << "\n"
            << "usage: alert_grouping_receiver --listen HOST:PORT --dsn CONNINFO [--pool N] "
               "[--max-body BYTES]\n"
            << "  (or AG_RECEIVER_LISTEN, AG_RECEIVER_DSN, AG_RECEIVER_POOL, "
               "AG_RECEIVER_MAX_BODY)\n";
  std::exit(2);
}

void set_listen(Options &o, const std::string &v) {
  const auto colon = v.rfind(':');
  if (colon == std::string::npos) usage("--listen must be HOST:PORT, not " + v);
  o.host = v.substr(0, colon);
  try {
    o.port = std::stoi(v.substr(colon + 1));
  } catch (...) {
    usage("--listen must be HOST:PORT, not " + v);
  }
}

Options parse_options(int argc, char **argv) {
  Options o;
  set_listen(o, env_or("AG_RECEIVER_LISTEN", "127.0.0.1:9095"));
  o.dsn = env_or("AG_RECEIVER_DSN", "");
  o.pool = std::atoi(env_or("AG_RECEIVER_POOL", "8"));
  o.max_body = std::strtoull(env_or("AG_RECEIVER_MAX_BODY", "4194304"), nullptr, 10);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--listen")
      set_listen(o, value());
    else if (arg == "--dsn")
      o.dsn = value();
    else if (arg == "--pool")
      o.pool = std::atoi(value().c_str());
    else if (arg == "--max-body")
      o.max_body = std::strtoull(value().c_str(), nullptr, 10);
    else
      usage("unknown option " + arg);
  }
  if (o.dsn.empty()) usage("--dsn is required");
  if (o.pool < 1 || o.max_body < 1024) usage("--pool must be at least 1, --max-body 1024");
  return o;
}

std::mutex log_mutex;

// One JSON line per request on stderr; tokens never appear in it.
void log_request(const httplib::Request &req, int status, double ms, const Result *r) {
  json line = {{"ts", std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count()},
               {"method", req.method},
               {"route", req.matches.size() > 1 ? req.matches[1].str() : req.path},
               {"status", status},
               {"ms", ms},
               {"bytes", req.body.size()}};
  if (r && !r->sqlstate.empty()) {
    line["sqlstate"] = r->sqlstate;
    line["error"] = r->message;
  }
  std::lock_guard<std::mutex> lock(log_mutex);
  std::cerr << line.dump() << std::endl;
}

bool bad_input(const Result &r) {
  return r.sqlstate == "22023" || r.sqlstate == "22P02" || r.sqlstate == "22007" ||
         r.sqlstate == "22008" || r.sqlstate == "54000";
}

using Clock = std::chrono::steady_clock;

// Sends an answer and logs its line; what every route answers when the database cannot be
// reached (503, so that the sender retries) or fails otherwise (500) is said here once.
void answer(const httplib::Request &req, httplib::Response &res, Clock::time_point started,
            const Result &r, int status, const std::string &body) {
  if (!r.connected) {
    status = 503;
  } else if (!r.ok && status == 0) {
    status = 500;
  }
  res.status = status;
  res.set_content(status == 503 ? json({{"status", "unavailable"},
                                        {"message", "the database cannot be reached; retry"}})
                                      .dump()
                  : status == 500 ? json({{"status", "error"}, {"message", r.message}}).dump()
                                  : body,
                  "application/json");
  log_request(req, status,
              std::chrono::duration<double, std::milli>(Clock::now() - started).count(), &r);
}

// Alertmanager and Grafana webhooks: the token names the project.
void webhook(Pool &pool, const std::string &kind, const httplib::Request &req,
             httplib::Response &res) {
  const auto started = Clock::now();
  const Result r =
      pool.run("SELECT count(*) FROM alert_grouping.receive_webhook($1, $2, $3::jsonb)",
               {kind, req.matches[2].str(), req.body});
  if (r.ok)
    answer(req, res, started, r, 200,
           json({{"status", "success"}, {"alerts", std::stoll(r.rows.at(0).at(0).value_or("0"))}})
               .dump());
  else if (r.sqlstate == "28000")
    answer(req, res, started, r, 401,
           json({{"status", "unauthorized"}, {"message", r.message}}).dump());
  else if (bad_input(r))
    answer(req, res, started, r, 400,
           json({{"status", "invalid payload"}, {"message", r.message}}).dump());
  else
    answer(req, res, started, r, 0, "");
}

// PagerDuty's Events API v2: 202 with PagerDuty's answer, or PagerDuty's 400 error shape.
void enqueue(Pool &pool, const httplib::Request &req, httplib::Response &res) {
  const auto started = Clock::now();
  const Result r = pool.run("SELECT alert_grouping.ingest_pagerduty($1::jsonb)", {req.body});
  if (r.ok)
    answer(req, res, started, r, 202, r.rows.at(0).at(0).value_or("{}"));
  else if (r.sqlstate == "28000" || bad_input(r))
    answer(req, res, started, r, 400,
           json({{"status", "invalid event"},
                 {"message", "Event object is invalid"},
                 {"errors", json::array({r.message})}})
               .dump());
  else
    answer(req, res, started, r, 0, "");
}

}  // namespace

int main(int argc, char **argv) {
  const Options options = parse_options(argc, argv);
  Pool pool(options.dsn, options.pool);
  httplib::Server server;
  server.set_payload_max_length(options.max_body);
  // Answers are written in more than one send(): with Nagle's algorithm on, a keep-alive
  // sender's delayed ACK held each answer back by tens of milliseconds (270 events/s from 8
  // keep-alive senders against 680/s from 8 that reconnect for every event).
  server.set_tcp_nodelay(true);
  server.new_task_queue = [&] { return new httplib::ThreadPool(options.pool); };

  server.Post(R"(/v1/(alertmanager)/([A-Za-z0-9]+))",
              [&](const httplib::Request &req, httplib::Response &res) {
                webhook(pool, "alertmanager", req, res);
              });
  server.Post(R"(/v1/(grafana)/([A-Za-z0-9]+))",
              [&](const httplib::Request &req, httplib::Response &res) {
                webhook(pool, "grafana", req, res);
              });
  server.Post("/v2/enqueue", [&](const httplib::Request &req, httplib::Response &res) {
    enqueue(pool, req, res);
  });
  server.Get("/healthz", [&](const httplib::Request &req, httplib::Response &res) {
    const Result r = pool.run("SELECT 1", {});
    res.status = r.ok ? 200 : 503;
    res.set_content(r.ok ? "ok\n" : "the database cannot be reached\n", "text/plain");
    log_request(req, res.status, 0, &r);
  });
  server.Get("/metrics", [&](const httplib::Request &req, httplib::Response &res) {
    // The counters are server-wide, across tenants: the DBA grants them to the receiver's
    // role by name (README), grant_access does not.
    const Result r = pool.run("SELECT alert_grouping.prometheus_metrics()", {});
    const bool denied = r.sqlstate == "42501";
    res.status = r.ok ? 200 : denied ? 403 : (r.connected ? 500 : 503);
    res.set_content(r.ok ? r.rows.at(0).at(0).value_or("")
                    : denied
                        ? "the receiver's role may not read alert_grouping.prometheus_metrics(): "
                          "GRANT EXECUTE ON FUNCTION alert_grouping.prometheus_metrics() to it\n"
                        : r.message + "\n",
                    r.ok ? "text/plain; version=0.0.4" : "text/plain");
    log_request(req, res.status, 0, &r);
  });
  // What no route answered (the routes log their own).
  server.set_error_handler([](const httplib::Request &req, httplib::Response &res) {
    if (res.status != 404 && res.status != 413) return;
    res.set_content(json({{"status", res.status == 404 ? "not found" : "too large"}}).dump(),
                    "application/json");
    log_request(req, res.status, 0, nullptr);
  });

  std::cerr << json({{"event", "listening"}, {"host", options.host}, {"port", options.port}}).dump()
            << std::endl;
  if (!server.listen(options.host, options.port)) {
    std::cerr << "alert_grouping_receiver: cannot listen on " << options.host << ":" << options.port
              << std::endl;
    return 1;
  }
  return 0;
}
