// How much any row-cache policy could save on ps_remote_bench's scale part
// (docs/parameter_server.md, "What the 72-74% hit rate counts"). Draws the
// bench's batches (--draws Zipf draws over --keys ranks, de-duplicated, as
// MakeZipfBatch) and prints, per step's distinct keys:
// - the share among the --cache_rows most frequent keys: what a cache that
//   always held exactly those rows would hit (the best policy without
//   knowledge of the future draws, the draws being independent);
// - the hit rate of a CLOCK cache of --cache_rows rows (one reference bit, as
//   the row cache's shards: cached_store.h; --clock_max n > 1: a counter a
//   hit raises to n and the hand lowers), after --steps/2 warm-up steps.
// No server, no store: a model of the cache alone.
//
//   build/bench/zipf_cache_bound --keys 50000000 --zipf 0.8 --cache_rows 932064
#include <gflags/gflags.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/ps_remote_bench.h"

DEFINE_uint64(keys, 50000000, "Keys in the table (Zipf ranks)");
DEFINE_double(zipf, 0.8, "Zipf exponent (ps_remote_bench --zipf)");
DEFINE_uint64(draws, 4096 * 26, "Draws per step (ps_remote_bench --batch_rows x --fields)");
DEFINE_uint64(cache_rows, 932064, "Rows the cache holds (a server's cache_rows statistic)");
DEFINE_int32(steps, 300, "Steps drawn; the second half is counted");
DEFINE_int32(clock_max, 1, "CLOCK's reference count limit: 1 is one reference bit; n > 1 a "
                           "counter a hit raises (to n) and the hand lowers, frequency-aware");

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_clock_max < 1 || FLAGS_clock_max > 255) {
    std::fprintf(stderr, "--clock_max must be in 1..255, got %d\n", FLAGS_clock_max);
    return 2;
  }
  const msrec::bench::ZipfRanks zipf(FLAGS_keys, FLAGS_zipf);
  std::mt19937_64 rng(11);
  std::vector<int32_t> slot_of(FLAGS_keys, -1);  // rank -> CLOCK slot
  std::vector<uint64_t> slot_rank;
  std::vector<uint8_t> referenced;
  size_t hand = 0;
  uint64_t counted = 0, top_hits = 0, clock_hits = 0;
  std::vector<uint64_t> ranks(FLAGS_draws);
  for (int step = 0; step < FLAGS_steps; ++step) {
    ranks.resize(FLAGS_draws);
    for (uint64_t& r : ranks) r = zipf(rng);
    std::sort(ranks.begin(), ranks.end());
    ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
    const bool count = step >= FLAGS_steps / 2;
    for (const uint64_t r : ranks) {
      if (count) {
        ++counted;
        top_hits += r < FLAGS_cache_rows;
      }
      if (slot_of[r] >= 0) {
        clock_hits += count;
        uint8_t& ref = referenced[slot_of[r]];
        if (ref < FLAGS_clock_max) ++ref;
        continue;
      }
      if (slot_rank.size() < FLAGS_cache_rows) {
        slot_of[r] = static_cast<int32_t>(slot_rank.size());
        slot_rank.push_back(r);
        referenced.push_back(0);
        continue;
      }
      for (;; hand = (hand + 1) % slot_rank.size()) {
        if (!referenced[hand]) break;
        --referenced[hand];
      }
      slot_of[slot_rank[hand]] = -1;
      slot_rank[hand] = r;
      slot_of[r] = static_cast<int32_t>(hand);
      hand = (hand + 1) % slot_rank.size();
    }
  }
  const double steps = FLAGS_steps - FLAGS_steps / 2;
  std::printf("distinct keys per step            %.0f\n", counted / steps);
  std::printf("share among the %llu most frequent  %.3f\n",
              static_cast<unsigned long long>(FLAGS_cache_rows),
              static_cast<double>(top_hits) / counted);
  std::printf("CLOCK cache of as many rows: hits %.3f\n",
              static_cast<double>(clock_hits) / counted);
  return 0;
}
