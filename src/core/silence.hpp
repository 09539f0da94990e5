// Alertmanager silences: a list of label matchers that mutes every alert it all matches while
// the silence is active (starts_at <= t < ends_at), evaluated when the alert arrives.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alert.hpp"
#include "label_matcher.hpp"

namespace ag {

struct Silence {
  std::string id;
  int64_t starts_us = 0, ends_us = 0;  // event-time microseconds, as Alert::created_at_us
  std::vector<LabelMatcher> matchers;

  bool active_at(int64_t t) const { return starts_us <= t && t < ends_us; }
  bool matches(const Labels &labels) const;
};

// The matchers of a silence, as Alertmanager accepts them: at least one, each in rule syntax,
// and not all matching the empty string (such a silence would mute every alert of the
// project). Throws RuleError("matchers[N]", ...) with N 1-based, as SQL arrays count.
std::vector<LabelMatcher> parse_silence_matchers(const std::vector<std::string> &texts);

// The first silence active at `at` whose matchers all match the alert, or nullptr.
const Silence *holding_silence(const std::vector<Silence> &silences, const Labels &labels,
                               int64_t at);

}  // namespace ag
