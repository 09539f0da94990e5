#include "json_numbers.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>

namespace ag::internal {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_number_char(char c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// A JSON number split up: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
struct Number {
  bool negative = false;
  std::string_view int_digits, frac_digits;
  int64_t exponent = 0;  // clamped; far beyond any double's range either way
};

bool split_number(std::string_view t, Number &n) {
  size_t i = 0;
  if (i < t.size() && t[i] == '-') {
    n.negative = true;
    ++i;
  }
  const size_t int_start = i;
  while (i < t.size() && is_digit(t[i])) ++i;
  n.int_digits = t.substr(int_start, i - int_start);
  if (n.int_digits.empty() || (n.int_digits.size() > 1 && n.int_digits[0] == '0')) return false;
  if (i < t.size() && t[i] == '.') {
    const size_t frac_start = ++i;
    while (i < t.size() && is_digit(t[i])) ++i;
    n.frac_digits = t.substr(frac_start, i - frac_start);
    if (n.frac_digits.empty()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) exp_negative = t[i++] == '-';
    const size_t exp_start = i;
    constexpr int64_t kClamp = int64_t{1} << 40;
    for (; i < t.size() && is_digit(t[i]); ++i) {
      n.exponent = std::min(kClamp, n.exponent * 10 + (t[i] - '0'));
    }
    if (i == exp_start) return false;
    if (exp_negative) n.exponent = -n.exponent;
  }
  return i == t.size();
}

// The replacement for one number token, or "" to keep it.
std::string tame(std::string_view token) {
  Number n;
  if (!split_number(token, n)) return "";
  // Digits d[0..) with the decimal point before d[point].
  const std::string digits = std::string(n.int_digits) + std::string(n.frac_digits);
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "";  // zero, -0 included: a double holds it exactly
  const size_t last = digits.find_last_not_of('0');
  const int64_t point = static_cast<int64_t>(n.int_digits.size()) + n.exponent;
  const bool integral = static_cast<int64_t>(last) < point;
  const bool at_least_one = point - static_cast<int64_t>(first) > 0;

  double d = 0;
  const auto res = std::from_chars(token.data(), token.data() + token.size(), d);
  if (res.ec == std::errc::result_out_of_range) {
    if (at_least_one) return n.negative ? "-1e308" : "1e308";
    d = 0;  // underflow: continue as the rounded-to-zero value
  } else if (res.ec != std::errc() || res.ptr != token.data() + token.size()) {
    return "";
  }
  if (integral || d != std::floor(d) || std::fabs(d) >= 4503599627370496.0 /* 2^52 */) return "";

  // |value| truncated toward zero: beyond |d| (away from zero) or below it.
  uint64_t truncated = 0;
  for (int64_t i = 0; i < point; ++i) {
    const char c = i < static_cast<int64_t>(digits.size()) ? digits[static_cast<size_t>(i)] : '0';
    truncated = truncated * 10 + static_cast<uint64_t>(c - '0');
    if (truncated > (uint64_t{1} << 53)) break;  // cannot equal |d|
  }
  const bool away_from_zero = d == 0 || static_cast<double>(truncated) == std::fabs(d);
  const double inf = std::numeric_limits<double>::infinity();
  const double toward = away_from_zero == n.negative ? -inf : inf;
  const double replacement = std::nextafter(d == 0 && n.negative ? -0.0 : d, toward);
  char buf[64];
  const auto out = std::to_chars(buf, buf + sizeof buf, replacement);
  return std::string(buf, out.ptr);
}

}  // namespace

std::string tame_json_numbers(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  size_t i = 0;
  while (i < json.size()) {
    const char c = json[i];
    if (c == '"') {
      // Copy the string through its closing quote, skipping escaped characters.
      size_t j = i + 1;
      while (j < json.size() && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, json.size());
      out.append(json.substr(i, j - i));
      i = j;
    } else if (c == '-' || is_digit(c)) {
      size_t j = i;
      while (j < json.size() && is_number_char(json[j])) ++j;
      const std::string_view token = json.substr(i, j - i);
      const std::string replacement = tame(token);
      out.append(replacement.empty() ? token : std::string_view(replacement));
      i = j;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

}  // namespace ag::internal
