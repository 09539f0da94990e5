// Raised when a grouping rule is invalid; the SQL layer maps it to SQLSTATE 22023.
#pragma once

#include <stdexcept>
#include <string>

namespace ag {

class RuleError : public std::runtime_error {
 public:
  // key: the full path of the offending key, e.g. "grouping_config.time_window_minutes"
  // or "match_criteria.labels[1]". message: lower-case, no trailing period.
  RuleError(std::string key, const std::string &message)
      : std::runtime_error(key + ": " + message), key_(std::move(key)) {}
  const std::string &key() const { return key_; }

 private:
  std::string key_;
};

}  // namespace ag
