// How much any row-cache policy could save on ps_remote_bench's scale part
// (docs/parameter_server.md, "What the 72-74% hit rate counts"). Draws the
// bench's batches (--draws Zipf draws over --keys ranks, de-duplicated, as
// MakeZipfBatch) and prints, per step's distinct keys:
// - the share among the --cache_rows most frequent keys: what a cache that
//   always held exactly those rows would hit (the best policy without
//   knowledge of the future draws, the draws being independent);
// - the hit rate of a CLOCK cache of --cache_rows rows (one reference bit, as
//   the row cache's shards: cached_store.h; --clock_max n > 1: a counter a
//   hit raises to n and the hand lowers), after --steps/2 warm-up steps;
// - with --admission, the hit rate of the same CLOCK cache behind a
//   TinyLFU admission filter: each step's distinct keys raise their counts in
//   a count-min sketch (4 rows of 4-bit counters, 8 per cached row, all
//   halved every 10 x cache_rows increments), and a missed key replaces
//   CLOCK's victim only if its estimated count is higher than the victim's;
//   otherwise it is served for its step and not cached. The row cache must
//   hold a step's rows until its push (cached_store.h), so a real admission
//   filter needs a holding area for the rows it does not admit: --hold_rows
//   takes its size out of the admitted cache's --cache_rows.
// No server, no store: a model of the cache alone.
//
//   build/bench/zipf_cache_bound --keys 50000000 --zipf 0.8 --cache_rows 932064
#include <gflags/gflags.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "bench/ps_remote_bench.h"
#include "common/hash.h"

DEFINE_uint64(keys, 50000000, "Keys in the table (Zipf ranks)");
DEFINE_double(zipf, 0.8, "Zipf exponent (ps_remote_bench --zipf)");
DEFINE_uint64(draws, 4096 * 26, "Draws per step (ps_remote_bench --batch_rows x --fields)");
DEFINE_uint64(cache_rows, 932064, "Rows the cache holds (a server's cache_rows statistic)");
DEFINE_int32(steps, 300, "Steps drawn; the second half is counted");
DEFINE_int32(clock_max, 1, "CLOCK's reference count limit: 1 is one reference bit; n > 1 a "
                           "counter a hit raises (to n) and the hand lowers, frequency-aware");
DEFINE_bool(admission, false, "Also model TinyLFU admission in front of the CLOCK cache");
DEFINE_uint64(hold_rows, 0, "--admission: rows of --cache_rows kept as the holding area for "
                            "the rows of a step that are not admitted");

namespace {

// Count-min sketch of 4-bit counters (TinyLFU's, without the doorkeeper).
class FrequencySketch {
 public:
  explicit FrequencySketch(uint64_t rows) {
    width_ = 1;
    while (width_ < 8 * rows) width_ <<= 1;
    counts_.assign(4 * width_, 0);
    reset_after_ = 10 * rows;
  }
  void Add(uint64_t key) {
    for (int i = 0; i < 4; ++i) {
      uint8_t& c = counts_[i * width_ + Slot(key, i)];
      if (c < 15) ++c;
    }
    if (++added_ >= reset_after_) {
      for (uint8_t& c : counts_) c >>= 1;
      added_ /= 2;
    }
  }
  int Estimate(uint64_t key) const {
    int e = 15;
    for (int i = 0; i < 4; ++i) e = std::min<int>(e, counts_[i * width_ + Slot(key, i)]);
    return e;
  }

 private:
  // Row i hashes the key shifted by i golden-ratio steps.
  uint64_t Slot(uint64_t key, int i) const {
    return msrec::Mix64(key + 0x9e3779b97f4a7c15ULL * i) & (width_ - 1);
  }
  uint64_t width_;
  std::vector<uint8_t> counts_;
  uint64_t reset_after_;
  uint64_t added_ = 0;
};

// A CLOCK cache of `capacity` ranks; with a sketch, TinyLFU admission.
class ClockModel {
 public:
  ClockModel(uint64_t keys, uint64_t capacity, int clock_max, FrequencySketch* sketch)
      : slot_of_(keys, -1), capacity_(capacity), clock_max_(clock_max), sketch_(sketch) {}

  // Looks up `r` (once per step); true on a hit.
  bool Access(uint64_t r) {
    if (sketch_ != nullptr) sketch_->Add(r);
    if (slot_of_[r] >= 0) {
      uint8_t& ref = referenced_[slot_of_[r]];
      if (ref < clock_max_) ++ref;
      return true;
    }
    if (slot_rank_.size() < capacity_) {
      slot_of_[r] = static_cast<int32_t>(slot_rank_.size());
      slot_rank_.push_back(r);
      referenced_.push_back(0);
      return false;
    }
    for (;; hand_ = (hand_ + 1) % slot_rank_.size()) {
      if (!referenced_[hand_]) break;
      --referenced_[hand_];
    }
    if (sketch_ != nullptr && sketch_->Estimate(r) <= sketch_->Estimate(slot_rank_[hand_])) {
      return false;  // not admitted: the victim stays, the hand waits on it
    }
    slot_of_[slot_rank_[hand_]] = -1;
    slot_rank_[hand_] = r;
    slot_of_[r] = static_cast<int32_t>(hand_);
    hand_ = (hand_ + 1) % slot_rank_.size();
    return false;
  }

 private:
  std::vector<int32_t> slot_of_;  // rank -> slot
  std::vector<uint64_t> slot_rank_;
  std::vector<uint8_t> referenced_;
  size_t hand_ = 0;
  uint64_t capacity_;
  int clock_max_;
  FrequencySketch* sketch_;
};

}  // namespace

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_hold_rows >= FLAGS_cache_rows) {
    std::fprintf(stderr, "--hold_rows must be less than --cache_rows\n");
    return 2;
  }
  if (FLAGS_clock_max < 1 || FLAGS_clock_max > 255) {
    std::fprintf(stderr, "--clock_max must be in 1..255, got %d\n", FLAGS_clock_max);
    return 2;
  }
  const msrec::bench::ZipfRanks zipf(FLAGS_keys, FLAGS_zipf);
  std::mt19937_64 rng(11);
  ClockModel clock(FLAGS_keys, FLAGS_cache_rows, FLAGS_clock_max, nullptr);
  std::unique_ptr<FrequencySketch> sketch;  // 32 MiB at the default --cache_rows: only if asked
  std::unique_ptr<ClockModel> admitted;
  if (FLAGS_admission) {
    sketch = std::make_unique<FrequencySketch>(FLAGS_cache_rows);
    admitted = std::make_unique<ClockModel>(FLAGS_keys, FLAGS_cache_rows - FLAGS_hold_rows,
                                            FLAGS_clock_max, sketch.get());
  }
  uint64_t counted = 0, top_hits = 0, clock_hits = 0, admitted_hits = 0;
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
      clock_hits += clock.Access(r) && count;
      if (admitted) admitted_hits += admitted->Access(r) && count;
    }
  }
  const double steps = FLAGS_steps - FLAGS_steps / 2;
  std::printf("distinct keys per step            %.0f\n", counted / steps);
  std::printf("share among the %llu most frequent  %.3f\n",
              static_cast<unsigned long long>(FLAGS_cache_rows),
              static_cast<double>(top_hits) / counted);
  std::printf("CLOCK cache of as many rows: hits %.3f\n",
              static_cast<double>(clock_hits) / counted);
  if (admitted) {
    std::printf("CLOCK + TinyLFU admission: hits   %.3f\n",
                static_cast<double>(admitted_hits) / counted);
  }
  return 0;
}
