// Binary shards: the output of `msrec convert`. Keys are already hashed and
// every block carries a CRC32C, so reading is a few memcpys per block.
// The byte layout is documented in docs/data.md ("Binary shard format").
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer/data/batch.h"
#include "trainer/data/reader.h"
#include "trainer/data/schema.h"

namespace msrec {

// What a shard file holds besides its rows.
struct ShardLayout {
  Schema schema;                       // resolved schema of the source data
  std::vector<std::string> scenarios;  // scenario value of each id, in id order
};

// Writes one shard file. Rows are buffered and written in blocks of
// rows_per_block. The file appears under `path` only after a successful
// Close() (it is written to path + ".tmp" and renamed). Not thread-safe.
class ShardWriter {
 public:
  // IoError if the file cannot be created; InvalidArgument if rows_per_block <= 0.
  static Result<std::unique_ptr<ShardWriter>> Open(const std::string& path,
                                                   const ShardLayout& layout,
                                                   int64_t rows_per_block = 65536);
  // Closes without publishing the file if Close() was not called.
  ~ShardWriter();

  // Appends every row of `batch`, whose layout must match the schema (F, dense,
  // labels, id and oracle presence) and whose scenario ids must be < the
  // number of scenarios (InvalidArgument otherwise).
  Status Append(const Batch& batch);
  // Writes the last partial block and the end block, then renames the file.
  Status Close();

  int64_t rows_written() const { return rows_written_; }

 private:
  ShardWriter(std::string path, ShardLayout layout, int64_t rows_per_block, std::FILE* file);
  Status WriteBlock();

  const std::string path_;
  const ShardLayout layout_;
  const int64_t rows_per_block_;
  std::FILE* file_;
  Batch pending_;
  std::string payload_;
  int64_t rows_written_ = 0;
  int64_t blocks_written_ = 0;
  bool closed_ = false;
};

// Whether `path` starts with the shard magic bytes (IoError if unreadable).
Result<bool> IsShardFile(const std::string& path);

// Reads the file header of a shard.
Result<ShardLayout> ReadShardLayout(const std::string& path);

// Opens shard files as one stream (see OpenReader). Blocks are read and
// CRC-checked by a prefetch thread, at most options.queue_capacity ahead.
// A truncated or damaged file gives Corruption naming the file and the block
// index and byte offset. With options.scenario_map, embedded scenario values
// are mapped through it (unknown values in a fixed map are bad rows).
Result<std::unique_ptr<Reader>> OpenShardReader(const std::vector<std::string>& paths,
                                                const ReaderOptions& options);

// Reads CSV `inputs` with `options` and writes them as one shard file at
// `output_path` in blocks of rows_per_block rows. The scenario map written is
// options.scenario_map if it is fixed; otherwise the given map (if any)
// extended with every value found by ScenarioMap::Scan of the inputs. Bad rows
// follow the reader's policy. `stats`, if not null, receives the reader stats.
Status ConvertToShards(const std::vector<std::string>& inputs, const ReaderOptions& options,
                       const std::string& output_path, int64_t rows_per_block = 65536,
                       ReaderStats* stats = nullptr);

}  // namespace msrec
