#include "severity.hpp"

namespace ag {

namespace {
constexpr const char *kNames[] = {"info", "low", "medium", "high", "critical"};
}  // namespace

std::optional<Severity> parse_severity(std::string_view name) {
  for (int i = 0; i < 5; ++i) {
    if (name == kNames[i]) return static_cast<Severity>(i);
  }
  return std::nullopt;
}

const char *severity_name(Severity severity) {
  const int i = static_cast<int>(severity);
  // An out-of-range value can only come from a cast; never index past the table.
  return (i >= 0 && i < 5) ? kNames[i] : "unknown";
}

}  // namespace ag
