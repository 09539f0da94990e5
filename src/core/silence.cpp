#include "silence.hpp"

#include "rule_error.hpp"

namespace ag {

bool Silence::matches(const Labels &labels) const {
  for (const LabelMatcher &m : matchers)
    if (!m.matches(labels)) return false;
  return !matchers.empty();
}

std::vector<LabelMatcher> parse_silence_matchers(const std::vector<std::string> &texts) {
  if (texts.empty()) throw RuleError("matchers", "a silence needs at least one matcher");
  std::vector<LabelMatcher> matchers;
  matchers.reserve(texts.size());
  bool selective = false;
  const Labels none;
  for (size_t i = 0; i < texts.size(); i++) {
    matchers.push_back(LabelMatcher::parse(texts[i], "matchers[" + std::to_string(i + 1) + "]"));
    if (!matchers.back().matches(none)) selective = true;
  }
  if (!selective)
    throw RuleError("matchers", "at least one matcher must not match the empty string");
  return matchers;
}

const Silence *holding_silence(const std::vector<Silence> &silences, const Labels &labels,
                               int64_t at) {
  for (const Silence &s : silences)
    if (s.active_at(at) && s.matches(labels)) return &s;
  return nullptr;
}

}  // namespace ag
