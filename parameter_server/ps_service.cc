#include "parameter_server/ps_service.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "common/file_util.h"
#include "parameter_server/cached_store.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"
#include "parameter_server/internal/sparse_table.h"

namespace msrec {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// The RocksDB settings under a budget of `budget` bytes (the row cache takes
// the other half).
RocksDbStoreOptions RocksDbUnderBudget(size_t budget) {
  RocksDbStoreOptions o;
  // Index and filter blocks only (point reads do not cache data blocks): a
  // ceiling that grows with the number of SST files, not a use.
  o.block_cache_bytes = std::max(budget / 8 * 3, 8 * kMiB);
  o.max_write_buffer_number = 2;  // one being filled, one being flushed
  // budget/16 each: an insert into a smaller skip list costs fewer cache
  // misses; at 100M rows that saved more CPU than the extra compaction of
  // more, smaller flushed runs cost (docs/parameter_server.md, "Smaller
  // memtables and two prefetch threads, measured").
  o.write_buffer_bytes = std::max(budget / 16, 4 * kMiB);
  // Flushes and compactions in the background, one job per core (at least 2:
  // a flush must not wait behind a compaction).
  o.max_background_jobs = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  return o;
}

}  // namespace

Result<std::unique_ptr<EmbeddingStore>> OpenStore(const StoreOptions& options) {
  if (options.kind == "memory") {
    std::unique_ptr<EmbeddingStore> store = MakeMemoryStore();
    if (options.fresh) {
      if (!options.path.empty()) MSREC_RETURN_IF_ERROR(RemoveTree(options.path));
    } else if (!options.path.empty()) {
      MSREC_RETURN_IF_ERROR(LoadStore(options.path, store.get()));
    }
    return store;
  }
  if (options.kind != "rocksdb") {
    return Status::InvalidArgument("unknown store kind '" + options.kind + "' (memory, rocksdb)");
  }
  if (options.path.empty()) return Status::InvalidArgument("a RocksDB store needs a directory");
  if (options.memory_mb <= 0) {
    return Status::InvalidArgument("store memory budget of " + std::to_string(options.memory_mb) +
                                   " MiB: it must be > 0");
  }
  if (options.fresh) MSREC_RETURN_IF_ERROR(RemoveTree(options.path));
  const size_t budget = static_cast<size_t>(options.memory_mb) * kMiB;
  RocksDbStoreOptions rocks = RocksDbUnderBudget(budget);
  rocks.create_if_missing = options.fresh;
  rocks.mmap_reads = options.mmap_reads;
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddingStore> db, OpenRocksDbStore(options.path, rocks));
  RowCacheOptions cache;
  cache.capacity_bytes = std::max(budget / 2, kMiB);
  if (options.write_behind) cache.write_behind_bytes = DefaultWriteBehindBytes(cache.capacity_bytes);
  return MakeCachedStore(std::move(db), cache);
}

Status ValidateServerOptions(const ServerOptions& options) {
  if (options.server.prefetch_threads < 1) {
    return Status::InvalidArgument("--ps_prefetch_threads must be >= 1, got " +
                                   std::to_string(options.server.prefetch_threads));
  }
  if (options.apply_threads < 1) {
    return Status::InvalidArgument("--ps_threads must be >= 1, got " +
                                   std::to_string(options.apply_threads));
  }
  return Status::OK();
}

Status Serve(std::unique_ptr<EmbeddingStore> store, const ServerOptions& options,
             Transport* transport) {
  MSREC_RETURN_IF_ERROR(ValidateServerOptions(options));
  SparseShard shard(std::move(store), options.apply_threads);
  PsServerOptions server_options = options.server;
  EmbeddingStore* raw = shard.store();
  std::function<std::string()> extra = server_options.extra_stats;
  server_options.extra_stats = [raw, extra] {
    return raw->StatsText() + (extra ? ", " + extra() : std::string());
  };
  PsServer server(&shard, transport, server_options);
  MSREC_RETURN_IF_ERROR(server.Run());  // ends with a flush of the store
  const StoreOptions& o = options.store;
  if (options.persist && o.kind == "memory" && !o.path.empty()) {
    return SaveStore(*shard.store(), o.path);  // the rows outlive the process
  }
  return Status::OK();
}

Status RunServer(const ServerOptions& options, Transport* transport) {
  MSREC_RETURN_IF_ERROR(ValidateServerOptions(options));
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddingStore> store, OpenStore(options.store));
  return Serve(std::move(store), options, transport);
}

StoreOptions StoreAt(const std::string& kind, const std::string& base, int64_t memory_mb) {
  StoreOptions o;
  o.kind = kind;
  o.path = kind == "memory" ? base + ".bin" : base;
  o.fresh = true;
  o.memory_mb = memory_mb;
  return o;
}

ServerOptions ServerOptionsAt(const std::string& kind, const std::string& base,
                              const ServerSettings& settings) {
  ServerOptions o;
  o.store = StoreAt(kind, base, settings.store_memory_mb);
  o.store.mmap_reads = settings.store_mmap_reads;
  o.apply_threads = settings.apply_threads;
  o.server.prefetch_threads = settings.prefetch_threads;
  return o;
}

std::string ServerStoreBase(const std::string& dir, int server_index) {
  return dir + "/server-" + std::to_string(server_index);
}

Status PrepareServerDirectory(const std::string& dir, int server_index, int num_servers) {
  MSREC_RETURN_IF_ERROR(MakeDirs(dir));
  const std::string base = ServerStoreBase(dir, server_index);
  MSREC_RETURN_IF_ERROR(RemoveTree(base));
  MSREC_RETURN_IF_ERROR(RemoveTree(base + ".bin"));
  if (server_index != 0) return Status::OK();
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& name : names) {
    if (name.rfind("server-", 0) == 0 && std::atoi(name.c_str() + 7) >= num_servers) {
      MSREC_RETURN_IF_ERROR(RemoveTree(dir + "/" + name));
    }
  }
  return Status::OK();
}

}  // namespace msrec
