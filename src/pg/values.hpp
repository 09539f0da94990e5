// Conversions between PostgreSQL datums and the engine's C++ values.
#pragma once

#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "alert.hpp"
#include "pg_headers.hpp"

namespace ag::pg {

struct Uuid {
  std::array<unsigned char, UUID_LEN> bytes{};
  bool operator<(const Uuid &o) const { return bytes < o.bytes; }
  bool operator==(const Uuid &o) const { return bytes == o.bytes; }
  bool operator!=(const Uuid &o) const { return bytes != o.bytes; }
  static Uuid from_datum(Datum d);
  static Uuid random();      // PostgreSQL's gen_random_uuid()
  Datum to_datum() const;    // palloc'd pg_uuid_t
  std::string text() const;  // canonical lower-case form
};

struct UuidHash {
  size_t operator()(const Uuid &u) const {
    size_t h;
    std::memcpy(&h, u.bytes.data(), sizeof h);
    return h;
  }
};

// SHA-256 of text as 64 lower-case hex digits, with PostgreSQL's own implementation.
std::string sha256_hex(std::string_view text);

// An alert's fingerprint: SHA-256 of its monitor, title and labels (grouping.hpp's material).
std::string alert_fingerprint(const std::string &monitor, const std::string &title,
                              const ag::Labels &labels);

// The labels of an alert: a jsonb object whose scalar values become strings; nested values
// keep their JSON text.
Labels labels_from_jsonb(Jsonb *jsonb);

std::string text_from_datum(Datum d);
std::string jsonb_text(Datum d);  // a jsonb datum's text

// One-dimensional arrays for SPI parameters.
Datum uuid_array(const std::vector<Uuid> &values);
Datum text_array(const std::vector<std::string> &values);
Datum text_datum(const std::string &value);  // palloc'd text
Datum int4_array(const std::vector<int32> &values);
Datum float8_array(const std::vector<double> &values, const std::vector<bool> &nulls);
Datum timestamptz_array(const std::vector<TimestampTz> &values);
Datum bool_array(const std::vector<bool> &values);

// Reads a uuid[] datum.
std::vector<Uuid> uuids_from_array(Datum array);

// Reads a text[] datum; a NULL element is "" (and true in null_elements when given).
std::vector<std::string> texts_from_array(Datum array, std::vector<bool> *null_elements = nullptr);

}  // namespace ag::pg
