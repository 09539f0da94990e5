// A grouping rule compiled from its three jsonb documents. Compiling is also validating:
// the same code refuses a bad rule when it is written and runs it at insert time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alert.hpp"
#include "label_matcher.hpp"
#include "severity.hpp"

namespace re2 {
class RE2;
}

namespace ag {

struct MatchCriteria {
  std::vector<std::string> monitor_ids;  // lower-case canonical uuids
  std::vector<Severity> severities;
  std::optional<Severity> min_severity;
  std::vector<LabelMatcher> labels;
  std::shared_ptr<const re2::RE2> title_pattern;        // unanchored, case-insensitive
  std::shared_ptr<const re2::RE2> description_pattern;  // unanchored, case-insensitive

  // All present keys must hold; an empty criteria matches every alert.
  bool matches(const Alert &alert) const;
};

enum class GroupingType { TimeWindow, Field, Smart };

struct GroupingConfig {
  GroupingType type = GroupingType::TimeWindow;
  // Each entry is "monitor", "severity", "title" or "labels.<name>".
  std::vector<std::string> group_by;
  std::optional<int> time_window_minutes;  // 1..525600; nullopt: project default
  double similarity_threshold = 0.75;      // 0..1, smart only
};

struct EpisodeConfig {
  std::optional<std::string> title_template;
  bool resolve_when_alerts_resolved = true;
  int resolve_delay_minutes = 0;                  // 0..525600
  int reopen_window_minutes = 0;                  // 0..525600, 0: never reopen
  std::optional<int> inactivity_timeout_minutes;  // 1..525600
  bool create_incident = false;
  std::optional<Severity> incident_min_severity;
  int incident_min_alerts = 1;                      // 1..1000000
  std::optional<std::string> escalation_policy_id;  // uuid
  std::vector<std::string> owner_user_ids;          // uuids
  std::vector<std::string> owner_team_ids;          // uuids
  std::vector<std::string> label_ids;               // uuids
};

struct Rule {
  std::string id;  // uuid text, filled by the caller
  int priority = 100;
  MatchCriteria match;
  GroupingConfig grouping;
  EpisodeConfig episode;
};

// Parses and validates the three JSON documents (each must be a JSON object; an empty
// string_view counts as {}). Throws RuleError naming the key ("match_criteria",
// "match_criteria.labels[0]", "grouping_config.type", "episode_config.foo", ...) on: unknown
// keys, wrong JSON types, out-of-range numbers, non-integral numbers where an integer is
// required, unknown severity names, malformed uuids, malformed matchers, invalid regexes,
// unknown group_by entries, unknown placeholders in title_template. Numbers are exact: one
// too large for a double (1e400, as jsonb prints it) is out of range for its key, and a
// non-integral one is not an integer even if it rounds to one (5.00000000000000000001);
// -0 counts as 0.
Rule compile_rule(std::string_view match_criteria_json, std::string_view grouping_config_json,
                  std::string_view episode_config_json);

// True when a uuid is in canonical text form (8-4-4-4-12 hex digits, any case).
bool is_uuid(std::string_view text);

}  // namespace ag
