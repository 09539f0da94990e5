#include "table_names.hpp"

namespace ag {

namespace {
bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$';
}
}  // namespace

std::string rename_tables(const std::string &sql, const std::string &schema,
                          const std::unordered_map<std::string, std::string> &names) {
  const std::string prefix = schema + ".";
  std::string out;
  out.reserve(sql.size() + 64);
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted identifier: copied as it is
      size_t end = i + 1;
      while (end < sql.size()) {
        if (sql[end] == c) {
          if (end + 1 < sql.size() && sql[end + 1] == c) {
            end += 2;
            continue;
          }
          break;
        }
        end++;
      }
      out.append(sql, i, end + 1 - i);
      i = end + 1;
      continue;
    }
    bool at_word_start = i == 0 || !identifier_char(sql[i - 1]);
    if (at_word_start && sql.compare(i, prefix.size(), prefix) == 0) {
      size_t start = i + prefix.size();
      size_t end = start;
      while (end < sql.size() && identifier_char(sql[end])) end++;
      auto found = names.find(sql.substr(start, end - start));
      if (found != names.end()) {
        out += prefix;
        out += found->second;
        i = end;
        continue;
      }
      out += prefix;
      i = start;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

}  // namespace ag
