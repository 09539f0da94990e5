#include "alert.hpp"

#include <algorithm>

namespace ag {

namespace {
// string_view comparison goes through char_traits<char>, which compares as unsigned char, so
// the order is bytewise (like the C collation) whatever the signedness of char.
bool name_less(const std::pair<std::string, std::string> &item, std::string_view name) {
  return std::string_view(item.first) < name;
}
}  // namespace

void Labels::set(std::string name, std::string value) {
  auto it = std::lower_bound(items_.begin(), items_.end(), std::string_view(name), name_less);
  if (it != items_.end() && it->first == name) {
    it->second = std::move(value);
  } else {
    items_.emplace(it, std::move(name), std::move(value));
  }
}

std::string_view Labels::get(std::string_view name) const {
  auto it = std::lower_bound(items_.begin(), items_.end(), name, name_less);
  if (it != items_.end() && it->first == name) return it->second;
  return {};
}

bool Labels::has(std::string_view name) const {
  auto it = std::lower_bound(items_.begin(), items_.end(), name, name_less);
  return it != items_.end() && it->first == name;
}

}  // namespace ag
