#include "title_profile.hpp"

#include <algorithm>

#include "grouping.hpp"
#include "interrupts.hpp"

namespace ag {

TitleProfile make_title_profile(std::string_view title) {
  check_interrupts();
  TitleProfile p;
  p.normalized = normalize_title(title);
  const std::string &s = p.normalized;
  if (s.size() < 2) return p;
  p.bigram_total = s.size() - 1;
  std::vector<uint32_t> codes;
  codes.reserve(p.bigram_total);
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    codes.push_back((static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 8) |
                    static_cast<unsigned char>(s[i + 1]));
  }
  std::sort(codes.begin(), codes.end());
  for (uint32_t code : codes) {
    if (p.bigrams.empty() || p.bigrams.back().code != code) p.bigrams.push_back({code, 0});
    p.bigrams.back().count += 1;
  }
  return p;
}

double similarity_upper_bound(const TitleProfile &a, const TitleProfile &b) {
  const size_t na = a.normalized.size(), nb = b.normalized.size();
  if (na == nb) return 1.0;
  // Different, so not equal; title_similarity scores 0 when either has no bigram.
  if (na < 2 || nb < 2) return 0.0;
  // The intersection is at most the smaller multiset; same expression shape as the score, so
  // that score <= bound holds in floating point too.
  const size_t smaller = std::min(a.bigram_total, b.bigram_total);
  return 2.0 * static_cast<double>(smaller) / static_cast<double>(a.bigram_total + b.bigram_total);
}

void BigramTable::load(const TitleProfile &profile) {
  if (counts_.empty()) counts_.assign(1u << 16, 0);
  for (uint32_t code : loaded_) counts_[code] = 0;
  loaded_.clear();
  for (const auto &b : profile.bigrams) {
    counts_[b.code] = b.count;
    loaded_.push_back(b.code);
  }
}

double BigramTable::similarity(const TitleProfile &loaded, const TitleProfile &other) const {
  // Mirrors title_similarity step by step.
  if (loaded.normalized == other.normalized) return 1.0;
  if (loaded.normalized.size() < 2 || other.normalized.size() < 2) return 0.0;
  size_t common = 0;
  for (const auto &b : other.bigrams) common += std::min(b.count, counts_[b.code]);
  return 2.0 * static_cast<double>(common) /
         static_cast<double>(loaded.bigram_total + other.bigram_total);
}

}  // namespace ag
