#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "alert_sources.hpp"

using json = nlohmann::json;

namespace {

// An Alertmanager 0.25 webhook body: two alerts of one group, the second resolved.
const char *kAlertmanagerBody = R"({
  "version": "4", "status": "firing", "receiver": "alert-grouping",
  "groupKey": "{}:{alertname=\"HighLatency\"}", "truncatedAlerts": 0,
  "groupLabels": {"alertname": "HighLatency"},
  "commonLabels": {"alertname": "HighLatency", "job": "api"},
  "commonAnnotations": {}, "externalURL": "http://am.example:9093",
  "alerts": [
    {"status": "firing",
     "labels": {"alertname": "HighLatency", "job": "api", "instance": "api-1", "severity": "Critical"},
     "annotations": {"summary": "p99 above 2s on api-1", "description": "p99 is 3.1s"},
     "startsAt": "2026-12-01T10:00:00.123Z", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://prom.example:9090/graph?g0.expr=x", "fingerprint": "a1b2c3d4e5f60718"},
    {"status": "resolved",
     "labels": {"alertname": "HighLatency", "job": "api", "instance": "api-2"},
     "annotations": {},
     "startsAt": "2026-12-01T09:00:00Z", "endsAt": "2026-12-01T09:30:00Z",
     "generatorURL": "", "fingerprint": "0f0e0d0c0b0a0908"}
  ]})";

std::string error_field(std::string (*map)(std::string_view), const std::string &body) {
  try {
    map(body);
  } catch (const ag::PayloadError &e) {
    return e.field().empty() ? "(body)" : e.field();
  }
  return "(no error)";
}

}  // namespace

TEST(Alertmanager, EachEntryIsAnEvent) {
  const json events = json::parse(ag::alertmanager_events(kAlertmanagerBody));
  ASSERT_EQ(events.size(), 2u);
  const json &firing = events[0];
  EXPECT_EQ(firing["event_action"], "trigger");
  EXPECT_EQ(firing["dedup_key"], "a1b2c3d4e5f60718");
  EXPECT_EQ(firing["payload"]["summary"], "p99 above 2s on api-1");
  EXPECT_EQ(firing["payload"]["severity"], "critical");
  EXPECT_EQ(firing["payload"]["source"], "alertmanager");
  EXPECT_EQ(firing["payload"]["timestamp"], "2026-12-01T10:00:00.123Z");
  EXPECT_EQ(firing["description"], "p99 is 3.1s");
  EXPECT_EQ(firing["labels"]["instance"], "api-1");
  EXPECT_EQ(firing["labels"]["severity"], "Critical");  // the label as sent
  const json &details = firing["payload"]["custom_details"];
  EXPECT_EQ(details["receiver"], "alert-grouping");
  EXPECT_EQ(details["externalURL"], "http://am.example:9093");
  EXPECT_EQ(details["generatorURL"], "http://prom.example:9090/graph?g0.expr=x");
  EXPECT_EQ(details["annotations"]["description"], "p99 is 3.1s");

  const json &resolved = events[1];
  EXPECT_EQ(resolved["event_action"], "resolve");
  EXPECT_EQ(resolved["dedup_key"], "0f0e0d0c0b0a0908");
  EXPECT_EQ(resolved["payload"]["timestamp"], "2026-12-01T09:30:00Z");
  EXPECT_FALSE(resolved.contains("labels"));
}

TEST(Alertmanager, TitleFallsBackToAlertname) {
  const json events = json::parse(ag::alertmanager_events(R"({"version": "4", "alerts": [
      {"status": "firing", "labels": {"alertname": "DiskFull"}, "annotations": {"summary": ""},
       "startsAt": "0001-01-01T00:00:00Z", "fingerprint": "ff"}]})"));
  EXPECT_EQ(events[0]["payload"]["summary"], "DiskFull");
  EXPECT_EQ(events[0]["payload"]["severity"], "medium");     // no severity label
  EXPECT_FALSE(events[0]["payload"].contains("timestamp"));  // Go's zero time: now
}

TEST(Alertmanager, EmptyGroupIsNoEvent) {
  EXPECT_EQ(ag::alertmanager_events(R"({"version": "4", "alerts": []})"), "[]");
}

TEST(Alertmanager, BadBodiesNameTheField) {
  EXPECT_EQ(error_field(ag::alertmanager_events, "[]"), "(body)");
  try {
    ag::alertmanager_events("[]");
  } catch (const ag::PayloadError &e) {
    EXPECT_STREQ(e.what(), "payload must be a JSON object");
  }
  try {
    ag::alertmanager_events(R"({"alerts": [{"status": "x", "fingerprint": "a"}]})");
  } catch (const ag::PayloadError &e) {
    EXPECT_STREQ(
        e.what(),
        "payload field \"alerts[0].status\" must be \"firing\" or \"resolved\", not \"x\"");
  }
  EXPECT_EQ(error_field(ag::alertmanager_events, R"({"version": "3", "alerts": []})"), "version");
  EXPECT_EQ(error_field(ag::alertmanager_events, R"({"version": "4"})"), "alerts");
  EXPECT_EQ(error_field(ag::alertmanager_events, R"({"alerts": [1]})"), "alerts[0]");
  EXPECT_EQ(error_field(ag::alertmanager_events,
                        R"({"alerts": [{"status": "pending", "fingerprint": "a"}]})"),
            "alerts[0].status");
  EXPECT_EQ(error_field(ag::alertmanager_events,
                        R"({"alerts": [{"status": "firing", "labels": {"alertname": "x"}}]})"),
            "alerts[0].fingerprint");
  EXPECT_EQ(
      error_field(ag::alertmanager_events,
                  R"({"alerts": [{"status": "firing", "fingerprint": "a", "labels": {"n": 1}}]})"),
      "alerts[0].labels.n");
  EXPECT_EQ(error_field(ag::alertmanager_events,
                        R"({"alerts": [{"status": "firing", "fingerprint": "a", "labels": {}}]})"),
            "alerts[0].labels.alertname");
  EXPECT_EQ(error_field(ag::alertmanager_events, R"({"alerts": [], "groupLabels": {"a": true}})"),
            "groupLabels.a");
  EXPECT_EQ(
      error_field(
          ag::alertmanager_events,
          R"({"alerts": [{"status": "firing", "fingerprint": "a", "labels": {"alertname": "x"},
                                        "startsAt": "yesterday"}]})"),
      "alerts[0].startsAt");
  EXPECT_EQ(
      error_field(
          ag::alertmanager_events,
          R"({"alerts": [{"status": "resolved", "fingerprint": "a", "endsAt": "2026-12-01 10:00"}]})"),
      "alerts[0].endsAt");
  for (const char *t : {"2026-12-01T10:00:00Z", "2026-12-01T10:00:00.123456789Z",
                        "2026-12-01T10:00:00+01:00", "2026-12-01T10:00:00.5-08:00"}) {
    SCOPED_TRACE(t);
    EXPECT_EQ(
        error_field(
            ag::alertmanager_events,
            std::string(R"({"alerts": [{"status": "resolved", "fingerprint": "a", "endsAt": ")") +
                t + R"("}]})"),
        "(no error)");
  }
  const std::string long_key(256, 'f');
  EXPECT_EQ(
      error_field(ag::alertmanager_events,
                  R"({"alerts": [{"status": "resolved", "fingerprint": ")" + long_key + R"("}]})"),
      "alerts[0].fingerprint");
}

TEST(Grafana, KeepsGrafanasFields) {
  const json events = json::parse(ag::grafana_events(R"({
    "receiver": "pg", "status": "firing", "orgId": 1, "state": "alerting",
    "title": "[FIRING:1] CPU", "message": "CPU is high", "version": "1",
    "groupKey": "{}/{}:{alertname=\"CPU\"}", "externalURL": "http://grafana.example/",
    "alerts": [{"status": "firing",
                "labels": {"alertname": "CPU", "grafana_folder": "infra", "severity": "warning"},
                "annotations": {"summary": "CPU above 90% on db-1"},
                "startsAt": "2026-12-01T11:00:00+01:00", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://grafana.example/alerting/grafana/abc/view",
                "fingerprint": "57c6d9296de2ad39", "silenceURL": "http://grafana.example/alerting/silence/new",
                "dashboardURL": "http://grafana.example/d/x", "panelURL": "http://grafana.example/d/x?viewPanel=2",
                "values": {"B": 93.5, "C": 1}, "valueString": "[ var='B' value=93.5 ]"}]})"));
  ASSERT_EQ(events.size(), 1u);
  const json &e = events[0];
  EXPECT_EQ(e["payload"]["source"], "grafana");
  EXPECT_EQ(e["payload"]["severity"], "medium");
  EXPECT_EQ(e["payload"]["summary"], "CPU above 90% on db-1");
  const json &d = e["payload"]["custom_details"];
  EXPECT_EQ(d["orgId"], 1);
  EXPECT_EQ(d["state"], "alerting");
  EXPECT_EQ(d["message"], "CPU is high");
  EXPECT_EQ(d["dashboardURL"], "http://grafana.example/d/x");
  EXPECT_EQ(d["panelURL"], "http://grafana.example/d/x?viewPanel=2");
  EXPECT_EQ(d["silenceURL"], "http://grafana.example/alerting/silence/new");
  EXPECT_EQ(d["values"]["B"], 93.5);
  EXPECT_EQ(error_field(ag::grafana_events, R"({"version": "4", "alerts": []})"), "version");
  EXPECT_EQ(error_field(ag::grafana_events, R"({"orgId": "1", "alerts": []})"), "orgId");
}

TEST(Severity, AlertmanagerLabelsMapOntoOurLevels) {
  EXPECT_EQ(ag::severity_from_label("critical"), "critical");
  EXPECT_EQ(ag::severity_from_label("CRITICAL"), "critical");
  EXPECT_EQ(ag::severity_from_label("page"), "high");
  EXPECT_EQ(ag::severity_from_label("error"), "high");
  EXPECT_EQ(ag::severity_from_label("warning"), "medium");
  EXPECT_EQ(ag::severity_from_label("something else"), "medium");
  EXPECT_EQ(ag::severity_from_label(""), "medium");
  EXPECT_EQ(ag::severity_from_label("low"), "low");
  EXPECT_EQ(ag::severity_from_label("info"), "info");
  EXPECT_EQ(ag::severity_from_label("none"), "info");
}
