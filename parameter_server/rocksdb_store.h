// The RocksDB EmbeddingStore: one column family per table, keys as 8-byte
// big-endian integers (so RocksDB's byte order is numeric order), rows as
// values. The settings and the reason for each are in docs/parameter_server.md.
// RocksDB headers stay inside rocksdb_store.cc.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "parameter_server/embedding_store.h"

namespace msrec {

struct RocksDbStoreOptions {
  // Create the database directory if it does not exist; else opening a
  // missing database is an IoError. Default: true.
  bool create_if_missing = true;
  // Memtable size per column family (one table). Large memtables absorb the
  // rewrite of hot rows before they reach an SST file. Default: 256 MiB.
  size_t write_buffer_bytes = size_t{256} << 20;
  // Memtables per column family (one active, the rest flushing). Default: 3.
  int max_write_buffer_number = 3;
  // Shared LRU block cache for all tables (uncompressed blocks). Default: 512 MiB.
  size_t block_cache_bytes = size_t{512} << 20;
  // SST block size. Rows are ~100 B to ~1 KiB and every read is a point
  // lookup that loads (and caches) one whole block, so blocks stay small: less
  // block cache spent on cold neighbours of a hot row. Default: 4 KiB.
  size_t block_size = size_t{4} << 10;
  // Bloom filter bits per key (about 1% false positives at 10): a lookup of a
  // key that was never written skips every SST file. 0 disables. Default: 10.
  int bloom_bits_per_key = 10;
  // Whole-key bloom filter in each memtable (2% of its size): a lookup of a
  // key that is not in the memtable skips the skip-list search. Default: true.
  bool memtable_bloom = true;
  // Partitioned index and filter blocks (kTwoLevelIndexSearch +
  // partition_filters): each SST's index and bloom filter are cut into 4 KiB
  // partitions loaded on demand, with the small top-level index pinned, and
  // all of them kept in the block cache's high-priority pool (half of it), so
  // that data blocks of a table much larger than the cache cannot evict them.
  // Off: one full index and one full filter block per SST (hundreds of KB
  // each at 50M keys), in the block cache at normal priority. Default: false:
  // at 50M keys behind a 256 MiB row cache the full blocks hit the block
  // cache 99% of the time and the partitioned layout was slower (0.05 vs 0.06
  // M keys/s; docs/parameter_server.md).
  bool partitioned_index_filters = false;
  // Pin every SST's (unpartitioned) index and filter blocks in the block cache
  // (MetadataCacheOptions::unpartitioned_pinning = kAll), not only L0's: a
  // full filter block that data blocks pushed out is read again whole (MBs
  // for a large SST) by the next lookup that needs it. They stay inside the
  // block cache's capacity, so the memory budget still bounds them.
  // Default: true (docs/parameter_server.md, "RocksDB settings").
  bool pin_index_filters = true;
  // Keep the data blocks that point reads (MultiGet) load in the block cache
  // (ReadOptions::fill_cache). Behind the row cache, a data block is read
  // again only for another cold row of its ~18: false skips the block
  // cache's insert and eviction on every miss, so the block cache holds the
  // index and filter blocks. Default: false: at 50M keys behind a 256 MiB row
  // cache the server's peak RSS fell from 1.00 to 0.69 GB (settled table) and
  // from 1.54 to 1.21 GB (right after the fill) at the same or a better step
  // rate, and training under a 256 MiB budget ran 1.05x faster on 50 MiB less
  // (docs/parameter_server.md, "Compaction debt, measured").
  bool cache_data_blocks = false;
  // Verify each data block's checksum when a point read (MultiGet) loads it
  // (ReadOptions::verify_checksums). Default: true.
  bool verify_read_checksums = true;
  // Read SST files through mmap (DBOptions::allow_mmap_reads) instead of a
  // pread per data block: an uncompressed block is used where it lies in the
  // page cache, without a system call or a copy. The mapped pages a process
  // has touched count in its RSS (as file-backed, reclaimable pages: RssFile,
  // not RssAnon), so the peak RSS no longer follows the memory budget. Default:
  // false: 1.2x faster 50M-key steps, peak RSS 2.5-16.8 GB against 0.9
  // (docs/parameter_server.md, "Reads through mmap, measured").
  bool mmap_reads = false;
  // Run compactions (RocksDB's low-priority thread pool, process-wide) at the
  // lowest CPU priority (SCHED_IDLE), so that on a machine with few cores they
  // take what the trainer, the server's request and prefetch threads leave
  // idle. Flushes keep their priority. Default: true: training under a 256
  // MiB budget ran 1.09x faster, the 50M-key steps 1.1-1.2x (a table whose
  // compactions keep up: 0.41 against 0.34-0.36 M keys/s per server); right
  // after a 50M-key fill, whose compaction debt is larger than the idle CPU,
  // writers stalled 161 s (docs/parameter_server.md, "Compaction debt").
  bool low_priority_compaction = true;
  // Compaction inputs are read this many bytes at a time
  // (DBOptions::compaction_readahead_size). SST files are opened for random
  // access (POSIX_FADV_RANDOM: no kernel readahead), so without it a
  // compaction reads its inputs one 4 KiB block per system call. 0: RocksDB's
  // default. Default: 0.
  size_t compaction_readahead_bytes = 0;
  // Universal (tiered) compaction instead of leveled: a row written back at a
  // random key is rewritten fewer times on its way down (less write
  // amplification, the largest part of a server's background CPU), at the
  // cost of a larger worst-case space amplification and more sorted runs per
  // lookup (each behind a bloom filter). Default: true:
  // at 10M keys behind a 256 MiB row cache the servers' steps ran at 0.10 and
  // 0.13 M keys/s against 0.10 and 0.09 leveled, on 18% less CPU and 10% less
  // disk (docs/parameter_server.md, "Compaction style, measured").
  bool universal_compaction = true;
  // Universal compaction: sorted runs that accumulate before a compaction
  // (level0_file_num_compaction_trigger). Runs of about the same size are
  // merged together once this many exist, so it is the tiers' fan-out: each
  // row is rewritten about log_n(data / memtable) times instead of log_2 at
  // RocksDB's 4 (merges of 2-4 runs), at the cost of up to n sorted runs per
  // point read (each behind a pinned bloom filter). Write slowdown and stop
  // stay above it. Default: 4 (RocksDB's).
  int universal_sorted_runs = 4;
  // RocksDB statistics (tickers only, no timers): the statistics line reports
  // the block-cache hits and misses of data, index and filter blocks and the
  // bloom filter's skips. Default: true.
  bool statistics = true;
  // Background flush and compaction threads. Default: 4.
  int max_background_jobs = 4;
  // Write-ahead log. Off by default: durability comes from checkpoints (Flush
  // then a RocksDB checkpoint), and a crash restarts from the last checkpoint
  // anyway, so the WAL would only cost write bandwidth. Default: false.
  bool enable_wal = false;
  // Open an existing database (e.g. a checkpoint) read-only: writes fail and
  // nothing in the directory changes. Default: false.
  bool read_only = false;
};

// Opens (or creates) the database at `path`. An existing database is reopened
// with all its column families, so its tables and rows are back. Errors name
// the path. Thread safety: the returned store is safe for concurrent calls.
// Destroying the store flushes the memtables (errors are logged) and closes it.
Result<std::unique_ptr<EmbeddingStore>> OpenRocksDbStore(const std::string& path,
                                                         const RocksDbStoreOptions& options = {});

// RocksDB's compaction debt: what it estimates it still has to rewrite, over
// every table (estimate-pending-compaction-bytes; leveled compaction only,
// universal compaction reports 0), the tables whose compaction picker wants a
// compaction now (compaction-pending), and the compactions running.
struct CompactionDebt {
  uint64_t pending_bytes = 0;
  uint64_t tables_pending = 0;
  uint64_t running = 0;
};
// The debt of a store OpenRocksDbStore returned; InvalidArgument for another store.
Result<CompactionDebt> RocksDbCompactionDebt(const EmbeddingStore& store);

}  // namespace msrec
