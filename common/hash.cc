#include "common/hash.h"

#include <array>
#include <cstring>

namespace msrec {

uint64_t Hash64(const void* data, size_t len, uint64_t seed) {
  const uint64_t m = 0xc6a4a7935bd1e995ULL;
  const int r = 47;
  uint64_t h = seed ^ (len * m);
  const unsigned char* p = static_cast<const unsigned char*>(data);
  const unsigned char* end = p + (len / 8) * 8;
  for (; p != end; p += 8) {
    uint64_t k;
    std::memcpy(&k, p, 8);
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  switch (len & 7) {
    case 7: h ^= uint64_t(p[6]) << 48; [[fallthrough]];
    case 6: h ^= uint64_t(p[5]) << 40; [[fallthrough]];
    case 5: h ^= uint64_t(p[4]) << 32; [[fallthrough]];
    case 4: h ^= uint64_t(p[3]) << 24; [[fallthrough]];
    case 3: h ^= uint64_t(p[2]) << 16; [[fallthrough]];
    case 2: h ^= uint64_t(p[1]) << 8; [[fallthrough]];
    case 1: h ^= uint64_t(p[0]); h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

namespace {
std::array<std::array<uint32_t, 256>, 8> MakeCrcTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}
const std::array<std::array<uint32_t, 256>, 8> kCrc = MakeCrcTables();
}  // namespace

uint32_t Crc32c(const void* data, size_t len, uint32_t crc) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (len >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    v ^= crc;
    crc = kCrc[7][v & 0xFF] ^ kCrc[6][(v >> 8) & 0xFF] ^ kCrc[5][(v >> 16) & 0xFF] ^
          kCrc[4][(v >> 24) & 0xFF] ^ kCrc[3][(v >> 32) & 0xFF] ^ kCrc[2][(v >> 40) & 0xFF] ^
          kCrc[1][(v >> 48) & 0xFF] ^ kCrc[0][v >> 56];
    p += 8;
    len -= 8;
  }
  while (len--) crc = (crc >> 8) ^ kCrc[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

}  // namespace msrec
