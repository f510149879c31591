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

// Starts the embedded server over the store of `model_dir` of kind `kind`
// ("memory" or "rocksdb") within `memory_mb` MiB (StoreOptions::memory_mb),
// splitting large requests over `apply_threads` (ServerOptions) and reading
// prefetched rows on `prefetch_threads` (PsServerOptions).
Result<std::unique_ptr<EmbeddedPs>> StartModelStore(const std::string& kind,
                                                    const std::string& model_dir,
                                                    ModelStoreUse use, int64_t memory_mb,
                                                    int apply_threads = 1,
                                                    int prefetch_threads = 1);

}  // namespace msrec
