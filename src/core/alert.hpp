// The engine's view of one alert: only what matching, keys and templates need.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "severity.hpp"

namespace ag {

// Label set, kept sorted by name (bytewise) with unique names.
class Labels {
 public:
  Labels() = default;
  // Adds or replaces; keeps the set sorted.
  void set(std::string name, std::string value);
  // Alertmanager semantics: a missing label equals "".
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>> &items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct Alert {
  std::string monitor_id;  // canonical uuid text, "" when the alert has no monitor
  Severity severity = Severity::Medium;
  std::string title;
  std::string description;
  Labels labels;
  int64_t created_at_us = 0;  // event time in microseconds (any fixed epoch)
};

}  // namespace ag
