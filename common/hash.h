// Stable 64-bit hashing. Feature keys are persisted (embedding rows, shards),
// so these functions must never change their output: hash_test pins values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace msrec {

// splitmix64 finaliser: a bijection on 64-bit integers with good avalanche.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// 64-bit hash of bytes with a seed (MurmurHash64A).
uint64_t Hash64(const void* data, size_t len, uint64_t seed);
inline uint64_t Hash64(std::string_view s, uint64_t seed = 0) {
  return Hash64(s.data(), s.size(), seed);
}

// The id of a field (column) name; mixed into every key of that field.
inline uint64_t FieldSeed(std::string_view field_name) {
  return Hash64(field_name, 0x6D73726563ULL /* "msrec" */);
}

// The embedding key of categorical value `value` in the field with seed `field_seed`.
inline uint64_t FeatureKey(uint64_t field_seed, std::string_view value) {
  return Hash64(value, field_seed);
}

// CRC-32C (Castagnoli) of a buffer; `crc` continues a previous result.
uint32_t Crc32c(const void* data, size_t len, uint32_t crc = 0);

}  // namespace msrec
