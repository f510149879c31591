// The sparse rows of a model directory, served by the embedded parameter
// server (parameter_server/embedded_ps.h): RocksDB at <model_dir>/embeddings,
// or a memory store dumped to <model_dir>/embeddings.bin.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "parameter_server/embedded_ps.h"
#include "parameter_server/ps_service.h"

namespace msrec {

// What a model directory's store is opened for.
enum class ModelStoreUse {
  kTrain,  // start empty (rows of a former run are removed); persisted at Stop
  kRead,   // the trained rows, read only (eval, predict, a selector's rows)
};

// Starts the embedded server over the store of `model_dir` of kind `kind`
// ("memory" or "rocksdb"), run as `settings` say (the flags a job's servers
// take too, through ClusterOptions).
Result<std::unique_ptr<EmbeddedPs>> StartModelStore(const std::string& kind,
                                                    const std::string& model_dir,
                                                    ModelStoreUse use,
                                                    const ServerSettings& settings);

}  // namespace msrec
