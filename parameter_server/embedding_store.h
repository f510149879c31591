// EmbeddingStore: where the rows of the sparse tables live. A store holds named
// tables; each maps a uint64 key to one opaque row (see row.h for what the
// sparse tables put there). Implementations: the in-memory store (reference
// and fake, memory_store.h) and RocksDB (rocksdb_store.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace msrec {

// Loads many rows of one table in ascending key order (a server's restore);
// EmbeddingStore::NewBulkWriter makes one. Thread safety: one thread.
class BulkWriter {
 public:
  virtual ~BulkWriter() = default;
  // Adds the row of `key`. Keys must be strictly ascending, else
  // InvalidArgument. Rows may become visible only at Finish.
  virtual Status Add(uint64_t key, std::string_view row) = 0;
  // Makes every added row visible, replacing the rows of the same keys. A
  // writer destroyed before Finish may have written some of its rows.
  virtual Status Finish() = 0;
};

// Thread safety: every implementation is safe for concurrent calls. Writes to
// one table are atomic per call with respect to MultiGet on other threads
// only in the sense that each key is read either before or after the write.
class EmbeddingStore {
 public:
  virtual ~EmbeddingStore() = default;

  // Creates table `table` if it does not exist (OK if it does). Names are
  // non-empty and not "default" (reserved by RocksDB), else InvalidArgument.
  virtual Status CreateTable(const std::string& table) = 0;

  // Removes table `table` and every row of it (RocksDB drops its column
  // family). NotFound if it does not exist. Must not run concurrently with
  // other calls on that table.
  virtual Status DropTable(const std::string& table) = 0;

  // Names of all tables, sorted.
  virtual std::vector<std::string> TableNames() const = 0;

  // Called by MultiGetVisit once per requested key, in request order: `i` is
  // the key's position, `found` says whether it has a row, `row` is the row
  // (empty when not found), valid only during the call. A non-OK return stops
  // the lookup and is returned by MultiGetVisit. The visitor may run under the
  // store's read lock: it must not call back into the store.
  using RowVisitor = std::function<Status(size_t i, bool found, std::string_view row)>;

  // Looks up `n` keys of `table` without copying the rows: calls `fn` for each
  // (see RowVisitor). Keys may repeat; `sorted` says they are ascending, which
  // lets RocksDB batch its lookups. NotFound if the table does not exist.
  virtual Status MultiGetVisit(const std::string& table, const uint64_t* keys, size_t n,
                               bool sorted, const RowVisitor& fn) const = 0;

  // Copying form of MultiGetVisit. Resizes `rows` and `found` to n; when
  // found[i] != 0, rows[i] holds the row of keys[i] (the strings of `rows` are
  // reused, so a caller that keeps the vectors does not allocate per key).
  Status MultiGet(const std::string& table, const uint64_t* keys, size_t n, bool sorted,
                  std::vector<std::string>* rows, std::vector<uint8_t>* found) const;

  // Inserts or replaces the rows of `n` keys as one batch (rows[i] is the row
  // of keys[i]). Keys should be unique; with repeats the last one wins.
  // NotFound if the table does not exist.
  virtual Status Write(const std::string& table, const uint64_t* keys, size_t n,
                       const std::string* rows) = 0;

  // Removes the rows of `n` keys of `table` as one batch (RocksDB: one
  // WriteBatch of deletes). Keys without a row are skipped; repeats are fine.
  // NotFound if the table does not exist.
  virtual Status Delete(const std::string& table, const uint64_t* keys, size_t n) = 0;

  // A writer of rows of `table` in ascending key order, for loading many
  // rows at once. NotFound if the table does not exist. Must not run
  // concurrently with other calls on the table. Default: Write in batches of
  // 65,536 rows. RocksDB: the rows are written to SST files beside the
  // database and ingested (no memtable, no compaction of the loaded rows).
  // The row cache writes the table's dirty rows back and drops its cached
  // rows first.
  virtual Result<std::unique_ptr<BulkWriter>> NewBulkWriter(const std::string& table);

  // Makes every write so far durable (RocksDB: flushes the memtables to SST
  // files; memory: nothing to do).
  virtual Status Flush() = 0;

  // A server's last call: Flush, after which the store may also release what
  // it caches (it still answers every call correctly, from the backing
  // store). Default: Flush.
  virtual Status Close() { return Flush(); }

  // Calls `fn(key, row)` for every row of `table` in ascending key order
  // until it returns false. The row view is valid only during the call; `fn`
  // must not call back into the store (it may run under the store's lock).
  // Writes running concurrently may or may not be seen. NotFound if the table
  // does not exist.
  virtual Status ForEach(
      const std::string& table,
      const std::function<bool(uint64_t key, std::string_view row)>& fn) const = 0;

  // Exact number of rows of `table` (RocksDB: a full scan, O(rows)).
  virtual Result<uint64_t> Count(const std::string& table) const = 0;

  // Approximate bytes of memory the store holds now, for monitoring (memory:
  // hash slots and row arena; RocksDB: memtables + table readers (index and
  // filter blocks outside the block cache) + block cache usage; a cached store:
  // its cache plus its backing store). 0 when an implementation does not know.
  // Errors: the failure of a backing store's query.
  virtual Result<uint64_t> MemoryUsageBytes() const { return uint64_t{0}; }

  // The store's part of a server's statistics line: where its memory goes
  // (the parts of MemoryUsageBytes) and how many rows it holds where that is
  // cheap to know, e.g. "row cache 200 MiB of 512 (1.2M rows, hit rate 0.97),
  // block cache 60 MiB of 256, memtables 31 MiB, table readers 0 MiB, ~40M
  // rows on disk". The default reports the memory total.
  virtual std::string StatsText() const;

  // Brings the rows of `n` keys of `table` close to hand ahead of a read (a
  // cached store loads its misses from the backing store into the cache),
  // so the read that follows does not wait for the backing store. A hint: the
  // default does nothing. `sorted` as for MultiGetVisit.
  virtual Status Prefetch(const std::string& table, const uint64_t* keys, size_t n,
                          bool sorted) {
    return Status::OK();
  }

  // Writes a consistent, self-contained copy of every table into the new
  // directory `dir`, natively: RocksDB flushes its memtables and takes a
  // checkpoint (SST files hard-linked, so it is fast and small on the same
  // file system; reopen it with RocksDbStoreOptions::read_only). Unavailable
  // when the store has no native form (then use SaveStore). Must not run
  // concurrently with writes.
  virtual Status CheckpointTo(const std::string& dir) {
    return Status::Unavailable("this store has no native checkpoint; use SaveStore");
  }
};

// Checks a table name for CreateTable (shared by the implementations).
Status ValidateTableName(const std::string& table);

// BulkWriter::Add's order check (`any`: a key was added before, `last` it).
Status CheckBulkKeyOrder(const std::string& table, bool any, uint64_t last, uint64_t key);

// Writes every table of `store` to the file `path` (replaced atomically via a
// temporary file and a rename). Format (little-endian):
//   "MSRECEMB" magic, uint32 version = 1, uint32 table count, then per table:
//   uint32 name length, name, uint64 row count, then per row: uint64 key,
//   uint32 row length, row bytes; finally uint32 CRC-32C of everything before.
// Must not run concurrently with writes to `store`.
Status SaveStore(const EmbeddingStore& store, const std::string& path);

// Deletes every row of every table (the tables stay): each table is dropped
// and created again.
Status ClearStore(EmbeddingStore* store);

// Loads a file written by SaveStore into `store`: creates its tables and
// inserts or replaces its rows (other rows are kept). The whole file is
// checked (size, magic, CRC) before anything is written: Corruption if it is
// damaged, IoError if it cannot be read.
Status LoadStore(const std::string& path, EmbeddingStore* store);

}  // namespace msrec
