// Group keys, title normalisation, title similarity and title templates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "alert.hpp"
#include "rule.hpp"

namespace ag {

// Lower-cases ASCII letters, trims surrounding whitespace, collapses inner whitespace runs to
// one space and replaces every run of digits by a single "X" ("Disk 91% on db-7" -> "disk X% on
// db-X").
std::string normalize_title(std::string_view title);

// "default" when group_by is empty; otherwise the parts joined by "|", in group_by order:
// "monitor:<id>", "severity:<name>", "title:<normalize_title>", "labels.<name>:<value>".
// Injective: inside values '\' and '|' are backslash-escaped (and inside entries also ':'),
// so a value "x|labels.b:y" cannot pass for a second part "labels.b:y". Text without
// those characters is unchanged, so keys of ordinary data are the same as before escaping.
std::string group_key(const GroupingConfig &config, const Alert &alert);

// Similarity of two titles in 0..1 (1 for equal normalised titles): the Sorensen-Dice
// coefficient over byte bigrams of normalize_title(), as multisets. Two empty titles score 1.
// Calls check_interrupts() once.
double title_similarity(std::string_view a, std::string_view b);

// Renders a title template from the episode's first alert. Placeholders: {{title}},
// {{description}}, {{severity}}, {{monitor_id}}, {{labels.<name>}}, {{group_key}}; whitespace
// inside the braces is allowed ("{{ title }}"). {{alert_count}} is kept as the literal text
// "{{alert_count}}" so that fill_alert_count can refresh it on every added alert.
std::string render_title_template(std::string_view title_template, const Alert &first_alert,
                                  std::string_view group_key);
std::string fill_alert_count(std::string_view rendered, int64_t alert_count);

// The text hashed into an alert's fingerprint when it has no dedup_key:
// "monitor:<id>|title:<lower-cased, trimmed title>|labels:<n1>=<v1>,<n2>=<v2>" (labels
// sorted by name). The SQL layer hashes it with PostgreSQL's SHA-256. Injective: '\' and
// '|' are backslash-escaped in the id and title, '\', ',' and '=' in label names and values,
// so {"env": "prod,host=a"} and {"env": "prod", "host": "a"} differ. Text without those
// characters is unchanged, so fingerprints of ordinary data are the same as before escaping.
std::string fingerprint_material(std::string_view monitor_id, std::string_view title,
                                 const Labels &labels);
// With a dedup_key the material is "dedup_key:<key>".
std::string dedup_key_material(std::string_view dedup_key);

}  // namespace ag
