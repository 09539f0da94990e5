#include "engine_latency.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "entry.hpp"
#include "metric_counters.hpp"

extern "C" {
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/float.h"
}

namespace ag::pg {

namespace {

constexpr int kBucketsPerDoubling = 4;
constexpr int kBuckets = 32 * kBucketsPerDoubling;

struct Histogram {
  pg_atomic_uint64 statements, rows, sum_us, max_us;
  pg_atomic_uint64 buckets[kBuckets];
};

Histogram *shared = nullptr;  // server-wide when preloaded
Histogram local;              // this backend otherwise
bool local_ready = false;

shmem_request_hook_type previous_request = nullptr;
shmem_startup_hook_type previous_startup = nullptr;

void init(Histogram *h) {
  pg_atomic_init_u64(&h->statements, 0);
  pg_atomic_init_u64(&h->rows, 0);
  pg_atomic_init_u64(&h->sum_us, 0);
  pg_atomic_init_u64(&h->max_us, 0);
  for (auto &b : h->buckets) pg_atomic_init_u64(&b, 0);
}

void on_shmem_request() {
  if (previous_request) previous_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(Histogram)));
}

void on_shmem_startup() {
  if (previous_startup) previous_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  auto *h = static_cast<Histogram *>(
      ShmemInitStruct("alert_grouping engine latency", sizeof(Histogram), &found));
  if (!found) init(h);
  shared = h;
  LWLockRelease(AddinShmemInitLock);
}

Histogram *histogram() {
  if (shared) return shared;
  if (!local_ready) {
    init(&local);
    local_ready = true;
  }
  return &local;
}

// Bucket i holds [2^(i/4), 2^((i+1)/4)) microseconds.
int bucket_of(int64 us) {
  if (us < 1) return 0;
  int b = int(std::floor(std::log2(double(us)) * kBucketsPerDoubling));
  return b < 0 ? 0 : (b >= kBuckets ? kBuckets - 1 : b);
}

double bucket_mid_ms(int b) { return std::pow(2.0, (b + 0.5) / kBucketsPerDoubling) / 1000.0; }

// The latency below which the given share of statements fell (a bucket's midpoint).
double percentile_ms(const uint64 *counts, uint64 total, double share) {
  if (total == 0) return 0;
  uint64 rank = uint64(std::ceil(share * double(total)));
  uint64 seen = 0;
  for (int b = 0; b < kBuckets; b++) {
    seen += counts[b];
    if (seen >= rank) return bucket_mid_ms(b);
  }
  return bucket_mid_ms(kBuckets - 1);
}

}  // namespace

void register_engine_latency() {
  if (!process_shared_preload_libraries_in_progress) return;
  previous_request = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  previous_startup = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
}

int64 monotonic_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void record_engine_latency(int64 elapsed_us, int64 rows) {
  count_event(Counter::AlertsIngested, rows);
  Histogram *h = histogram();
  pg_atomic_fetch_add_u64(&h->statements, 1);
  pg_atomic_fetch_add_u64(&h->rows, uint64(rows));
  pg_atomic_fetch_add_u64(&h->sum_us, uint64(elapsed_us));
  pg_atomic_fetch_add_u64(&h->buckets[bucket_of(elapsed_us)], 1);
  uint64 max = pg_atomic_read_u64(&h->max_us);
  while (uint64(elapsed_us) > max &&
         !pg_atomic_compare_exchange_u64(&h->max_us, &max, uint64(elapsed_us))) {
  }
}

}  // namespace ag::pg

using namespace ag::pg;

AG_FUNCTION(ag_engine_latency) {
  Histogram *h = histogram();
  uint64 counts[kBuckets], total = 0;
  for (int b = 0; b < kBuckets; b++) total += counts[b] = pg_atomic_read_u64(&h->buckets[b]);
  TupleDesc desc;
  if (pg_call([&] { return get_call_result_type(fcinfo, nullptr, &desc); }) != TYPEFUNC_COMPOSITE)
    throw PgError(ERRCODE_INTERNAL_ERROR, "engine_latency must return a record", "", "");
  // A bucket's midpoint may lie above the largest time seen: percentiles never exceed it.
  double max_ms = double(pg_atomic_read_u64(&h->max_us)) / 1000.0;
  Datum values[6] = {Int64GetDatum(int64(pg_atomic_read_u64(&h->statements))),
                     Int64GetDatum(int64(pg_atomic_read_u64(&h->rows))),
                     Float8GetDatum(std::min(percentile_ms(counts, total, 0.5), max_ms)),
                     Float8GetDatum(std::min(percentile_ms(counts, total, 0.99), max_ms)),
                     Float8GetDatum(max_ms),
                     BoolGetDatum(shared != nullptr)};
  bool nulls[6] = {false, false, total == 0, total == 0, total == 0, false};
  return pg_call(
      [&] { return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)); });
}

AG_FUNCTION(ag_reset_engine_latency) {
  Histogram *h = histogram();
  pg_atomic_write_u64(&h->statements, 0);
  pg_atomic_write_u64(&h->rows, 0);
  pg_atomic_write_u64(&h->sum_us, 0);
  pg_atomic_write_u64(&h->max_us, 0);
  for (auto &b : h->buckets) pg_atomic_write_u64(&b, 0);
  PG_RETURN_VOID();
}

// The histogram in Prometheus's shape: cumulative counts at bounds that are bucket edges
// (4^k microseconds, 16 us to 4.2 s, then +Inf), so every count is exact; the sum and count.
AG_FUNCTION(ag_engine_latency_histogram) {
  Histogram *h = histogram();
  constexpr int kBounds = 11;
  Datum bounds[kBounds], counts[kBounds];
  uint64 cumulative = 0;
  int b = 0;
  for (int k = 0; k < kBounds; k++) {
    // Bound k: 4^(k+2) microseconds, the lower edge of bucket 8 * (k + 2).
    int edge = k == kBounds - 1 ? kBuckets : 8 * (k + 2);
    for (; b < edge && b < kBuckets; b++) cumulative += pg_atomic_read_u64(&h->buckets[b]);
    bounds[k] =
        Float8GetDatum(k == kBounds - 1 ? get_float8_infinity() : std::pow(4.0, k + 2) / 1000000.0);
    counts[k] = Int64GetDatum(int64(cumulative));
  }
  TupleDesc desc;
  if (pg_call([&] { return get_call_result_type(fcinfo, nullptr, &desc); }) != TYPEFUNC_COMPOSITE)
    throw PgError(ERRCODE_INTERNAL_ERROR, "engine_latency_histogram must return a record", "", "");
  Datum values[4];
  values[0] = pg_call([&] {
    return PointerGetDatum(
        construct_array(bounds, kBounds, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
  values[1] = pg_call([&] {
    return PointerGetDatum(
        construct_array(counts, kBounds, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
  values[2] = Float8GetDatum(double(pg_atomic_read_u64(&h->sum_us)) / 1000000.0);
  values[3] = Int64GetDatum(int64(pg_atomic_read_u64(&h->statements)));
  bool nulls[4] = {false, false, false, false};
  return pg_call(
      [&] { return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)); });
}
