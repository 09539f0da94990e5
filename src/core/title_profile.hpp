// Precomputed form of title_similarity for the planner, which compares one alert against many
// episodes: each title is normalised and split into bigrams once, and a comparison is a walk
// over one title's distinct bigrams. Scores are bit-identical to title_similarity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ag {

struct TitleProfile {
  struct Bigram {
    uint32_t code = 0;   // (byte << 8) | next byte, as title_similarity defines bigrams
    uint32_t count = 0;  // occurrences in the normalised title
  };
  std::string normalized;       // normalize_title(title)
  size_t bigram_total = 0;      // normalized.size() - 1 (0 for fewer than 2 bytes)
  std::vector<Bigram> bigrams;  // distinct codes, ascending
};

// Calls check_interrupts() once.
TitleProfile make_title_profile(std::string_view title);

// Upper bound of the similarity of a and b from their lengths alone, so that hopeless
// candidates can be skipped without a comparison.
double similarity_upper_bound(const TitleProfile &a, const TitleProfile &b);

// Holds one title's bigram counts in a table indexed by code, so that comparing it with
// another profile costs one lookup per distinct bigram of the other.
class BigramTable {
 public:
  void load(const TitleProfile &profile);
  // title_similarity(<loaded title>, <other's title>); `loaded` is the profile passed to load.
  double similarity(const TitleProfile &loaded, const TitleProfile &other) const;

 private:
  std::vector<uint32_t> counts_;  // 65536 entries once used
  std::vector<uint32_t> loaded_;  // codes set in counts_, to clear them on the next load
};

}  // namespace ag
