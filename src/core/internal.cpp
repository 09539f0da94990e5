#include "internal.hpp"

#include <re2/re2.h>

#include "rule_error.hpp"

namespace ag::internal {

namespace {
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}
}  // namespace

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::shared_ptr<const re2::RE2> compile_regex(std::string_view pattern, bool case_sensitive,
                                              const std::string &key_path) {
  if (utf8_length(pattern) > kMaxPatternChars) {
    throw RuleError(key_path, "regular expression must be at most " +
                                  std::to_string(kMaxPatternChars) + " characters");
  }
  RE2::Options options;
  // Errors are reported through RuleError; RE2 must not write to the server's stderr.
  options.set_log_errors(false);
  options.set_case_sensitive(case_sensitive);
  auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) throw RuleError(key_path, "invalid regular expression: " + re->error());
  return re;
}

bool is_label_reference(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<TemplatePart> split_template(std::string_view tmpl) {
  std::vector<TemplatePart> parts;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    const size_t open = tmpl.find("{{", pos);
    const size_t close = open == std::string_view::npos ? open : tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) {
      parts.push_back({false, tmpl.substr(pos), {}});
      break;
    }
    if (open > pos) parts.push_back({false, tmpl.substr(pos, open - pos), {}});
    parts.push_back(
        {true, tmpl.substr(open, close + 2 - open), trim(tmpl.substr(open + 2, close - open - 2))});
    pos = close + 2;
  }
  return parts;
}

bool is_known_placeholder(std::string_view name) {
  static constexpr std::string_view kFixed[] = {"title",      "description", "severity",
                                                "monitor_id", "group_key",   "alert_count"};
  for (std::string_view fixed : kFixed) {
    if (name == fixed) return true;
  }
  constexpr std::string_view kLabels = "labels.";
  return name.substr(0, kLabels.size()) == kLabels &&
         is_label_reference(name.substr(kLabels.size()));
}

}  // namespace ag::internal
