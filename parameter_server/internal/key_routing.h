// Which server owns a key: keys hash to a fixed number of virtual buckets and
// buckets map to servers in contiguous ranges. The bucket of a key never
// changes, so rows saved by S servers can be redistributed to S' servers by
// bucket (checkpoints), and every worker routes the same key to the same
// server without talking to anyone.
#pragma once

#include <cstdint>

#include "common/hash.h"

namespace msrec {

inline constexpr int kDefaultNumBuckets = 4096;

// The virtual bucket of `key` in [0, num_buckets). A different mix than the
// initial-value hash, so a server's keys are not correlated with their values.
inline uint32_t VirtualBucket(uint64_t key, int num_buckets) {
  return static_cast<uint32_t>(Mix64(key ^ 0xC2B2AE3D27D4EB4Full) % static_cast<uint64_t>(num_buckets));
}

// The server of `bucket`: buckets [s*B/S, (s+1)*B/S) belong to server s.
inline int BucketServer(uint32_t bucket, int num_buckets, int num_servers) {
  return static_cast<int>(static_cast<uint64_t>(bucket) * num_servers / num_buckets);
}

inline int KeyServer(uint64_t key, int num_buckets, int num_servers) {
  return BucketServer(VirtualBucket(key, num_buckets), num_buckets, num_servers);
}

}  // namespace msrec
