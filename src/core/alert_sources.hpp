// What monitoring systems send, mapped onto the events ingest_batch takes (PagerDuty Events v2
// shaped: event_action, dedup_key, payload.summary/severity/source/timestamp/custom_details,
// description, labels). Pure: JSON text in, JSON text out.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace ag {

// A body that cannot be mapped; the SQL layer raises 22023 with the field named.
class PayloadError : public std::runtime_error {
 public:
  // field: the path of the offending field, e.g. "alerts[2].labels", "" for the body itself;
  // message: lower-case, no trailing period.
  PayloadError(std::string field, const std::string &message)
      : std::runtime_error(field.empty() ? "payload " + message
                                         : "payload field \"" + field + "\" " + message),
        field_(std::move(field)) {}
  const std::string &field() const { return field_; }

 private:
  std::string field_;
};

// A label's severity as Alertmanager rules write it, in our five levels: critical; high
// (error, major, page); medium (warning, warn, minor; also when missing or unknown, so that
// no alert is refused for its label); low; info (informational, none, debug). Case-blind.
std::string severity_from_label(std::string_view value);

// Alertmanager's webhook body (version "4") as a JSON array of events, one per entry of
// "alerts": a firing entry triggers, deduplicated by Alertmanager's fingerprint, its title
// annotations.summary else labels.alertname, its time startsAt; a resolved entry resolves the
// alert of its fingerprint at endsAt.
std::string alertmanager_events(std::string_view body);

// Grafana's webhook body (version "1"): Alertmanager's shape, with Grafana's own fields
// (orgId, state, title, message, values, dashboardURL, panelURL, silenceURL, imageURL) kept in
// each event's details.
std::string grafana_events(std::string_view body);

}  // namespace ag
