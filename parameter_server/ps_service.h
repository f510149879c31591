// Server assembly, the one place that turns options into a serving parameter
// server: the store factory (memory, or RocksDB behind the DRAM row cache,
// sized by one memory budget), the preparation of a server's directory, and
// the loop that serves the store over any Transport. The embedded default
// (embedded_ps.h, one server on a thread) and an mpirun job's server ranks
// (launch/) both come through here.
//
//   ServerOptions options;
//   options.store = {"rocksdb", dir + "/server-0", /*fresh=*/true, /*memory_mb=*/3072};
//   options.server.num_workers = 2;
//   MSREC_RETURN_IF_ERROR(RunServer(options, &transport));  // until every worker is done
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cluster/transport.h"
#include "common/status.h"
#include "parameter_server/embedding_store.h"
#include "parameter_server/ps_server.h"

namespace msrec {

struct StoreOptions {
  // "memory" (every row in a hash map) or "rocksdb" (rows in RocksDB behind
  // the row cache). Default: "memory".
  std::string kind = "memory";
  // rocksdb: the database directory. memory: the dump file (SaveStore's
  // format) read at open when `fresh` is false and written when a server
  // that persists ends; "" for none. Default: "".
  std::string path;
  // Start empty: what `path` holds is removed first (a job starts from nothing
  // or from a checkpoint, never from rows a former job left). false reopens
  // it (eval, predict). Default: true.
  bool fresh = true;
  // What the store may keep in RAM, MiB (rocksdb only; a memory store holds
  // every row). Split as the row cache 1/2, RocksDB's block cache 3/8 (index
  // and filter blocks; point reads do not cache data blocks), memtables 1/8
  // (two write buffers of budget/16 per table). docs/parameter_server.md, "Memory budget", has the reasons.
  // Default: 1024.
  int64_t memory_mb = 1024;
  // rocksdb: give the row cache a write-behind (RowCacheOptions::
  // write_behind_bytes = DefaultWriteBehindBytes(row cache)). Default: false:
  // it took the writes off the request thread but slowed the fill of new keys
  // and the cold-cache steps at 50M keys, and gained nothing in training
  // (docs/parameter_server.md, "Write-behind and asynchronous prefetch").
  bool write_behind = false;
  // rocksdb: read the SST files through mmap (RocksDbStoreOptions::mmap_reads):
  // no system call or copy per data block, but the mapped pages the process
  // touched count in its RSS, beside the budget. Default: false.
  bool mmap_reads = false;
};

// Opens the store `options` describe. Errors name the path.
Result<std::unique_ptr<EmbeddingStore>> OpenStore(const StoreOptions& options);

// The store named by `base`: RocksDB in the directory <base>, or a memory
// store dumped to <base>.bin; fresh, within `memory_mb`.
StoreOptions StoreAt(const std::string& kind, const std::string& base, int64_t memory_mb);

struct ServerOptions {
  StoreOptions store;       // what the server serves from
  PsServerOptions server;   // the serving loop (workers, sync, timeouts, statistics)
  bool persist = true;      // when the workers are done, dump a memory store to store.path
                            // (RocksDB is flushed either way); false: read-only use
  // Threads a large pull or push is split over (SparseTable, "Parts").
  int apply_threads = 1;
};

// What a user sets for every server of a job, the embedded one included: the
// flags --store_memory_mb, --store_mmap_reads, --ps_threads and
// --ps_prefetch_threads. The defaults are those of the options they set.
struct ServerSettings {
  int64_t store_memory_mb = StoreOptions().memory_mb;
  bool store_mmap_reads = StoreOptions().mmap_reads;
  int apply_threads = ServerOptions().apply_threads;
  int prefetch_threads = PsServerOptions().prefetch_threads;
};

// A server of the store StoreAt(kind, base, ...) run as `settings` say; the
// rest of the options keep their defaults.
ServerOptions ServerOptionsAt(const std::string& kind, const std::string& base,
                              const ServerSettings& settings);

// The options' thread counts are at least 1 (errors name the flag that sets
// each). Serve and RunServer check it first; EmbeddedPs::Start before it opens
// the store.
Status ValidateServerOptions(const ServerOptions& options);

// Serves `store` over `transport` until every worker is done, then persists
// it. The store's memory parts are added to the statistics line.
Status Serve(std::unique_ptr<EmbeddingStore> store, const ServerOptions& options,
             Transport* transport);

// OpenStore, then Serve.
Status RunServer(const ServerOptions& options, Transport* transport);

// The store of server `server_index` in the directory `dir` of a job's
// servers: StoreAt(kind, <dir>/server-<s>, memory_mb).
std::string ServerStoreBase(const std::string& dir, int server_index);

// Makes `dir` ready for server `server_index` of `num_servers`: creates it and
// removes the server's rows of a former job; server 0 also removes the parts
// of servers >= num_servers (a former job with more servers).
Status PrepareServerDirectory(const std::string& dir, int server_index, int num_servers);

}  // namespace msrec
