// glibc malloc thresholds for a training or serving process (--malloc_keep_mb).
#pragma once

#include <string>

#include "common/status.h"

namespace msrec {

// glibc returns free memory at the top of a heap to the OS once it exceeds
// M_TRIM_THRESHOLD, and serves large blocks with mmap; both adapt only to
// blocks freed on the main heap. In msrec a step's tensors (MBs each) are
// freed and allocated again every step while the parameter server's and
// RocksDB's threads free memory in their own arenas, so pages went back to the
// OS and were faulted in again each step: with --store rocksdb the compute
// phase took 1.9x its time (docs/training.md, "Memory returned to the OS").
// Fixes M_MMAP_THRESHOLD at 32 MiB (glibc's largest) and M_TRIM_THRESHOLD at
// `keep_mb` MiB (at most 1024), so up to that much free memory is kept for
// reuse. Every thread that allocates may get an arena of its own, each
// keeping that much and its own fragmentation: with the parameter server's
// prefetch and write-behind threads a server's peak RSS grew by 0.4-0.5 GB
// at 10M keys (docs/parameter_server.md), so the arenas are capped at 2
// (M_ARENA_MAX) unless MALLOC_ARENA_MAX is set. Nothing changes when keep_mb <= 0 or when the environment sets
// malloc's thresholds (GLIBC_TUNABLES with glibc.malloc.*, MALLOC_TRIM_THRESHOLD_,
// MALLOC_MMAP_THRESHOLD_): those win. Returns what applies, for the log, or ""
// when keep_mb <= 0.
std::string KeepFreedMemory(int keep_mb);

// A program's --malloc_keep_mb: InvalidArgument below 0; else KeepFreedMemory,
// and what applies is logged ("malloc: ... (--malloc_keep_mb)"). msrec and the
// benchmarks call it once, at start, on every rank.
Status ApplyMallocKeepFlag(int keep_mb);

}  // namespace msrec
