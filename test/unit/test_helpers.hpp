// Small builders shared by the unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alert.hpp"
#include "rule.hpp"
#include "rule_error.hpp"

namespace ag_test {

constexpr int64_t kMinuteUs = 60LL * 1000 * 1000;

inline ag::Alert make_alert(std::string title, ag::Severity severity = ag::Severity::Medium,
                            int64_t minute = 0,
                            std::vector<std::pair<std::string, std::string>> labels = {},
                            std::string monitor_id = "", std::string description = "") {
  ag::Alert a;
  a.title = std::move(title);
  a.severity = severity;
  a.created_at_us = minute * kMinuteUs;
  for (auto &[name, value] : labels) a.labels.set(name, value);
  a.monitor_id = std::move(monitor_id);
  a.description = std::move(description);
  return a;
}

// The RuleError thrown by compile_rule, or nullopt when the rule compiles.
inline std::optional<ag::RuleError> compile_error(std::string_view match,
                                                  std::string_view grouping = "",
                                                  std::string_view episode = "") {
  try {
    ag::compile_rule(match, grouping, episode);
  } catch (const ag::RuleError &e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace ag_test

// Expects compile_rule to fail with exactly this key and a message containing `substr`.
#define EXPECT_RULE_ERROR(match, grouping, episode, expected_key, substr)                    \
  do {                                                                                       \
    const auto err_ = ag_test::compile_error((match), (grouping), (episode));                \
    if (!err_) {                                                                             \
      ADD_FAILURE() << "expected RuleError for key " << (expected_key) << ", rule compiled"; \
    } else {                                                                                 \
      EXPECT_EQ(err_->key(), (expected_key)) << err_->what();                                \
      EXPECT_NE(std::string(err_->what()).find(substr), std::string::npos)                   \
          << "message: " << err_->what() << "\nexpected to contain: " << (substr);           \
    }                                                                                        \
  } while (0)
