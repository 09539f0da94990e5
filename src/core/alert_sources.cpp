#include "alert_sources.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace ag {

namespace {

using json = nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

json parse_body(std::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) throw PayloadError("", "is not valid JSON");
  if (!doc.is_object()) throw PayloadError("", "must be a JSON object");
  return doc;
}

// The string at key, "" when absent or null; anything else is refused.
std::string optional_string(const json &obj, const char *key, const std::string &path) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (!it->is_string()) throw PayloadError(path + key, "must be a string");
  return it->get<std::string>();
}

// A label set (labels, annotations, groupLabels, ...): an object of strings, {} when absent.
json string_map(const json &obj, const char *key, const std::string &path) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return json::object();
  if (!it->is_object()) throw PayloadError(path + key, "must be a JSON object");
  for (const auto &[name, value] : it->items()) {
    if (!value.is_string()) throw PayloadError(path + key + "." + name, "must be a string");
  }
  return *it;
}

// Alertmanager writes Go's zero time as the end of an alert still firing.
bool is_zero_time(const std::string &t) { return t.empty() || t.rfind("0001-01-01", 0) == 0; }

// An RFC 3339 time as Go writes it: 2026-12-01T10:00:00.123Z or ...+01:00.
bool is_rfc3339(const std::string &t) {
  auto digits = [&](size_t from, size_t n) {
    if (from + n > t.size()) return false;
    for (size_t i = from; i < from + n; ++i)
      if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
    return true;
  };
  if (!(digits(0, 4) && t[4] == '-' && digits(5, 2) && t[7] == '-' && digits(8, 2) &&
        (t[10] == 'T' || t[10] == 't') && digits(11, 2) && t[13] == ':' && digits(14, 2) &&
        t[16] == ':' && digits(17, 2)))
    return false;
  size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    const size_t start = ++pos;
    while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) ++pos;
    if (pos == start) return false;
  }
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) return pos + 1 == t.size();
  return pos + 6 == t.size() && (t[pos] == '+' || t[pos] == '-') && digits(pos + 1, 2) &&
         t[pos + 3] == ':' && digits(pos + 4, 2);
}

std::string time_field(const json &alert, const char *key, const std::string &path) {
  std::string t = optional_string(alert, key, path);
  if (!t.empty() && !is_rfc3339(t))
    throw PayloadError(path + key, "must be an RFC 3339 time, not \"" + t + "\"");
  return t;
}

void check_version(const json &doc, const char *expected, const char *sender) {
  const std::string version = optional_string(doc, "version", "");
  if (!version.empty() && version != expected) {
    throw PayloadError("version", std::string("must be \"") + expected + "\" (" + sender +
                                      "'s webhook), not \"" + version + "\"");
  }
}

// The events of one alerts[] list. extra(alert, details) adds a sender's own fields.
template <typename Extra>
std::string map_alerts(const json &doc, const char *source, json common, Extra extra) {
  const auto alerts = doc.find("alerts");
  if (alerts == doc.end() || !alerts->is_array()) throw PayloadError("alerts", "must be an array");
  json events = json::array();
  for (size_t i = 0; i < alerts->size(); ++i) {
    const json &alert = (*alerts)[i];
    const std::string path = "alerts[" + std::to_string(i) + "].";
    if (!alert.is_object())
      throw PayloadError(path.substr(0, path.size() - 1), "must be a JSON object");
    const std::string status = optional_string(alert, "status", path);
    if (status != "firing" && status != "resolved") {
      throw PayloadError(path + "status",
                         "must be \"firing\" or \"resolved\", not \"" + status + "\"");
    }
    const std::string fingerprint = optional_string(alert, "fingerprint", path);
    if (fingerprint.empty() || fingerprint.size() > 255) {
      throw PayloadError(path + "fingerprint", "must be a string of 1 to 255 characters");
    }
    const json labels = string_map(alert, "labels", path);
    const json annotations = string_map(alert, "annotations", path);
    const std::string starts_at = time_field(alert, "startsAt", path);
    const std::string ends_at = time_field(alert, "endsAt", path);

    json event = {{"dedup_key", fingerprint}};
    json payload = json::object();
    if (status == "resolved") {
      event["event_action"] = "resolve";
      if (!is_zero_time(ends_at)) payload["timestamp"] = ends_at;
      event["payload"] = payload;
      events.push_back(std::move(event));
      continue;
    }
    event["event_action"] = "trigger";
    std::string title;
    if (annotations.contains("summary")) title = annotations["summary"].get<std::string>();
    if (title.empty() && labels.contains("alertname"))
      title = labels["alertname"].get<std::string>();
    if (title.empty()) {
      throw PayloadError(path + "labels.alertname",
                         "is required when annotations.summary is missing or empty");
    }
    payload["summary"] = title;
    payload["severity"] = severity_from_label(
        labels.contains("severity") ? labels["severity"].get<std::string>() : "");
    payload["source"] = source;
    if (!is_zero_time(starts_at)) payload["timestamp"] = starts_at;
    json details = common;
    details["annotations"] = annotations;
    details["startsAt"] = starts_at;
    const std::string generator = optional_string(alert, "generatorURL", path);
    if (!generator.empty()) details["generatorURL"] = generator;
    extra(alert, path, details);
    payload["custom_details"] = std::move(details);
    event["payload"] = std::move(payload);
    if (annotations.contains("description")) event["description"] = annotations["description"];
    event["labels"] = labels;
    events.push_back(std::move(event));
  }
  return events.dump();
}

// The group's fields every alert of the body shares.
json common_fields(const json &doc) {
  json common = json::object();
  for (const char *key : {"receiver", "groupKey", "externalURL"}) {
    const std::string v = optional_string(doc, key, "");
    if (!v.empty()) common[key] = v;
  }
  string_map(doc, "groupLabels", "");
  string_map(doc, "commonLabels", "");
  string_map(doc, "commonAnnotations", "");
  return common;
}

}  // namespace

std::string severity_from_label(std::string_view value) {
  const std::string v = lower(value);
  if (v == "critical" || v == "crit" || v == "fatal" || v == "emergency") return "critical";
  if (v == "high" || v == "error" || v == "err" || v == "major" || v == "page") return "high";
  if (v == "low") return "low";
  if (v == "info" || v == "informational" || v == "none" || v == "debug") return "info";
  return "medium";
}

std::string alertmanager_events(std::string_view body) {
  const json doc = parse_body(body);
  check_version(doc, "4", "Alertmanager");
  return map_alerts(doc, "alertmanager", common_fields(doc),
                    [](const json &, const std::string &, json &) {});
}

std::string grafana_events(std::string_view body) {
  const json doc = parse_body(body);
  check_version(doc, "1", "Grafana");
  json common = common_fields(doc);
  if (const auto org = doc.find("orgId"); org != doc.end() && !org->is_null()) {
    if (!org->is_number_integer()) throw PayloadError("orgId", "must be an integer");
    common["orgId"] = *org;
  }
  for (const char *key : {"state", "title", "message"}) {
    const std::string v = optional_string(doc, key, "");
    if (!v.empty()) common[key] = v;
  }
  return map_alerts(doc, "grafana", std::move(common),
                    [](const json &alert, const std::string &path, json &details) {
                      for (const char *key :
                           {"dashboardURL", "panelURL", "silenceURL", "imageURL", "valueString"}) {
                        const std::string v = optional_string(alert, key, path);
                        if (!v.empty()) details[key] = v;
                      }
                      if (const auto values = alert.find("values");
                          values != alert.end() && !values->is_null()) {
                        if (!values->is_object())
                          throw PayloadError(path + "values", "must be a JSON object");
                        details["values"] = *values;
                      }
                    });
}

}  // namespace ag
