#include "common/malloc_settings.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <glog/logging.h>

namespace msrec {

std::string KeepFreedMemory(int keep_mb) {
  if (keep_mb <= 0) return "";
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) ||
      std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr) {
    return "the environment's (GLIBC_TUNABLES / MALLOC_*_)";
  }
  constexpr int kMaxArenas = 2;
  constexpr int kMmapThreshold = 32 << 20;  // glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
  const int keep = std::min(keep_mb, 1024);
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1 ||
      mallopt(M_TRIM_THRESHOLD, keep << 20) != 1) {
    return "glibc's defaults (mallopt refused the settings)";
  }
  std::string applied = "M_TRIM_THRESHOLD " + std::to_string(keep) + " MiB, M_MMAP_THRESHOLD 32 MiB";
  // Each arena keeps up to the threshold (and its own fragmentation): cap
  // their number so the kept memory stays about 2 x keep_mb (malloc_settings.h).
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr && mallopt(M_ARENA_MAX, kMaxArenas) == 1) {
    applied += ", M_ARENA_MAX " + std::to_string(kMaxArenas);
  }
  return applied;
}

Status ApplyMallocKeepFlag(int keep_mb) {
  if (keep_mb < 0) {
    return Status::InvalidArgument("--malloc_keep_mb must be >= 0, got " + std::to_string(keep_mb));
  }
  const std::string applied = KeepFreedMemory(keep_mb);
  if (!applied.empty()) LOG(INFO) << "malloc: " << applied << " (--malloc_keep_mb)";
  return Status::OK();
}

}  // namespace msrec
