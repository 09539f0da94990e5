// Alert severities, ordered low to high as in the SQL enum alert_grouping.severity.
#pragma once

#include <optional>
#include <string_view>

namespace ag {

enum class Severity : int { Info = 0, Low = 1, Medium = 2, High = 3, Critical = 4 };

// Parses "info".."critical" (exact, lower-case); nullopt for anything else.
std::optional<Severity> parse_severity(std::string_view name);
const char *severity_name(Severity severity);

}  // namespace ag
