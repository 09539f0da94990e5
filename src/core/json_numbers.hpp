// Rewrites JSON number literals that an IEEE double would misrepresent, before nlohmann parses
// a rule document. jsonb keeps exact decimals and prints 1e400 as a 401-digit integer, which
// nlohmann refuses outright ("number overflow"), losing the key that holds it; 1e-400 and
// 5.00000000000000000001 would silently read as the integers 0 and 5.
#pragma once

#include <string>
#include <string_view>

namespace ag::internal {

// Returns `json` with, outside strings:
//  - numbers too large for a double replaced by +/-1e308 (out of every rule range);
//  - non-integral numbers that round to an integral double replaced by the nearest double on
//    their side of that integer (still non-integral; rounding near 0 keeps the sign), when
//    one exists below 2^52.
// Everything else, including malformed number tokens, is left as is.
std::string tame_json_numbers(std::string_view json);

}  // namespace ag::internal
