// Overflow-safe arithmetic on microsecond timestamps. PostgreSQL's -infinity/+infinity are
// INT64_MIN/INT64_MAX, so plain differences of stored timestamps can overflow (undefined
// behaviour); these saturate at the int64 limits instead, which keeps every comparison the
// planner makes correct.
#pragma once

#include <cstdint>
#include <limits>

namespace ag {

inline int64_t saturating_sub(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_sub_overflow(a, b, &r)) return r;
  // Overflow only happens when a and b have different signs; the result has a's sign.
  return a < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
}

inline int64_t saturating_add(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return a < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
}

inline int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_mul_overflow(a, b, &r)) return r;
  return (a < 0) != (b < 0) ? std::numeric_limits<int64_t>::min()
                            : std::numeric_limits<int64_t>::max();
}

}  // namespace ag
