#include "label_matcher.hpp"

#include <re2/re2.h>

#include "internal.hpp"
#include "rule_error.hpp"

namespace ag {

namespace {
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

void skip_space(std::string_view text, size_t &pos) {
  while (pos < text.size() && is_space(text[pos])) ++pos;
}
}  // namespace

LabelMatcher LabelMatcher::parse(std::string_view text, const std::string &key_path) {
  LabelMatcher m;
  size_t pos = 0;
  skip_space(text, pos);

  const size_t name_start = pos;
  if (pos < text.size() && is_name_start(text[pos])) {
    ++pos;
    while (pos < text.size() && is_name_char(text[pos])) ++pos;
  }
  if (pos == name_start) {
    throw RuleError(key_path, "invalid matcher: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
  }
  m.name_ = std::string(text.substr(name_start, pos - name_start));
  skip_space(text, pos);

  // Two-character operators first so that "=~" is not read as "=" followed by "~".
  const std::string_view rest = text.substr(pos);
  if (rest.substr(0, 2) == "=~") {
    m.op_ = Op::Regex;
    pos += 2;
  } else if (rest.substr(0, 2) == "!~") {
    m.op_ = Op::NotRegex;
    pos += 2;
  } else if (rest.substr(0, 2) == "!=") {
    m.op_ = Op::NotEqual;
    pos += 2;
  } else if (rest.substr(0, 1) == "=") {
    m.op_ = Op::Equal;
    pos += 1;
  } else {
    throw RuleError(key_path,
                    "invalid matcher: expected one of =, !=, =~, !~ after the label name");
  }
  skip_space(text, pos);

  // The value as Alertmanager reads it: the rest of the text without its trailing
  // whitespace, double-quoted or not (amtool and Alertmanager configs write foo=bar, and
  // job= is the empty value). \" \\ and \n are escapes; any other backslash stays as
  // written, so that regex escapes such as \d or \. survive in a =~ value. A double quote
  // may only open and close a quoted value.
  size_t end = text.size();
  while (end > pos && is_space(text[end - 1])) --end;
  std::string_view raw = text.substr(pos, end - pos);
  const bool quoted = !raw.empty() && raw.front() == '"';
  if (quoted) raw.remove_prefix(1);
  bool open = quoted;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\' && i + 1 < raw.size()) {
      const char e = raw[++i];
      if (e == 'n') {
        m.value_.push_back('\n');
      } else {
        if (e != '"' && e != '\\') m.value_.push_back('\\');
        m.value_.push_back(e);
      }
      continue;
    }
    if (c == '"') {
      if (!open || i + 1 < raw.size()) {
        throw RuleError(key_path,
                        "invalid matcher: the value contains an unescaped double quote (write "
                        "\\\" inside a quoted value)");
      }
      open = false;
      continue;
    }
    m.value_.push_back(c);
  }
  if (open) throw RuleError(key_path, "invalid matcher: unterminated string");

  if (m.op_ == Op::Regex || m.op_ == Op::NotRegex) {
    m.regex_ = internal::compile_regex(m.value_, /*case_sensitive=*/true, key_path);
  }
  return m;
}

bool LabelMatcher::matches(const Labels &labels) const {
  const std::string_view v = labels.get(name_);
  switch (op_) {
    case Op::Equal:
      return v == value_;
    case Op::NotEqual:
      return v != value_;
    case Op::Regex:
      return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex_);
    case Op::NotRegex:
      return !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex_);
  }
  return false;
}

}  // namespace ag
