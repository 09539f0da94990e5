#include "values.hpp"

#include "grouping.hpp"
#include "guard.hpp"

namespace ag::pg {

Uuid Uuid::from_datum(Datum d) {
  Uuid u;
  std::memcpy(u.bytes.data(), DatumGetUUIDP(d)->data, UUID_LEN);
  return u;
}

Uuid Uuid::random() {
  return from_datum(pg_call([] { return DirectFunctionCall1(gen_random_uuid, 0); }));
}

Datum Uuid::to_datum() const {
  auto *u = static_cast<pg_uuid_t *>(pg_call([] { return palloc(sizeof(pg_uuid_t)); }));
  std::memcpy(u->data, bytes.data(), UUID_LEN);
  return UUIDPGetDatum(u);
}

std::string Uuid::text() const {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < UUID_LEN; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[bytes[i] >> 4]);
    out.push_back(hex[bytes[i] & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::string_view text) {
  uint8 digest[PG_SHA256_DIGEST_LENGTH];
  bool ok = pg_call([&] {
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    bool fine =
        pg_cryptohash_init(ctx) == 0 &&
        pg_cryptohash_update(ctx, reinterpret_cast<const uint8 *>(text.data()), text.size()) == 0 &&
        pg_cryptohash_final(ctx, digest, sizeof digest) == 0;
    pg_cryptohash_free(ctx);
    return fine;
  });
  if (!ok) throw PgError(ERRCODE_INTERNAL_ERROR, "could not compute SHA-256 hash", "", "");
  static const char hex[] = "0123456789abcdef";
  std::string out(2 * PG_SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 0xf];
  }
  return out;
}

std::string alert_fingerprint(const std::string &monitor, const std::string &title,
                              const ag::Labels &labels) {
  return sha256_hex(ag::fingerprint_material(monitor, title, labels));
}

namespace {

std::string scalar_text(const JsonbValue &v) {
  switch (v.type) {
    case jbvString:
      return std::string(v.val.string.val, v.val.string.len);
    case jbvNumeric:
      return pg_call([&] {
        return std::string(
            DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric))));
      });
    case jbvBool:
      return v.val.boolean ? "true" : "false";
    case jbvNull:
      return "";
    case jbvBinary:
      return pg_call([&] {
        return std::string(JsonbToCString(nullptr, v.val.binary.data, v.val.binary.len));
      });
    default:
      return "";
  }
}

}  // namespace

Labels labels_from_jsonb(Jsonb *jsonb) {
  Labels labels;
  if (!JB_ROOT_IS_OBJECT(jsonb)) return labels;
  JsonbIterator *it = pg_call([&] { return JsonbIteratorInit(&jsonb->root); });
  JsonbValue v;
  JsonbIteratorToken token;
  std::string key;
  // skipNested keeps values flat; the iterator allocates, so it may raise.
  while ((token = pg_call([&] { return JsonbIteratorNext(&it, &v, true); })) != WJB_DONE) {
    if (token == WJB_KEY) {
      key.assign(v.val.string.val, v.val.string.len);
    } else if (token == WJB_VALUE) {
      labels.set(key, scalar_text(v));
    }
  }
  return labels;
}

std::string text_from_datum(Datum d) {
  text *t = pg_call([&] { return DatumGetTextPP(d); });
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

namespace {

template <typename Fill>
Datum build_array(size_t n, Oid element_type, int16 len, bool byval, char align,
                  const std::vector<bool> *nulls, Fill fill) {
  return pg_call([&] {
    Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (n ? n : 1)));
    bool *isnull = static_cast<bool *>(palloc(sizeof(bool) * (n ? n : 1)));
    for (size_t i = 0; i < n; i++) {
      isnull[i] = nulls != nullptr && (*nulls)[i];
      elems[i] = isnull[i] ? (Datum)0 : fill(i);
    }
    int dims[1] = {static_cast<int>(n)};
    int lbs[1] = {1};
    return PointerGetDatum(
        construct_md_array(elems, isnull, 1, dims, lbs, element_type, len, byval, align));
  });
}

}  // namespace

Datum uuid_array(const std::vector<Uuid> &values) {
  return build_array(values.size(), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, nullptr,
                     [&](size_t i) { return values[i].to_datum(); });
}

Datum text_array(const std::vector<std::string> &values) {
  return build_array(values.size(), TEXTOID, -1, false, TYPALIGN_INT, nullptr, [&](size_t i) {
    return PointerGetDatum(cstring_to_text_with_len(values[i].data(), values[i].size()));
  });
}

Datum int4_array(const std::vector<int32> &values) {
  return build_array(values.size(), INT4OID, 4, true, TYPALIGN_INT, nullptr,
                     [&](size_t i) { return Int32GetDatum(values[i]); });
}

Datum float8_array(const std::vector<double> &values, const std::vector<bool> &nulls) {
  return build_array(values.size(), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &nulls,
                     [&](size_t i) { return Float8GetDatum(values[i]); });
}

Datum timestamptz_array(const std::vector<TimestampTz> &values) {
  return build_array(values.size(), TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, nullptr,
                     [&](size_t i) { return TimestampTzGetDatum(values[i]); });
}

Datum bool_array(const std::vector<bool> &values) {
  return build_array(values.size(), BOOLOID, 1, true, TYPALIGN_CHAR, nullptr,
                     [&](size_t i) { return BoolGetDatum(values[i]); });
}

std::vector<Uuid> uuids_from_array(Datum array) {
  std::vector<Uuid> out;
  Datum *elems = nullptr;
  bool *nulls = nullptr;
  int n = 0;
  pg_call([&] {
    deconstruct_array(DatumGetArrayTypeP(array), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &elems,
                      &nulls, &n);
  });
  for (int i = 0; i < n; i++)
    if (!nulls[i]) out.push_back(Uuid::from_datum(elems[i]));
  return out;
}

std::vector<std::string> texts_from_array(Datum array, std::vector<bool> *null_elements) {
  std::vector<std::string> out;
  Datum *elems = nullptr;
  bool *nulls = nullptr;
  int n = 0;
  pg_call([&] {
    deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
                      &n);
  });
  for (int i = 0; i < n; i++) {
    out.push_back(nulls[i] ? std::string() : text_from_datum(elems[i]));
    if (null_elements) null_elements->push_back(nulls[i]);
  }
  return out;
}

std::string jsonb_text(Datum d) {
  return pg_call([&] {
    Jsonb *jb = DatumGetJsonbP(d);
    return std::string(JsonbToCString(nullptr, &jb->root, VARSIZE(jb)));
  });
}

Datum text_datum(const std::string &value) {
  return pg_call(
      [&] { return PointerGetDatum(cstring_to_text_with_len(value.data(), int(value.size()))); });
}

}  // namespace ag::pg
