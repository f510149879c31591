// Internal to the ps_remote_bench program (bench/ps_remote_bench*.cc): its
// flags, key generation, timing and the report it prints. Not a library.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/status.h"
#include "parameter_server/embedding_store.h"
#include "parameter_server/ps_server.h"
#include "parameter_server/rocksdb_store.h"
#include "parameter_server/table_config.h"

namespace msrec {
namespace bench {

// Command-line flags (--name=value or --name value); defaults give a quick run.
struct BenchFlags {
  std::string dir = "/tmp/msrec_ps_bench";  // RocksDB directories; removed at start and end
  std::string parts = "1234";  // which parts to run (1 in-process, 2 remote, 3 uncached, 4 scale)
  std::string optimizer = "adam";      // sparse optimizer of every table
  int dim = 16;                        // embedding dimension
  int batch_rows = 4096;               // rows per training batch
  int fields = 26;                     // keys per row (one per categorical field)
  int batches = 8;                     // distinct batches per pass (parts 1 and 2)
  int reps = 5;                        // repetitions; medians are printed
  uint64_t universe = 1000000;         // key universe of parts 1 and 2 (Zipf ranks)
  double zipf = 0.8;                   // Zipf exponent of the batch keys (parts 1, 2, 4)
  size_t hot_cache_mib = 4096;         // row cache of parts 1 and 2 (holds every row)
  uint64_t uncached_rows = 2000000;    // part 3: table rows; the cache holds 10% of their bytes
  uint64_t scale_keys = 2000000;       // part 4: rows of the big table (acceptance: 50000000)
  int scale_steps = 40;                // part 4: mixed pull+push steps after the fill
  int scale_warmup_steps = 0;          // part 4: untimed steps before them (warm the row cache)
  uint64_t fill_batch = 100000;        // part 4: keys per fill push
  size_t scale_cache_mib = 256;        // part 4: row cache per server
  size_t scale_memtable_mib = 64;      // part 4: RocksDB memtable per table (x3)
  size_t scale_block_cache_mib = 256;  // part 4: RocksDB block cache per server
  size_t scale_block_kib = 4;          // part 4: RocksDB data block size (RocksDbStoreOptions)
  int scale_partitioned = 0;    // part 4: partitioned index and filters (RocksDbStoreOptions)
  int scale_universal = 1;      // part 4: universal compaction (RocksDbStoreOptions; 0: leveled)
  int scale_sorted_runs = 4;    // part 4: RocksDbStoreOptions::universal_sorted_runs
  int scale_apply_threads = 1;  // part 4: threads a server splits a large pull or push over
  // part 4: write-behind of each server's row cache in MiB (RowCacheOptions;
  // -1: DefaultWriteBehindBytes, as OpenStore with StoreOptions::write_behind;
  // 0 (default, as msrec): evictions write back themselves)
  int scale_write_behind_mib = 0;
  int scale_pin_index_filters = 1;        // part 4: RocksDbStoreOptions::pin_index_filters
  int scale_cache_data_blocks = 0;        // part 4: RocksDbStoreOptions::cache_data_blocks
  int scale_verify_checksums = 1;         // part 4: RocksDbStoreOptions::verify_read_checksums
  int scale_mmap_reads = 0;               // part 4: RocksDbStoreOptions::mmap_reads
  int scale_low_priority_compaction = 1;  // part 4: RocksDbStoreOptions::low_priority_compaction
  // part 4: keep the filled table's directories (<dir>/server<i>_scale) after
  // the run, and reuse them instead of filling when they exist (same machine,
  // same --scale_keys and --dim; for side-by-side runs of the step settings).
  int scale_keep = 0;
  // part 4: RocksDbStoreOptions::compaction_readahead_bytes, KiB
  size_t scale_compaction_readahead_kib = 0;
  // part 4: after the timed steps, wait up to this many seconds for the
  // servers' compactions to stop (none running in two polls 5 s apart), then
  // run the warm-up and timed steps again ("settled: ..." figures; 0: off)
  int scale_settle_s = 0;
  bool scale_reused = false;       // set by rank 0 at start-up: a kept table exists (not a flag)
  int scale_async_prefetch = 1;    // part 4: PsServerOptions::async_prefetch of the servers
  int scale_prefetch_threads = PsServerOptions().prefetch_threads;  // part 4: the servers'
  int malloc_keep_mb = 64;  // every rank: KeepFreedMemory, as msrec's --malloc_keep_mb (0: glibc's)
  double timeout_s = 1800;  // remote client timeout; server idle timeout is 4x
  int num_servers = -1;     // -1: every rank but rank 0 serves

  bool Runs(char part) const { return parts.find(part) != std::string::npos; }
};

// Parses argv into `flags`; InvalidArgument naming a bad or unknown flag.
Status ParseFlags(int argc, char** argv, BenchFlags* flags);

// The table every part uses (name, dim, optimizer from the flags).
TableConfig MakeTableConfig(const BenchFlags& flags, const std::string& name);
// Bytes of one stored row of `config` (row.h: 28 + 4 (dim + state floats)).
size_t RowBytes(const TableConfig& config);

// The key of Zipf rank r: a bijection, so distinct ranks are distinct keys and
// hot keys are spread over shards and buckets.
inline uint64_t KeyOfRank(uint64_t rank) { return Mix64(rank * 2 + 1); }

// Zipf-like ranks in [0, n): the continuous power law x^-s on [1, n+1),
// inverted in closed form (no table, so n may be 50M).
class ZipfRanks {
 public:
  ZipfRanks(uint64_t n, double s);
  uint64_t operator()(std::mt19937_64& rng) const;

 private:
  uint64_t n_;
  double s_;
  double span_;  // (n+1)^(1-s) - 1, or log(n+1) when s == 1
};

// A training batch: `draws` Zipf draws, de-duplicated and sorted (what a
// worker pulls and pushes: one row per distinct key).
std::vector<uint64_t> MakeZipfBatch(const ZipfRanks& zipf, std::mt19937_64& rng, size_t draws);
// `count` distinct keys of uniform ranks in [0, n), sorted.
std::vector<uint64_t> MakeUniformBatch(uint64_t n, std::mt19937_64& rng, size_t count);

using Batches = std::vector<std::vector<uint64_t>>;
uint64_t TotalKeys(const Batches& batches);
size_t MaxKeys(const Batches& batches);

// Prints `what: status` and ends the whole MPI job (MPI_Abort) if not OK.
void Check(const Status& status, const std::string& what);

// Runs `pass` once: the keys it returns per second of its wall time.
double TimedRate(const std::function<uint64_t()>& pass);
// Runs `pass` `reps` times; each returns the keys it processed. The median
// keys/s over the repetitions.
double MedianRate(int reps, const std::function<uint64_t()>& pass);
double Median(std::vector<double> values);

// A field of /proc/self/status in kB ("VmHWM": peak RSS, "VmRSS"); 0 if absent.
uint64_t ProcStatusKb(const char* field);
// Bytes of the regular files under `path` (0 if it does not exist).
uint64_t DirBytes(const std::string& path);
// The number after "name=" in `text`; -1 if absent.
double StatField(const std::string& text, const std::string& name);

// The figures of one run, printed side by side at the end.
class Report {
 public:
  // A keys/s figure; `target` > 0 adds ">= target" and met/unmet.
  void Rate(const std::string& part, const std::string& name, double keys_per_s, double target = 0);
  // Any other figure, already formatted; `met`: -1 no target, 0 unmet, 1 met.
  void Text(const std::string& part, const std::string& name, const std::string& value,
            const std::string& target = "", int met = -1);
  void Print() const;

 private:
  struct Line {
    std::string part, name, value, target;
    int met = -1;
  };
  std::vector<Line> lines_;
};

std::string FormatRate(double keys_per_s);  // "5.23 M keys/s"

// RocksDB at `path` (removed first, unless `reopen`: then an existing
// database there is opened with its tables) behind a row cache of
// `cache_bytes` (`write_behind_bytes` of it for the write-behind); `*raw` is
// set to the RocksDB store, which the returned store owns.
std::unique_ptr<EmbeddingStore> OpenCachedRocksDb(const std::string& path, size_t cache_bytes,
                                                  const RocksDbStoreOptions& options,
                                                  EmbeddingStore** raw,
                                                  size_t write_behind_bytes = 0,
                                                  bool reopen = false);

// The parts that run inside the worker process (ps_remote_bench_local.cc).
void RunInProcess(const BenchFlags& flags, const Batches& batches, Report* report);
void RunUncached(const BenchFlags& flags, Report* report);

}  // namespace bench
}  // namespace msrec
