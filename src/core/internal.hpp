// Helpers shared by the core's .cpp files; not part of the extension-facing contract.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace ag::internal {

// Longest regular expression accepted, in characters.
constexpr size_t kMaxPatternChars = 4096;

// Number of UTF-8 code points (continuation bytes are not counted).
size_t utf8_length(std::string_view text);

// Compiles an RE2 pattern; throws RuleError(key_path, ...) when it is too long or RE2
// refuses it.
std::shared_ptr<const re2::RE2> compile_regex(std::string_view pattern, bool case_sensitive,
                                              const std::string &key_path);

// Label names usable in group_by and title placeholders: [A-Za-z0-9_./-]+, wider than the
// matcher syntax because Kubernetes-style names ("app.kubernetes.io/name") are common.
bool is_label_reference(std::string_view name);

// One piece of a title template: literal text, or a "{{ ... }}" placeholder.
struct TemplatePart {
  bool placeholder = false;
  std::string_view text;  // the literal, or the whole "{{ ... }}" as written
  std::string_view name;  // placeholder only: the inside with surrounding whitespace trimmed
};

// Splits a template; "{{" without a later "}}" is literal text.
std::vector<TemplatePart> split_template(std::string_view tmpl);

// title, description, severity, monitor_id, group_key, alert_count or labels.<name>.
bool is_known_placeholder(std::string_view name);

}  // namespace ag::internal
