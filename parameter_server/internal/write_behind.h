// WriteBehind: the dirty rows the row cache evicted, on their way to the
// backing store, written by a background thread so that no request waits for
// the backing store's Write (a RocksDB memtable insert, and the flushes and
// compactions it leads to). Internal to cached_store.cc, which decides when
// rows enter it and when it must be drained; docs/parameter_server.md,
// "Write-behind".
//
// Rows go in two generations: `filling` takes the rows of evictions, `writing`
// is being written by the background thread (one backing Write per table).
// When `writing` is done it is dropped and `filling` becomes the next
// `writing`. A lookup sees `filling` first (newer), then `writing`. A row
// leaves only after the backing store has it, so a key that is neither cached
// nor here is in the backing store (or nowhere).
//
// A failed backing Write keeps its generation (its rows stay readable here);
// the thread retries it every kRetryInterval, and sooner when Drain asks. Add
// and Drain return the failure while it lasts.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "parameter_server/embedding_store.h"

namespace msrec {

// Rows of one eviction (any tables), copied out of the cache's arena.
struct EvictedRows {
  struct Row {
    uint32_t table;
    uint64_t key;
    size_t offset;  // in bytes
    uint32_t size;
  };
  std::vector<Row> rows;
  std::vector<char> bytes;

  void Add(uint32_t table, uint64_t key, std::string_view row) {
    rows.push_back({table, key, bytes.size(), static_cast<uint32_t>(row.size())});
    bytes.insert(bytes.end(), row.begin(), row.end());
  }
  std::string_view RowAt(size_t i) const { return {bytes.data() + rows[i].offset, rows[i].size}; }
  bool empty() const { return rows.empty(); }
  // What the write-behind charges for these rows against its budget.
  size_t ChargedBytes() const;
};

class WriteBehind {
 public:
  static constexpr std::chrono::milliseconds kRetryInterval{100};
  // Bytes charged per row besides its bytes (its index entry and record).
  static constexpr size_t kRowCharge = 64;

  // `backing` must outlive this object; `table_name` maps a table id to its
  // name. Each generation holds at most about budget_bytes / 2.
  WriteBehind(EmbeddingStore* backing, size_t budget_bytes,
              std::function<std::string(uint32_t)> table_name);
  // Stops the thread after writing what it holds (a failure is logged and
  // those rows are lost: the caller drains first).
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Takes `rows` into the filling generation, waiting while it is over its
  // half of the budget (unless it is empty). Returns the backing store's
  // error, taking nothing, while a write has failed and not been retried
  // successfully.
  Status Add(EvictedRows&& rows);

  // Calls fn(row) with the newest row of (table, key) held here, under the
  // lock (no copy); false if there is none.
  bool Find(uint32_t table, uint64_t key, const std::function<void(std::string_view)>& fn) const;

  // Waits until every row added before the call is in the backing store;
  // retries a failed write at once. Returns the failure if the write fails
  // again.
  Status Drain();

  struct Stats {
    uint64_t rows = 0;           // rows held now (both generations)
    uint64_t bytes = 0;          // bytes charged now
    uint64_t written_rows = 0;   // rows written to the backing store so far
    uint64_t batches = 0;        // backing Writes that carried them
    uint64_t add_wait_us = 0;    // time Add spent waiting for room
  };
  Stats stats() const;

 private:
  struct Generation {
    std::vector<EvictedRows> parts;  // in order of addition
    // (table, key) -> where its newest row is.
    struct Entry {
      uint32_t part;
      uint32_t row;
    };
    struct KeyHash {
      size_t operator()(const std::pair<uint32_t, uint64_t>& k) const;
    };
    std::unordered_map<std::pair<uint32_t, uint64_t>, Entry, KeyHash> index;
    size_t charged = 0;
    size_t row_count = 0;
    bool empty() const { return row_count == 0; }
    void Clear() {
      parts.clear();
      index.clear();
      charged = 0;
      row_count = 0;
    }
  };

  void Run();
  // Writes `gen` (one backing Write per table, the newest row of each key).
  Status WriteGeneration(const Generation& gen);
  static bool FindIn(const Generation& gen, uint32_t table, uint64_t key,
                     const std::function<void(std::string_view)>& fn);

  EmbeddingStore* const backing_;
  const size_t generation_budget_;
  const std::function<std::string(uint32_t)> table_name_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the thread: rows to write, a retry or stop
  std::condition_variable done_cv_;  // Add and Drain: a generation written or failed
  Generation filling_;               // guarded by mu_
  Generation writing_;               // guarded by mu_; read without it by the thread
  uint64_t filling_seq_ = 1;         // number of the filling generation
  uint64_t writing_seq_ = 0;         // number of the writing one
  Status error_;                     // the last failed write, until one succeeds
  uint64_t generations_done_ = 0;    // the number of the last generation written
  uint64_t failures_ = 0;            // failed writes
  bool retry_now_ = false;
  bool stop_ = false;
  uint64_t written_rows_ = 0;
  uint64_t batches_ = 0;
  uint64_t add_wait_us_ = 0;
  std::thread thread_;
};

}  // namespace msrec
