// The embedded (in-process) sparse store of a model directory.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "parameter_server/embedding_store.h"
#include "parameter_server/ps_client.h"
#include "parameter_server/table_config.h"

namespace msrec {

struct EmbeddedStore {
  std::string kind;                 // "memory" or "rocksdb"
  std::string model_dir;
  EmbeddingStore* store = nullptr;  // owned by `client`
  std::unique_ptr<PsClient> client; // the local client the trainer uses

  // Makes every update durable: flushes RocksDB, or dumps the memory store to
  // <model_dir>/embeddings.bin.
  Status Save();

  // Writes every row to `path` (SaveStore's format).
  Status Snapshot(const std::string& path);
  // Replaces the whole store with the snapshot at `path` (rows created since
  // are gone) and re-creates `table`. `store` and `client` are new objects.
  Status Restore(const std::string& path, const TableConfig& table);
};

// Opens the local client over the store of `model_dir`: `kind` "rocksdb" opens
// (or creates) <model_dir>/embeddings; "memory" starts empty and, when
// `load`, reads <model_dir>/embeddings.bin.
Result<EmbeddedStore> OpenEmbeddedStore(const std::string& kind, const std::string& model_dir,
                                        bool load);

}  // namespace msrec
