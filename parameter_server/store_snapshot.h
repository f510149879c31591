// Reading a store someone else wrote: a SaveStore dump file or a RocksDB
// directory (a server's database or a RocksDB checkpoint). Used to restore
// server parts of a checkpoint and to export a serving bundle.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "parameter_server/embedding_store.h"

namespace msrec {

// Opens `path` for reading: a directory is opened as a RocksDB database,
// read-only (nothing in it changes); a file is loaded as a SaveStore dump into
// a memory store. Errors name the path (IoError, Corruption).
Result<std::unique_ptr<EmbeddingStore>> OpenStoreSnapshot(const std::string& path);

// Copies every row of every table of `from` into `to`. `weights_only` drops
// the optimizer state (rows become SGD rows: what serving needs); otherwise
// rows are copied byte for byte. Adds the rows copied to *rows.
Status CopyRows(const EmbeddingStore& from, bool weights_only, EmbeddingStore* to,
                uint64_t* rows);

}  // namespace msrec
