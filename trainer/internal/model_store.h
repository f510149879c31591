// The sparse rows of a model directory, served by the embedded parameter
// server (parameter_server/embedded_ps.h): RocksDB at <model_dir>/embeddings,
// or a memory store dumped to <model_dir>/embeddings.bin.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "parameter_server/embedded_ps.h"

namespace msrec {

// What a model directory's store is opened for.
enum class ModelStoreUse {
  kTrain,  // start empty (rows of a former run are removed); persisted at Stop
  kRead,   // the trained rows, read only (eval, predict, a selector's rows)
};

// How the embedded server of a model directory runs (the flags of the same
// names; a job's servers take the same ones through ClusterOptions).
struct ModelStoreOptions {
  int64_t memory_mb = 1024;  // StoreOptions::memory_mb (--store_memory_mb)
  bool mmap_reads = false;   // StoreOptions::mmap_reads (--store_mmap_reads)
  int apply_threads = 1;     // ServerOptions::apply_threads (--ps_threads)
  int prefetch_threads = 2;  // PsServerOptions::prefetch_threads (--ps_prefetch_threads)
};

// Starts the embedded server over the store of `model_dir` of kind `kind`
// ("memory" or "rocksdb"), run as `options` says.
Result<std::unique_ptr<EmbeddedPs>> StartModelStore(const std::string& kind,
                                                    const std::string& model_dir,
                                                    ModelStoreUse use,
                                                    const ModelStoreOptions& options);

}  // namespace msrec
