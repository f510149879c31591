// Deterministic random numbers for the synthetic generator: our own RNG and
// samplers, so that output is identical across standard libraries.
#pragma once

#include <cstdint>

#include "common/hash.h"

namespace msrec {

// splitmix64 stream. Not thread-safe; cheap to create one per row.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return Mix64(state_);
  }
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller).
  double Normal();

 private:
  uint64_t state_;
};

// A standard normal that is a pure function of `h` (no table needed).
double HashNormal(uint64_t h);

// Zipf(s) on ranks 1..n, P(k) ~ k^-s, by rejection-inversion (Hörmann and
// Derflinger 1996): O(1) expected per draw for any n. Immutable; thread-safe.
class ZipfSampler {
 public:
  // n >= 1, s > 0.
  ZipfSampler(uint64_t n, double s);
  uint64_t Sample(SplitMix64* rng) const;

 private:
  double H(double x) const;
  double HIntegral(double x) const;
  double HIntegralInverse(double x) const;

  uint64_t n_;
  double s_;
  double h_integral_x1_;
  double h_integral_n_;
  double s_threshold_;
};

}  // namespace msrec
