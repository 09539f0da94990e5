// Alertmanager-style label matchers: name="v", name!="v", name=~"re", name!~"re".
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "alert.hpp"

namespace re2 {
class RE2;
}

namespace ag {

class LabelMatcher {
 public:
  enum class Op { Equal, NotEqual, Regex, NotRegex };

  // Parses one matcher. Label name: [a-zA-Z_][a-zA-Z0-9_]*; whitespace around the name,
  // operator and value is allowed; the value is a double-quoted string with \" \\ \n escapes.
  // Regexes are RE2, fully anchored, case-sensitive. Throws RuleError(key_path, ...) when the
  // text is malformed or the regex does not compile.
  static LabelMatcher parse(std::string_view text, const std::string &key_path);

  // A missing label is matched as "".
  bool matches(const Labels &labels) const;

  const std::string &name() const { return name_; }
  Op op() const { return op_; }
  const std::string &value() const { return value_; }

 private:
  std::string name_;
  Op op_ = Op::Equal;
  std::string value_;
  std::shared_ptr<const re2::RE2> regex_;  // set for Regex / NotRegex
};

}  // namespace ag
