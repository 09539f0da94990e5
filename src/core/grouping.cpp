#include "grouping.hpp"

#include <algorithm>
#include <vector>

#include "internal.hpp"
#include "interrupts.hpp"

namespace ag {

namespace {
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Character bigrams as 16-bit codes over bytes, sorted so that the multiset intersection is a
// linear merge.
std::vector<uint16_t> sorted_bigrams(const std::string &s) {
  std::vector<uint16_t> out;
  if (s.size() < 2) return out;
  out.reserve(s.size() - 1);
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    out.push_back(static_cast<uint16_t>((static_cast<unsigned char>(s[i]) << 8) |
                                        static_cast<unsigned char>(s[i + 1])));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Appends text with a backslash before every backslash and every byte of `special`. Text
// without those bytes is appended unchanged, so keys of ordinary data keep their old values.
void append_escaped(std::string &out, std::string_view text, std::string_view special) {
  for (char c : text) {
    if (c == '\\' || special.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
}
}  // namespace

std::string normalize_title(std::string_view title) {
  title = trim(title);
  std::string out;
  out.reserve(title.size());
  size_t i = 0;
  while (i < title.size()) {
    const char c = title[i];
    if (is_space(c)) {
      // Trimmed input: an inner run is always followed by a non-space.
      while (i < title.size() && is_space(title[i])) ++i;
      out.push_back(' ');
    } else if (is_digit(c)) {
      while (i < title.size() && is_digit(title[i])) ++i;
      out.push_back('X');
    } else {
      out.push_back(ascii_lower(c));
      ++i;
    }
  }
  return out;
}

std::string group_key(const GroupingConfig &config, const Alert &alert) {
  if (config.group_by.empty()) return "default";
  constexpr std::string_view kLabels = "labels.";
  // Parts split at unescaped '|', each at its first unescaped ':'. Valid entries contain
  // neither; escaping them too keeps the key injective even for entries compile_rule refuses.
  constexpr std::string_view kEntrySpecial = "|:";
  constexpr std::string_view kValueSpecial = "|";
  std::string key;
  for (const auto &entry : config.group_by) {
    if (!key.empty()) key.push_back('|');
    append_escaped(key, entry, kEntrySpecial);
    key.push_back(':');
    if (entry == "monitor") {
      append_escaped(key, alert.monitor_id, kValueSpecial);
    } else if (entry == "severity") {
      key += severity_name(alert.severity);
    } else if (entry == "title") {
      append_escaped(key, normalize_title(alert.title), kValueSpecial);
    } else if (std::string_view(entry).substr(0, kLabels.size()) == kLabels) {
      append_escaped(key, alert.labels.get(std::string_view(entry).substr(kLabels.size())),
                     kValueSpecial);
    }
    // compile_rule refuses other entries; they get an empty value to keep the key total.
  }
  return key;
}

double title_similarity(std::string_view a, std::string_view b) {
  check_interrupts();
  const std::string na = normalize_title(a);
  const std::string nb = normalize_title(b);
  if (na == nb) return 1.0;
  if (na.size() < 2 || nb.size() < 2) return 0.0;
  const auto ba = sorted_bigrams(na);
  const auto bb = sorted_bigrams(nb);
  size_t common = 0;
  for (size_t i = 0, j = 0; i < ba.size() && j < bb.size();) {
    if (ba[i] < bb[j]) {
      ++i;
    } else if (bb[j] < ba[i]) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return 2.0 * static_cast<double>(common) / static_cast<double>(ba.size() + bb.size());
}

std::string render_title_template(std::string_view title_template, const Alert &first_alert,
                                  std::string_view group_key) {
  constexpr std::string_view kLabels = "labels.";
  std::string out;
  out.reserve(title_template.size() + first_alert.title.size());
  for (const auto &part : internal::split_template(title_template)) {
    if (!part.placeholder) {
      out += part.text;
      continue;
    }
    const std::string_view name = part.name;
    if (name == "title") {
      out += first_alert.title;
    } else if (name == "description") {
      out += first_alert.description;
    } else if (name == "severity") {
      out += severity_name(first_alert.severity);
    } else if (name == "monitor_id") {
      out += first_alert.monitor_id;
    } else if (name == "group_key") {
      out += group_key;
    } else if (name == "alert_count") {
      // Canonical spelling, so that fill_alert_count finds it whatever the spacing was.
      out += "{{alert_count}}";
    } else if (internal::is_known_placeholder(name) && name.substr(0, kLabels.size()) == kLabels) {
      out += first_alert.labels.get(name.substr(kLabels.size()));
    } else {
      // Unknown placeholders cannot pass compile_rule; render them verbatim if they reach here.
      out += part.text;
    }
  }
  return out;
}

std::string fill_alert_count(std::string_view rendered, int64_t alert_count) {
  constexpr std::string_view kPlaceholder = "{{alert_count}}";
  const std::string count = std::to_string(alert_count);
  std::string out;
  out.reserve(rendered.size());
  size_t pos = 0;
  for (size_t hit; (hit = rendered.find(kPlaceholder, pos)) != std::string_view::npos;
       pos = hit + kPlaceholder.size()) {
    out += rendered.substr(pos, hit - pos);
    out += count;
  }
  out += rendered.substr(pos);
  return out;
}

std::string fingerprint_material(std::string_view monitor_id, std::string_view title,
                                 const Labels &labels) {
  // The fields are split at the first two unescaped '|'; the labels come last, so only their
  // own separators need escaping.
  constexpr std::string_view kFieldSpecial = "|";
  constexpr std::string_view kLabelSpecial = ",=";
  std::string out = "monitor:";
  append_escaped(out, monitor_id, kFieldSpecial);
  out += "|title:";
  std::string lowered;
  for (char c : trim(title)) lowered.push_back(ascii_lower(c));
  append_escaped(out, lowered, kFieldSpecial);
  out += "|labels:";
  bool first = true;
  for (const auto &[name, value] : labels.items()) {
    if (!first) out.push_back(',');
    first = false;
    append_escaped(out, name, kLabelSpecial);
    out.push_back('=');
    append_escaped(out, value, kLabelSpecial);
  }
  return out;
}

std::string dedup_key_material(std::string_view dedup_key) {
  std::string out = "dedup_key:";
  out += dedup_key;
  return out;
}

}  // namespace ag
