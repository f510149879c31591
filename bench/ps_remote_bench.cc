// The parameter server's acceptance benchmark (issue 6): keys/s of the
// in-process shard, of the remote client over MPI, of a table ten times its
// row cache against raw RocksDB, and a big table's server memory. One worker
// (rank 0); every other rank serves.
//
//   mpirun --allow-run-as-root --oversubscribe -np 2 build-bench/bench/ps_remote_bench
//       [--scale_keys 50000000] [--parts 1234] [--dir /tmp/msrec_ps_bench] [--reps 5] ...
//
// Parts (flags in bench/ps_remote_bench.h):
//  1 in-process: SparseShard over CachedStore(RocksDB), every row cached, and
//    over the memory store; pull and push keys/s (target: pull >= 5M keys/s).
//  2 remote: the same batches through RemoteClient to servers that serve a
//    SparseShard over CachedStore(RocksDB), every row cached; sequential and
//    pipelined pulls, pushes, and training steps with and without the next
//    batch's pull in flight (target: >= 1M keys/s per server).
//  3 uncached: a table of --uncached_rows behind a cache of 10% of its bytes;
//    pull keys/s through the cache against raw RocksDB MultiGet of the same
//    keys (target: >= 50%), and Push against raw WriteBatch.
//  4 scale: --scale_keys rows filled by pushes into servers with a 256 MB row
//    cache, then Zipf pulls+pushes; each server's peak RSS (VmHWM; target
//    < 1.5 GB), fill rate and disk size.
// Order of execution: 1 and 3 in the worker, then 4, then 2 (the servers serve
// the scale table first, in a fresh process, so their peak RSS is the scale
// run's); the figures are printed by part at the end. Batches: --batch_rows x
// --fields Zipf draws (--zipf over --universe keys), de-duplicated: what a
// worker pulls and pushes (RemoteClient does not de-duplicate).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "bench/ps_remote_bench.h"
#include "cluster/messenger.h"
#include "cluster/mpi_env.h"
#include "common/malloc_settings.h"
#include "common/timer.h"
#include "parameter_server/cached_store.h"
#include "parameter_server/internal/sparse_table.h"
#include "parameter_server/ps_server.h"
#include "parameter_server/remote_client.h"

namespace msrec {
namespace bench {
namespace {

constexpr size_t kMessageLimit = size_t{256} << 20;
constexpr char kRemote[] = "2 remote";
constexpr char kScale[] = "4 scale";

// ----- Servers -----

// What the worker reads back through RemoteClient::Stats (key=value pairs).
std::string ServerStats(const std::string& path, const CachedStore& cache,
                        const EmbeddingStore& rocks) {
  const CachedStore::Stats s = cache.stats();
  Result<uint64_t> rocks_mem = rocks.MemoryUsageBytes();
  Result<CompactionDebt> debt = RocksDbCompactionDebt(rocks);
  const CompactionDebt d = debt.ok() ? debt.value() : CompactionDebt();
  char text[768];
  std::snprintf(
      text, sizeof(text),
      "peak_rss_kb=%llu rss_kb=%llu rss_anon_kb=%llu rss_file_kb=%llu disk_bytes=%llu "
      "hit_rate=%.4f hits=%llu misses=%llu cache_bytes=%llu cache_rows=%llu "
      "rocksdb_mem_bytes=%llu wb_hits=%llu "
      "wb_wait_s=%.3f pending_compaction_gb=%.3f compaction_wanted=%d running_compactions=%d",
      static_cast<unsigned long long>(ProcStatusKb("VmHWM")),
      static_cast<unsigned long long>(ProcStatusKb("VmRSS")),
      static_cast<unsigned long long>(ProcStatusKb("RssAnon")),
      static_cast<unsigned long long>(ProcStatusKb("RssFile")),
      static_cast<unsigned long long>(DirBytes(path)), s.hit_rate,
      static_cast<unsigned long long>(s.hits), static_cast<unsigned long long>(s.misses),
      static_cast<unsigned long long>(s.bytes_used), static_cast<unsigned long long>(s.rows),
      static_cast<unsigned long long>(rocks_mem.ok() ? rocks_mem.value() : 0),
      static_cast<unsigned long long>(s.write_behind_hits), s.write_behind_wait_s,
      d.pending_bytes / 1e9, static_cast<int>(d.tables_pending), static_cast<int>(d.running));
  return text;
}

// Serves a SparseShard over CachedStore(RocksDB at `path`) until the worker
// sends Done; the store is flushed and closed, and its directory removed
// unless `keep`.
void ServeSession(const BenchFlags& f, const Topology& t, MpiMessenger* messenger,
                  const std::string& path, size_t cache_bytes, const RocksDbStoreOptions& rocks,
                  int apply_threads, size_t write_behind_bytes, bool async_prefetch,
                  int prefetch_threads, bool keep) {
  {
    EmbeddingStore* raw = nullptr;
    std::unique_ptr<EmbeddingStore> store =
        OpenCachedRocksDb(path, cache_bytes, rocks, &raw, write_behind_bytes, keep);
    const CachedStore* cache = dynamic_cast<const CachedStore*>(store.get());
    SparseShard shard(std::move(store), apply_threads);
    PsServerOptions options;
    options.server_index = t.server_index();
    options.num_workers = t.num_workers();
    options.idle_timeout_s = 4 * f.timeout_s;  // the worker runs parts 1 and 3 meanwhile
    options.stats_interval_s = 0;
    options.async_prefetch = async_prefetch;
    options.prefetch_threads = prefetch_threads;
    options.extra_stats = [&] { return ServerStats(path, *cache, *raw); };
    PsServer server(&shard, messenger, options);
    Check(server.Run(), "parameter server " + path);
    // Where the RocksDB reads went (block-cache hits by kind of block).
    std::fprintf(stderr, "server %d, %s: %s\n", t.server_index(), path.c_str(),
                 raw->StatsText().c_str());
  }
  if (!keep) std::filesystem::remove_all(path);
}

std::string ScaleDir(const BenchFlags& f, int server) {
  return f.dir + "/server" + std::to_string(server) + "_scale";
}

// Removes `dir`'s entries, but those of kept scale tables with --scale_keep.
void ClearBenchDir(const BenchFlags& f) {
  std::filesystem::create_directories(f.dir);
  for (const auto& entry : std::filesystem::directory_iterator(f.dir)) {
    const std::string name = entry.path().filename().string();
    const bool scale = name.size() > 6 && name.compare(name.size() - 6, 6, "_scale") == 0;
    if (f.scale_keep == 0 || !scale) std::filesystem::remove_all(entry.path());
  }
}

void RunServer(const BenchFlags& f, const Topology& t, MpiMessenger* messenger) {
  const std::string base = f.dir + "/server" + std::to_string(t.server_index());
  RocksDbStoreOptions scale;  // sized so that RocksDB's own memory stays bounded
  scale.write_buffer_bytes = f.scale_memtable_mib << 20;
  scale.block_cache_bytes = f.scale_block_cache_mib << 20;
  scale.block_size = f.scale_block_kib << 10;
  scale.partitioned_index_filters = f.scale_partitioned != 0;
  scale.universal_compaction = f.scale_universal != 0;
  scale.universal_sorted_runs = f.scale_sorted_runs;
  scale.pin_index_filters = f.scale_pin_index_filters != 0;
  scale.cache_data_blocks = f.scale_cache_data_blocks != 0;
  scale.verify_read_checksums = f.scale_verify_checksums != 0;
  scale.mmap_reads = f.scale_mmap_reads != 0;
  scale.low_priority_compaction = f.scale_low_priority_compaction != 0;
  scale.compaction_readahead_bytes = f.scale_compaction_readahead_kib << 10;
  const size_t scale_cache = f.scale_cache_mib << 20;
  const size_t write_behind = f.scale_write_behind_mib < 0 ? DefaultWriteBehindBytes(scale_cache)
                                                           : size_t(f.scale_write_behind_mib) << 20;
  ServeSession(f, t, messenger, ScaleDir(f, t.server_index()), scale_cache, scale,
               f.scale_apply_threads, write_behind, f.scale_async_prefetch != 0,
               f.scale_prefetch_threads, f.scale_keep != 0);
  const PsServerOptions defaults;
  ServeSession(f, t, messenger, base + "_hot", f.hot_cache_mib << 20, RocksDbStoreOptions(), 1, 0,
               defaults.async_prefetch, defaults.prefetch_threads, false);
}

// ----- The worker's remote parts -----

// One table on the servers and the worker's buffers for it.
struct RemoteTable {
  RemoteClient* ps = nullptr;
  std::string name;
  double timeout_s = 0;
  int64_t step = 0;           // last step pushed
  std::vector<float> grads;   // constant gradients, enough for the largest batch
  std::vector<float> out[2];  // pull destinations (two: one may be in flight)

  RemoteTable(RemoteClient* client, const BenchFlags& f, const std::string& table, size_t max_keys)
      : ps(client), name(table), timeout_s(f.timeout_s), grads(max_keys * f.dim, 1e-3f) {
    out[0].resize(grads.size());
    out[1].resize(grads.size());
    Check(ps->CreateTable(MakeTableConfig(f, name)), "create table " + name);
  }
  std::unique_ptr<PsFuture> Pull(const std::vector<uint64_t>& keys, int slot, int64_t for_step) {
    return ps->PullAsync(name, keys.data(), keys.size(), out[slot].data(), for_step);
  }
  std::unique_ptr<PsFuture> Push(const std::vector<uint64_t>& keys) {
    return ps->PushAsync(name, keys.data(), keys.size(), grads.data(), ++step);
  }
  void Wait(const std::unique_ptr<PsFuture>& call, const char* what) {
    Check(call->Wait(timeout_s), std::string(what) + " of table " + name);
  }
};

// Pulls every batch (step 0: no step rule); `pipelined` sends the next
// batch's pull before waiting for the current one.
uint64_t PullPass(RemoteTable* t, const Batches& batches, bool pipelined) {
  std::unique_ptr<PsFuture> current = t->Pull(batches[0], 0, 0);
  for (size_t i = 0; i < batches.size(); ++i) {
    std::unique_ptr<PsFuture> next;
    const bool more = i + 1 < batches.size();
    if (pipelined && more) next = t->Pull(batches[i + 1], (i + 1) % 2, 0);
    t->Wait(current, "pull");
    if (!pipelined && more) next = t->Pull(batches[i + 1], (i + 1) % 2, 0);
    current = std::move(next);
  }
  return TotalKeys(batches);
}

uint64_t PushPass(RemoteTable* t, const Batches& batches) {
  for (const auto& b : batches) t->Wait(t->Push(b), "push");
  return TotalKeys(batches);
}

// Training steps: pull batch i for step s, push its gradients at step s. With
// `prefetch` the pull of batch i+1 (for step s+1) leaves before the push of
// step s; a synchronous server answers it once step s is applied. Counts the
// keys pulled plus pushed.
uint64_t StepPass(RemoteTable* t, const Batches& batches, bool prefetch) {
  std::unique_ptr<PsFuture> pull = t->Pull(batches[0], 0, t->step + 1);
  for (size_t i = 0; i < batches.size(); ++i) {
    t->Wait(pull, "pull");
    const bool more = i + 1 < batches.size();
    std::unique_ptr<PsFuture> next;
    if (prefetch && more) next = t->Pull(batches[i + 1], (i + 1) % 2, t->step + 2);
    t->Wait(t->Push(batches[i]), "push");
    if (!prefetch && more) next = t->Pull(batches[i + 1], (i + 1) % 2, t->step + 1);
    pull = std::move(next);
  }
  return 2 * TotalKeys(batches);
}

void RunRemote(const BenchFlags& f, RemoteClient* ps, const Batches& batches, int servers,
               Report* report) {
  RemoteTable t(ps, f, "emb", MaxKeys(batches));
  PushPass(&t, batches);  // every row exists and is cached before the timed passes
  struct Case {
    const char* name;
    std::function<uint64_t()> pass;
  };
  const Case cases[] = {
      {"pull, one request in flight", [&] { return PullPass(&t, batches, false); }},
      {"pull, pipelined (next pull in flight)", [&] { return PullPass(&t, batches, true); }},
      {"push, one request in flight", [&] { return PushPass(&t, batches); }},
      {"step pull+push, sequential", [&] { return StepPass(&t, batches, false); }},
      {"step pull+push, next pull prefetched", [&] { return StepPass(&t, batches, true); }},
  };
  const std::string per = " per server (" + std::to_string(servers) + ")";
  for (const Case& c : cases) {
    const double rate = MedianRate(f.reps, c.pass);
    report->Rate(kRemote, std::string(c.name) + ": total", rate);
    report->Rate(kRemote, std::string(c.name) + per, rate / servers, 1e6);
  }
}

// Pushes keys of ranks 0 .. n-1 in batches of fill_batch new keys, two pushes
// in flight; progress on stderr.
void ScaleFill(const BenchFlags& f, RemoteTable* t, Report* report) {
  const uint64_t n = f.scale_keys;
  std::vector<uint64_t> keys[2];
  std::unique_ptr<PsFuture> calls[2];
  uint64_t next_report = n / 10;
  const double rate = TimedRate([&] {
    Timer timer;
    for (uint64_t begin = 0, i = 0; begin < n; begin += f.fill_batch, ++i) {
      const int slot = static_cast<int>(i % 2);
      if (calls[slot]) t->Wait(calls[slot], "fill push");
      keys[slot].clear();
      for (uint64_t r = begin; r < std::min(n, begin + f.fill_batch); ++r) {
        keys[slot].push_back(KeyOfRank(r));
      }
      calls[slot] = t->Push(keys[slot]);
      if (begin + f.fill_batch >= next_report) {
        std::fprintf(stderr, "fill: %llu of %llu keys, %.0f s\n",
                     static_cast<unsigned long long>(begin + keys[slot].size()),
                     static_cast<unsigned long long>(n), timer.Seconds());
        next_report += n / 10;
      }
    }
    for (auto& call : calls) {
      if (call) t->Wait(call, "fill push");
    }
    return n;
  });
  report->Rate(kScale, "fill: pushes of new keys (" + std::to_string(f.fill_batch) + " per push)",
               rate);
}

// Row-cache hits and misses summed over the servers (CachedStore's counters).
struct CacheCounts {
  double hits = 0, misses = 0;
  double HitRateSince(const CacheCounts& before) const {
    const double h = hits - before.hits, m = misses - before.misses;
    return h + m > 0 ? h / (h + m) : 0.0;
  }
};

// RocksDB's compaction debt summed over the servers.
struct Debt {
  double pending_gb = 0, wanted = 0, running = 0;
  std::string Text() const {
    char value[128];
    std::snprintf(value, sizeof(value), "%.2f GB pending, %.0f table(s) wanting one, %.0f running",
                  pending_gb, wanted, running);
    return value;
  }
};

// Every server's statistics text (ServerStats), one Stats call.
std::vector<std::string> ServerStatsTexts(RemoteClient* ps) {
  auto stats = ps->Stats();
  Check(stats.status(), "server stats");
  return std::move(stats).value();
}

// `name`'s value summed over the servers.
double SumStat(const std::vector<std::string>& texts, const std::string& name) {
  double sum = 0;
  for (const std::string& text : texts) sum += StatField(text, name);
  return sum;
}

Debt ReadDebt(RemoteClient* ps) {
  const std::vector<std::string> texts = ServerStatsTexts(ps);
  Debt d;
  d.pending_gb = SumStat(texts, "pending_compaction_gb");
  d.wanted = SumStat(texts, "compaction_wanted");
  d.running = SumStat(texts, "running_compactions");
  return d;
}

std::string CompactionDebt(RemoteClient* ps) { return ReadDebt(ps).Text(); }

CacheCounts ReadCacheCounts(RemoteClient* ps) {
  const std::vector<std::string> texts = ServerStatsTexts(ps);
  CacheCounts c;
  c.hits = SumStat(texts, "hits");
  c.misses = SumStat(texts, "misses");
  return c;
}

// Training steps (next pull prefetched) on Zipf keys over the whole table:
// --scale_warmup_steps untimed steps first (the row cache starts with the last
// rows filled, not the hot ones), then --reps timed passes. Each phase reports
// the row-cache hit rate of its own lookups.
// `when` prefixes every figure's label ("" right after the fill).
void ScaleMixed(const BenchFlags& f, RemoteTable* t, RemoteClient* ps, int servers,
                const std::string& when, Report* report) {
  const ZipfRanks zipf(f.scale_keys, f.zipf);
  std::mt19937_64 rng(when.empty() ? 11 : 12);  // the settled steps draw other batches
  auto make_batches = [&](int steps) {          // generated outside the timed regions
    Batches batches(steps);
    for (auto& b : batches) b = MakeZipfBatch(zipf, rng, size_t{1} * f.batch_rows * f.fields);
    return batches;
  };
  char value[96];
  report->Text(kScale, when + "compaction debt before the steps", CompactionDebt(ps));
  std::fprintf(stderr, "%ssteps: %d warm-up, then %d timed\n", when.c_str(), f.scale_warmup_steps,
               f.scale_steps);
  if (f.scale_warmup_steps > 0) {
    const Batches warmup = make_batches(f.scale_warmup_steps);
    const CacheCounts before = ReadCacheCounts(ps);
    const double rate = TimedRate([&] { return StepPass(t, warmup, true); });
    std::snprintf(value, sizeof(value), "%d steps, %.3f M keys/s per server, %.0f%% hits",
                  f.scale_warmup_steps, rate / servers / 1e6,
                  100 * ReadCacheCounts(ps).HitRateSince(before));
    report->Text(kScale, when + "warm-up steps (untimed in the figures below)", value);
  }
  report->Text(kScale, when + "compaction debt before the timed steps", CompactionDebt(ps));
  const int steps_per_rep = std::max(2, f.scale_steps / f.reps);
  std::vector<double> rates;
  const CacheCounts before = ReadCacheCounts(ps);
  for (int r = 0; r < f.reps; ++r) {
    const Batches batches = make_batches(steps_per_rep);
    rates.push_back(TimedRate([&] { return StepPass(t, batches, true); }));
  }
  report->Rate(kScale, when + "Zipf steps pull+push, prefetched: total", Median(rates));
  report->Rate(kScale, when + "Zipf steps pull+push, prefetched: per server",
               Median(rates) / servers);
  std::snprintf(value, sizeof(value), "%.0f%%", 100 * ReadCacheCounts(ps).HitRateSince(before));
  report->Text(kScale, when + "row-cache hit rate of the timed steps", value);
}

void ScaleServerFigures(RemoteClient* ps, Report* report) {
  auto stats = ps->Stats();
  Check(stats.status(), "server stats");
  for (size_t s = 0; s < stats.value().size(); ++s) {
    const std::string& text = stats.value()[s];
    const std::string who = "server " + std::to_string(s) + ": ";
    const double peak_gb = StatField(text, "peak_rss_kb") * 1024 / 1e9;
    char value[96];
    std::snprintf(value, sizeof(value), "%.3f GB", peak_gb);
    report->Text(kScale, who + "peak RSS (VmHWM)", value, "< 1.5 GB", peak_gb < 1.5);
    std::snprintf(value, sizeof(value), "%.3f GB anonymous, %.3f GB file-backed",
                  StatField(text, "rss_anon_kb") * 1024 / 1e9,
                  StatField(text, "rss_file_kb") * 1024 / 1e9);
    report->Text(kScale, who + "RSS after Flush (RssAnon, RssFile)", value);
    std::snprintf(value, sizeof(value), "%.2f GB", StatField(text, "disk_bytes") / 1e9);
    report->Text(kScale, who + "RocksDB directory after Flush", value);
    std::snprintf(value, sizeof(value), "%.0f MB, %.0f%% hits",
                  StatField(text, "cache_bytes") / 1e6, 100 * StatField(text, "hit_rate"));
    report->Text(kScale, who + "row cache used, hit rate (whole run)", value);
    std::snprintf(value, sizeof(value), "%.0f MB", StatField(text, "rocksdb_mem_bytes") / 1e6);
    report->Text(kScale, who + "RocksDB memory (MemoryUsageBytes)", value);
    std::snprintf(value, sizeof(value), "%.0f misses answered, evictions waited %.1f s",
                  StatField(text, "wb_hits"), StatField(text, "wb_wait_s"));
    report->Text(kScale, who + "write-behind (whole run)", value);
  }
}

void RunScale(const BenchFlags& f, RemoteClient* ps, int servers, Report* report) {
  const std::string write_behind = f.scale_write_behind_mib < 0 ? "1/16 of the cache"
                                   : f.scale_write_behind_mib == 0
                                       ? "off"
                                       : std::to_string(f.scale_write_behind_mib) + " MiB";
  char what[300];
  std::snprintf(what, sizeof(what),
                "%llu keys x %d, %s; %zu MiB row cache/server, %d apply thread(s)/server, "
                "write-behind %s, %s prefetch (%d threads)",
                static_cast<unsigned long long>(f.scale_keys), f.dim, f.optimizer.c_str(),
                f.scale_cache_mib, f.scale_apply_threads, write_behind.c_str(),
                f.scale_async_prefetch ? "async" : "inline", f.scale_prefetch_threads);
  report->Text(kScale, "table", what);
  std::snprintf(what, sizeof(what),
                "memtable %zu MiB x3, block cache %zu MiB%s, %zu KiB blocks, %s index/filters%s, "
                "%s compaction (%d sorted runs)",
                f.scale_memtable_mib, f.scale_block_cache_mib,
                f.scale_cache_data_blocks ? "" : " (no data blocks)", f.scale_block_kib,
                f.scale_partitioned ? "partitioned" : "full",
                f.scale_pin_index_filters ? " (all pinned)" : "",
                f.scale_universal ? "universal" : "leveled", f.scale_sorted_runs);
  std::snprintf(
      what, sizeof(what),
      "%s read checksums, reads by %s, %s compaction priority, compaction readahead %zu KiB",
      f.scale_verify_checksums ? "verified" : "unverified", f.scale_mmap_reads ? "mmap" : "pread",
      f.scale_low_priority_compaction ? "idle" : "normal", f.scale_compaction_readahead_kib);
  report->Text(kScale, "RocksDB reads and compactions", what);
  RemoteTable t(ps, f, "big", std::max<size_t>(f.fill_batch, size_t{1} * f.batch_rows * f.fields));
  if (f.scale_reused) {
    // The reopened table must be the filled one (a kept directory that was
    // cleared would time the steps on a nearly empty table): at least 100
    // bytes per key on disk.
    const double disk = SumStat(ServerStatsTexts(ps), "disk_bytes");
    if (disk < 100.0 * double(f.scale_keys)) {
      Check(Status::Internal("the kept table under " + f.dir + " holds " +
                             std::to_string(disk / 1e9) + " GB, too little for " +
                             std::to_string(f.scale_keys) + " keys"),
            "reused scale table");
    }
    std::snprintf(what, sizeof(what), "skipped: the table of an earlier run kept (%.2f GB on disk)",
                  disk / 1e9);
    report->Text(kScale, "fill: pushes of new keys", what);
  } else {
    ScaleFill(f, &t, report);
  }
  ScaleMixed(f, &t, ps, servers, "", report);
  if (f.scale_settle_s > 0) {
    // The same steps once the fill's compactions are done (no compaction
    // running in two polls 5 s apart, or the wait gives up): the rate a long
    // job sees between bursts of new keys. Under universal compaction a table
    // may keep "wanting" a compaction the picker does not start (as many
    // sorted runs as the trigger, none worth merging), so that is reported,
    // not waited for.
    std::fprintf(stderr, "settle: waiting up to %d s for the compactions\n", f.scale_settle_s);
    Timer wait;
    Debt debt = ReadDebt(ps);
    for (int idle_polls = 0; idle_polls < 2 && wait.Seconds() < f.scale_settle_s;) {
      std::this_thread::sleep_for(std::chrono::seconds(5));
      debt = ReadDebt(ps);
      idle_polls = debt.running == 0 ? idle_polls + 1 : 0;
    }
    char value[160];
    std::snprintf(value, sizeof(value), "%.0f s (limit %d s), then %s", wait.Seconds(),
                  f.scale_settle_s, debt.Text().c_str());
    report->Text(kScale, "settle: wait for the compactions to finish", value);
    ScaleMixed(f, &t, ps, servers, "settled: ", report);
  }
  Timer timer;
  Check(ps->Flush(), "flush");
  std::snprintf(what, sizeof(what), "%.1f s", timer.Seconds());
  report->Text(kScale, "Flush (dirty rows written back, memtables flushed)", what);
  ScaleServerFigures(ps, report);
}

// ----- The worker -----

RemoteClientOptions ClientOptions(const BenchFlags& f, const Topology& t) {
  RemoteClientOptions options;
  for (int s = 0; s < t.num_servers; ++s) options.server_ranks.push_back(t.ServerRank(s));
  options.worker_index = t.worker_index();
  options.timeout_s = f.timeout_s;
  return options;
}

Batches MakeTrainBatches(const BenchFlags& f, Report* report) {
  const ZipfRanks zipf(f.universe, f.zipf);
  std::mt19937_64 rng(3);
  Batches batches(f.batches);
  for (auto& b : batches) b = MakeZipfBatch(zipf, rng, size_t{1} * f.batch_rows * f.fields);
  char what[200];
  std::snprintf(what, sizeof(what), "%d batches of %d x %d draws -> %llu unique keys avg",
                f.batches, f.batch_rows, f.fields,
                static_cast<unsigned long long>(TotalKeys(batches) / batches.size()));
  report->Text("0 setup",
               "batches (Zipf " + std::to_string(f.zipf).substr(0, 4) + " over " +
                   std::to_string(f.universe) + " keys)",
               what);
  return batches;
}

void RunWorker(const BenchFlags& f, const Topology& t, MpiMessenger* messenger) {
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  std::printf("ps_remote_bench %s: %d worker + %d server(s), dim %d, %s, %d reps (medians)\n", date,
              t.num_workers(), t.num_servers, f.dim, f.optimizer.c_str(), f.reps);
  std::fflush(stdout);
  Report report;
  const Batches batches = MakeTrainBatches(f, &report);
  if (f.Runs('1')) RunInProcess(f, batches, &report);
  if (f.Runs('3')) RunUncached(f, &report);
  {
    RemoteClient ps(messenger, ClientOptions(f, t));
    if (f.Runs('4')) RunScale(f, &ps, t.num_servers, &report);
    Check(ps.Done(), "done (scale session)");
  }
  {
    RemoteClient ps(messenger, ClientOptions(f, t));
    if (f.Runs('2')) RunRemote(f, &ps, batches, t.num_servers, &report);
    Check(ps.Done(), "done (remote session)");
  }
  report.Print();
}

// The server count before MPI is up: --num_servers, else every rank but one.
int NumServers(const BenchFlags& f) {
  if (f.num_servers >= 0) return f.num_servers;
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* size = std::getenv(var)) return std::atoi(size) - 1;
  }
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace msrec

int main(int argc, char** argv) {
  using namespace msrec;
  using namespace msrec::bench;
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  BenchFlags f;
  const Status parsed = ParseFlags(argc, argv, &f);
  auto mpi = MpiEnv::Init(&argc, &argv, NumServers(f));
  if (!mpi.ok()) {
    std::fprintf(stderr, "ps_remote_bench: %s (run it under mpirun -np 2 or more)\n",
                 mpi.status().ToString().c_str());
    return 2;
  }
  Check(parsed, "flags");
  Check(ApplyMallocKeepFlag(f.malloc_keep_mb), "flags");
  const Topology& t = mpi.value()->topology();
  if (t.num_workers() != 1 || t.num_servers < 1) {
    Check(Status::InvalidArgument("needs exactly 1 worker and >= 1 server"), "topology");
  }
  if (t.rank == 0) {
    ClearBenchDir(f);
    // A table kept by an earlier --scale_keep run (its first server's directory
    // has a database) is reused instead of filled; checked before any server opens it.
    f.scale_reused = f.scale_keep != 0 && std::filesystem::exists(ScaleDir(f, 0) + "/CURRENT");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  {
    MpiMessenger messenger(MPI_COMM_WORLD, kMessageLimit);
    if (t.is_server()) {
      RunServer(f, t, &messenger);
    } else {
      RunWorker(f, t, &messenger);
    }
    MPI_Barrier(MPI_COMM_WORLD);  // every store is closed
  }
  if (t.rank == 0) {
    if (f.scale_keep != 0) {
      ClearBenchDir(f);  // all but the kept scale tables
    } else {
      std::filesystem::remove_all(f.dir);
    }
  }
  return 0;
}
