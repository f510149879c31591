// The parts of ps_remote_bench that run inside the worker process: the warm
// in-process shard (part 1) and the table ten times larger than its row cache
// against raw RocksDB (part 3).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "bench/ps_remote_bench.h"
#include "parameter_server/cached_store.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"
#include "parameter_server/internal/sparse_table.h"

namespace msrec {
namespace bench {

std::unique_ptr<EmbeddingStore> OpenCachedRocksDb(const std::string& path, size_t cache_bytes,
                                                  const RocksDbStoreOptions& options,
                                                  EmbeddingStore** raw, size_t write_behind_bytes,
                                                  bool reopen) {
  if (!reopen) std::filesystem::remove_all(path);
  auto rocks = OpenRocksDbStore(path, options);
  Check(rocks.status(), "open " + path);
  *raw = rocks.value().get();
  RowCacheOptions cache_options;
  cache_options.capacity_bytes = cache_bytes;
  cache_options.write_behind_bytes = write_behind_bytes;
  auto cached = MakeCachedStore(std::move(rocks).value(), cache_options);
  Check(cached.status(), "row cache");
  return std::move(cached).value();
}

namespace {

constexpr char kInProcess[] = "1 in-process";
constexpr char kUncached[] = "3 uncached";

double HitRate(const CachedStore::Stats& before, const CachedStore::Stats& after) {
  const double hits = static_cast<double>(after.hits - before.hits);
  const double misses = static_cast<double>(after.misses - before.misses);
  return hits + misses > 0 ? hits / (hits + misses) : 0;
}

std::string Percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %%", 100 * fraction);
  return text;
}

// Warm pull and push rates of a SparseShard over `store`: every batch is
// pushed once first, so every row exists (and, over a row cache, is cached).
void ShardRates(const std::string& label, std::unique_ptr<EmbeddingStore> store,
                const BenchFlags& f, const Batches& batches, double pull_target, Report* report) {
  const CachedStore* cache = dynamic_cast<const CachedStore*>(store.get());
  SparseShard shard(std::move(store));
  const TableConfig config = MakeTableConfig(f, "emb");
  Check(shard.CreateTable(config), label + ": create table");
  std::vector<float> grads(MaxKeys(batches) * f.dim, 1e-3f), out(grads.size());
  int64_t step = 0;
  for (const auto& b : batches) {
    Check(shard.Push(config.name, b.data(), b.size(), grads.data(), ++step), label + ": push");
  }
  const uint64_t total = TotalKeys(batches);
  const CachedStore::Stats before = cache ? cache->stats() : CachedStore::Stats();
  const double pull = MedianRate(f.reps, [&] {
    for (const auto& b : batches) {
      Check(shard.Pull(config.name, b.data(), b.size(), out.data()), label + ": pull");
    }
    return total;
  });
  const double push = MedianRate(f.reps, [&] {
    for (const auto& b : batches) {
      Check(shard.Push(config.name, b.data(), b.size(), grads.data(), ++step), label + ": push");
    }
    return total;
  });
  report->Rate(kInProcess, label + ": pull", pull, pull_target);
  report->Rate(kInProcess, label + ": push", push);
  if (cache != nullptr) {
    report->Text(kInProcess, label + ": row cache hit rate", Percent(HitRate(before, cache->stats())));
  }
}

// The table of part 3 and what reads it.
struct Uncached {
  TableConfig config;
  EmbeddingStore* raw = nullptr;        // the RocksDB store (owned by the shard's chain)
  const CachedStore* cache = nullptr;   // the row cache in front of it
  std::unique_ptr<SparseShard> shard;   // over the cache
  int64_t step = 0;
};

// Pushes rows 0 .. n-1 (keys KeyOfRank) in batches of 64Ki new keys, then flushes.
void Fill(Uncached* u, uint64_t n, int dim, Report* report) {
  constexpr uint64_t kChunk = 65536;
  std::vector<uint64_t> keys;
  std::vector<float> grads(kChunk * dim, 1e-3f);
  const double rate = MedianRate(1, [&] {
    for (uint64_t begin = 0; begin < n; begin += kChunk) {
      keys.clear();
      for (uint64_t r = begin; r < std::min(n, begin + kChunk); ++r) keys.push_back(KeyOfRank(r));
      Check(u->shard->Push(u->config.name, keys.data(), keys.size(), grads.data(), ++u->step),
            "uncached fill");
    }
    Check(u->shard->Flush(), "uncached flush");
    return n;
  });
  report->Rate(kUncached, "fill: push of new rows through the cache, + Flush", rate);
}

void CompareReads(const BenchFlags& f, Uncached* u, const Batches& reads, Report* report) {
  const std::string& table = u->config.name;
  const uint64_t total = TotalKeys(reads);
  uint64_t bytes = 0;
  const EmbeddingStore::RowVisitor visit = [&bytes](size_t, bool, std::string_view row) {
    bytes += row.size();
    return Status::OK();
  };
  auto visit_all = [&](const EmbeddingStore& store) {
    for (const auto& b : reads) Check(store.MultiGetVisit(table, b.data(), b.size(), true, visit), "read");
    return total;
  };
  std::vector<float> out(MaxKeys(reads) * f.dim);
  auto pull_all = [&] {
    for (const auto& b : reads) Check(u->shard->Pull(table, b.data(), b.size(), out.data()), "pull");
    return total;
  };
  visit_all(*u->raw);  // untimed: warms RocksDB's block cache for every path
  std::vector<double> raw, cached, pulled;
  const CachedStore::Stats before = u->cache->stats();
  for (int r = 0; r < f.reps; ++r) {  // interleaved, so drift hits every path alike
    raw.push_back(TimedRate([&] { return visit_all(*u->raw); }));
    cached.push_back(TimedRate([&] { return visit_all(*u->cache); }));
    pulled.push_back(TimedRate(pull_all));
  }
  const double hit = HitRate(before, u->cache->stats());
  const double raw_rate = Median(raw);
  report->Rate(kUncached, "raw RocksDB MultiGet (sorted, rows not copied)", raw_rate);
  report->Rate(kUncached, "CachedStore MultiGet, same keys", Median(cached));
  report->Rate(kUncached, "SparseShard Pull over CachedStore, same keys", Median(pulled));
  report->Text(kUncached, "row cache hit rate during these reads", Percent(hit));
  const double store_ratio = Median(cached) / raw_rate, pull_ratio = Median(pulled) / raw_rate;
  report->Text(kUncached, "CachedStore MultiGet / raw MultiGet", Percent(store_ratio), ">= 50 %",
               store_ratio >= 0.5);
  report->Text(kUncached, "SparseShard Pull / raw MultiGet", Percent(pull_ratio), ">= 50 %",
               pull_ratio >= 0.5);
}

void CompareWrites(const BenchFlags& f, Uncached* u, const Batches& batches, Report* report) {
  const std::string& table = u->config.name;
  const uint64_t total = TotalKeys(batches);
  std::vector<std::vector<std::string>> rows(batches.size());
  std::vector<uint8_t> found;
  for (size_t i = 0; i < batches.size(); ++i) {  // the stored rows: rewriting them changes nothing
    const auto& b = batches[i];
    Check(u->raw->MultiGet(table, b.data(), b.size(), true, &rows[i], &found), "read rows");
  }
  const double raw = MedianRate(f.reps, [&] {
    for (size_t i = 0; i < batches.size(); ++i) {
      Check(u->raw->Write(table, batches[i].data(), batches[i].size(), rows[i].data()), "write");
    }
    return total;
  });
  std::vector<float> grads(MaxKeys(batches) * f.dim, 1e-3f);
  const double push = MedianRate(f.reps, [&] {
    for (const auto& b : batches) {
      Check(u->shard->Push(table, b.data(), b.size(), grads.data(), ++u->step), "push");
    }
    return total;
  });
  report->Rate(kUncached, "raw RocksDB Write (one WriteBatch per batch)", raw);
  report->Rate(kUncached, "SparseShard Push over CachedStore (read+update+write)", push);
  report->Text(kUncached, "Push / raw Write", Percent(push / raw));
}

}  // namespace

void RunInProcess(const BenchFlags& f, const Batches& batches, Report* report) {
  EmbeddingStore* raw = nullptr;
  ShardRates("SparseShard/CachedStore(RocksDB), warm",
             OpenCachedRocksDb(f.dir + "/local_hot", f.hot_cache_mib << 20, {}, &raw), f,
             batches, 5e6, report);
  ShardRates("SparseShard/MemoryStore", MakeMemoryStore(), f, batches, 0, report);
  std::filesystem::remove_all(f.dir + "/local_hot");
}

void RunUncached(const BenchFlags& f, Report* report) {
  Uncached u;
  u.config = MakeTableConfig(f, "emb");
  const size_t row_bytes = RowBytes(u.config);
  const size_t cache_bytes = f.uncached_rows * row_bytes / 10;
  auto store = OpenCachedRocksDb(f.dir + "/local_uncached", cache_bytes, {}, &u.raw);
  u.cache = dynamic_cast<const CachedStore*>(store.get());
  u.shard = std::make_unique<SparseShard>(std::move(store));
  Check(u.shard->CreateTable(u.config), "uncached table");
  char what[160];
  std::snprintf(what, sizeof(what), "%llu rows x %zu B, cache %.0f MB (10 %% of the rows' bytes)",
                static_cast<unsigned long long>(f.uncached_rows), row_bytes, cache_bytes / 1e6);
  report->Text(kUncached, "table", what);
  Fill(&u, f.uncached_rows, f.dim, report);
  // Uniform keys: the worst case for the cache (its hit rate is about its share of rows).
  std::mt19937_64 rng(7);
  Batches reads(f.batches);
  const size_t per_batch = static_cast<size_t>(f.batch_rows) * f.fields * 3 / 4;
  for (auto& b : reads) b = MakeUniformBatch(f.uncached_rows, rng, per_batch);
  CompareReads(f, &u, reads, report);
  CompareWrites(f, &u, reads, report);
  u.shard.reset();
  std::filesystem::remove_all(f.dir + "/local_uncached");
}

}  // namespace bench
}  // namespace msrec
