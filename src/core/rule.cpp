#include "rule.hpp"

#include <re2/re2.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "internal.hpp"
#include "json_numbers.hpp"
#include "rule_error.hpp"

namespace ag {

namespace {

using json = nlohmann::json;

constexpr int kMaxMinutes = 525600;  // one year
constexpr size_t kMaxTitleTemplateChars = 1000;

json parse_document(std::string_view text, const char *doc) {
  if (text.empty()) return json::object();
  // Out-of-range numbers are tamed first, so that they reach the key's own check (and its
  // message) instead of failing the whole parse.
  const std::string tamed = internal::tame_json_numbers(text);
  json j = json::parse(tamed.begin(), tamed.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  // A parse failure yields a "discarded" value, which is not an object either.
  if (!j.is_object()) throw RuleError(doc, "must be a JSON object");
  return j;
}

std::string child_key(const std::string &key, size_t index) {
  return key + "[" + std::to_string(index) + "]";
}

std::string get_string(const json &v, const std::string &key) {
  if (!v.is_string()) throw RuleError(key, "must be a string");
  return v.get<std::string>();
}

bool get_bool(const json &v, const std::string &key) {
  if (!v.is_boolean()) throw RuleError(key, "must be a boolean");
  return v.get<bool>();
}

// Integers may also be written as floats with an integral value (5.0), as jsonb numerics
// sometimes are.
int get_int(const json &v, const std::string &key, int lo, int hi) {
  const std::string range = "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) throw RuleError(key, range);
    if (static_cast<int64_t>(u) < lo) throw RuleError(key, range);
    return static_cast<int>(u);
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < lo || i > hi) throw RuleError(key, range);
    return static_cast<int>(i);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) throw RuleError(key, "must be an integer");
    if (d < lo || d > hi) throw RuleError(key, range);
    return static_cast<int>(d);
  }
  throw RuleError(key, "must be an integer");
}

double get_number(const json &v, const std::string &key, double lo, double hi,
                  const std::string &range_text) {
  if (!v.is_number()) throw RuleError(key, "must be a number");
  const double d = v.get<double>();
  if (!(d >= lo && d <= hi)) throw RuleError(key, "must be between " + range_text);
  return d + 0.0;  // -0.0 becomes 0.0
}

std::vector<std::string> get_string_array(const json &v, const std::string &key) {
  if (!v.is_array()) throw RuleError(key, "must be an array of strings");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(get_string(v[i], child_key(key, i)));
  return out;
}

Severity to_severity(const std::string &name, const std::string &key) {
  const auto s = parse_severity(name);
  if (!s) throw RuleError(key, "must be one of info, low, medium, high, critical");
  return *s;
}

Severity get_severity(const json &v, const std::string &key) {
  return to_severity(get_string(v, key), key);
}

std::string to_uuid(std::string text, const std::string &key) {
  if (!is_uuid(text)) throw RuleError(key, "must be a uuid");
  for (char &c : text) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

std::vector<std::string> get_uuid_array(const json &v, const std::string &key) {
  std::vector<std::string> out = get_string_array(v, key);
  for (size_t i = 0; i < out.size(); ++i) out[i] = to_uuid(std::move(out[i]), child_key(key, i));
  return out;
}

using KeyHandler = std::function<void(const json &, const std::string &)>;

// Walks an object's keys in sorted order (nlohmann's object order), so that the first error
// reported for a rule is deterministic.
void walk(const json &doc, const std::string &doc_name,
          const std::map<std::string, KeyHandler> &handlers) {
  for (const auto &[name, value] : doc.items()) {
    const std::string key = doc_name + "." + name;
    auto it = handlers.find(name);
    if (it == handlers.end()) throw RuleError(key, "unknown key");
    it->second(value, key);
  }
}

bool is_group_by_entry(const std::string &entry) {
  if (entry == "monitor" || entry == "severity" || entry == "title") return true;
  constexpr std::string_view kLabels = "labels.";
  return std::string_view(entry).substr(0, kLabels.size()) == kLabels &&
         internal::is_label_reference(std::string_view(entry).substr(kLabels.size()));
}

void validate_title_template(const std::string &tmpl, const std::string &key) {
  if (internal::utf8_length(tmpl) > kMaxTitleTemplateChars) {
    throw RuleError(key,
                    "must be at most " + std::to_string(kMaxTitleTemplateChars) + " characters");
  }
  for (const auto &part : internal::split_template(tmpl)) {
    if (part.placeholder && !internal::is_known_placeholder(part.name)) {
      throw RuleError(key, "unknown placeholder {{" + std::string(part.name) + "}}");
    }
  }
}

MatchCriteria compile_match(const json &doc) {
  MatchCriteria m;
  walk(doc, "match_criteria",
       {
           {"monitor_ids",
            [&](const json &v, const std::string &k) { m.monitor_ids = get_uuid_array(v, k); }},
           {"severities",
            [&](const json &v, const std::string &k) {
              const auto names = get_string_array(v, k);
              for (size_t i = 0; i < names.size(); ++i)
                m.severities.push_back(to_severity(names[i], child_key(k, i)));
            }},
           {"min_severity",
            [&](const json &v, const std::string &k) { m.min_severity = get_severity(v, k); }},
           {"labels",
            [&](const json &v, const std::string &k) {
              const auto texts = get_string_array(v, k);
              for (size_t i = 0; i < texts.size(); ++i)
                m.labels.push_back(LabelMatcher::parse(texts[i], child_key(k, i)));
            }},
           {"title_pattern",
            [&](const json &v, const std::string &k) {
              m.title_pattern =
                  internal::compile_regex(get_string(v, k), /*case_sensitive=*/false, k);
            }},
           {"description_pattern",
            [&](const json &v, const std::string &k) {
              m.description_pattern =
                  internal::compile_regex(get_string(v, k), /*case_sensitive=*/false, k);
            }},
       });
  return m;
}

GroupingConfig compile_grouping(const json &doc) {
  GroupingConfig g;
  walk(doc, "grouping_config",
       {
           {"type",
            [&](const json &v, const std::string &k) {
              const std::string t = get_string(v, k);
              if (t == "time_window") {
                g.type = GroupingType::TimeWindow;
              } else if (t == "field") {
                g.type = GroupingType::Field;
              } else if (t == "smart") {
                g.type = GroupingType::Smart;
              } else {
                throw RuleError(k, "must be one of time_window, field, smart");
              }
            }},
           {"group_by",
            [&](const json &v, const std::string &k) {
              g.group_by = get_string_array(v, k);
              for (size_t i = 0; i < g.group_by.size(); ++i) {
                if (!is_group_by_entry(g.group_by[i])) {
                  throw RuleError(child_key(k, i),
                                  "must be one of monitor, severity, title, labels.<name>");
                }
              }
            }},
           {"time_window_minutes",
            [&](const json &v, const std::string &k) {
              g.time_window_minutes = get_int(v, k, 1, kMaxMinutes);
            }},
           {"similarity_threshold",
            [&](const json &v, const std::string &k) {
              g.similarity_threshold = get_number(v, k, 0.0, 1.0, "0 and 1");
            }},
       });
  return g;
}

EpisodeConfig compile_episode(const json &doc) {
  EpisodeConfig e;
  walk(doc, "episode_config",
       {
           {"title_template",
            [&](const json &v, const std::string &k) {
              std::string t = get_string(v, k);
              validate_title_template(t, k);
              e.title_template = std::move(t);
            }},
           {"resolve_when_alerts_resolved",
            [&](const json &v, const std::string &k) {
              e.resolve_when_alerts_resolved = get_bool(v, k);
            }},
           {"resolve_delay_minutes",
            [&](const json &v, const std::string &k) {
              e.resolve_delay_minutes = get_int(v, k, 0, kMaxMinutes);
            }},
           {"reopen_window_minutes",
            [&](const json &v, const std::string &k) {
              e.reopen_window_minutes = get_int(v, k, 0, kMaxMinutes);
            }},
           {"inactivity_timeout_minutes",
            [&](const json &v, const std::string &k) {
              e.inactivity_timeout_minutes = get_int(v, k, 1, kMaxMinutes);
            }},
           {"create_incident",
            [&](const json &v, const std::string &k) { e.create_incident = get_bool(v, k); }},
           {"incident_min_severity",
            [&](const json &v, const std::string &k) {
              e.incident_min_severity = get_severity(v, k);
            }},
           {"incident_min_alerts",
            [&](const json &v, const std::string &k) {
              e.incident_min_alerts = get_int(v, k, 1, 1000000);
            }},
           {"escalation_policy_id",
            [&](const json &v, const std::string &k) {
              e.escalation_policy_id = to_uuid(get_string(v, k), k);
            }},
           {"owner_user_ids",
            [&](const json &v, const std::string &k) { e.owner_user_ids = get_uuid_array(v, k); }},
           {"owner_team_ids",
            [&](const json &v, const std::string &k) { e.owner_team_ids = get_uuid_array(v, k); }},
           {"label_ids",
            [&](const json &v, const std::string &k) { e.label_ids = get_uuid_array(v, k); }},
       });
  return e;
}

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Rule compile_rule(std::string_view match_criteria_json, std::string_view grouping_config_json,
                  std::string_view episode_config_json) {
  const json match_doc = parse_document(match_criteria_json, "match_criteria");
  const json grouping_doc = parse_document(grouping_config_json, "grouping_config");
  const json episode_doc = parse_document(episode_config_json, "episode_config");
  Rule rule;
  rule.match = compile_match(match_doc);
  rule.grouping = compile_grouping(grouping_doc);
  rule.episode = compile_episode(episode_doc);
  return rule;
}

bool MatchCriteria::matches(const Alert &alert) const {
  if (!monitor_ids.empty()) {
    bool found = false;
    for (const auto &id : monitor_ids) {
      // Stored ids are lower-case; tolerate an upper-case id from the caller.
      if (ascii_iequal(id, alert.monitor_id)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  if (!severities.empty()) {
    bool found = false;
    for (Severity s : severities) found = found || s == alert.severity;
    if (!found) return false;
  }
  if (min_severity && alert.severity < *min_severity) return false;
  for (const auto &matcher : labels) {
    if (!matcher.matches(alert.labels)) return false;
  }
  if (title_pattern && !RE2::PartialMatch(alert.title, *title_pattern)) return false;
  if (description_pattern && !RE2::PartialMatch(alert.description, *description_pattern)) {
    return false;
  }
  return true;
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace ag
