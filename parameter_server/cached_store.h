// A DRAM row cache in front of another EmbeddingStore (normally RocksDB): hot
// rows are read and rewritten in memory; cold rows go to the backing store
// when they are evicted (write-back). Details in docs/parameter_server.md,
// "Row cache".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "parameter_server/embedding_store.h"

namespace msrec {

struct RowCacheOptions {
  // Byte budget of the cache. Charged per cached row: the row's bytes rounded
  // up to a multiple of 8 (at least 8: its space in the shard's row arena)
  // plus a fixed bookkeeping charge of 64 bytes (two 32-byte index slots; the
  // index is kept at most half full, so it really holds 2 to 4 slots per row).
  // A key reserved by a read that is fetching it is charged the 64 bytes.
  // Not charged: the unused tail of each shard's current 1 MiB arena block
  // and the space of evicted rows kept for the next rows of their size (the
  // arena is compacted when that exceeds half of it). Split evenly over the
  // shards. Must be > 0. Default: 1 GiB.
  size_t capacity_bytes = size_t{1} << 30;
  // Number of independently locked shards; a key goes to shard
  // Mix64(key) % shards, whatever its table. 1..1024. Default: 16.
  int shards = 16;
  // Write-behind: the part of capacity_bytes that holds evicted dirty rows
  // until a background thread has written them to the backing store, so that
  // no request waits for the backing store's Write (docs/parameter_server.md,
  // "Write-behind"). 0 (the default here): the evicting call writes them
  // itself. OpenStore sets DefaultWriteBehindBytes(capacity) when
  // StoreOptions::write_behind (off by default). Must be less
  // than capacity_bytes; the shards share the rest.
  size_t write_behind_bytes = 0;
};

// The write-behind budget OpenStore gives a cache of `capacity_bytes` with
// StoreOptions::write_behind: 1/16 of it, at most 64 MiB.
size_t DefaultWriteBehindBytes(size_t capacity_bytes);

// The store returned by MakeCachedStore.
//
// Semantics: the same as the backing store's (embedding_store.h), with these
// additions:
// - Write puts the rows in the cache marked dirty; the backing store gets them
//   only when they are evicted (one backing Write per table per eviction
//   batch) or at Flush. If a write-back fails, the rows stay cached and dirty
//   and the call that triggered the eviction returns the error.
// - With write-behind (write_behind_bytes > 0) an eviction hands its dirty
//   rows to a background thread instead and returns; a lookup that misses the
//   cache finds them there until the backing store has them. If a background
//   write fails, its rows stay there (readable) and are retried; meanwhile
//   every eviction returns the error (evicting nothing) and so does Flush.
//   Flush, Close, ForEach, Count, CheckpointTo, Delete, DropTable and
//   NewBulkWriter first wait until the background thread has written every
//   row handed to it.
// - Eviction is CLOCK (second chance), not LRU: a read or write of a row only
//   sets its reference bit; when a shard is over budget, a hand sweeps its
//   index, clearing set bits and evicting the rows whose bit is clear. A row
//   used since the hand last passed it survives the next sweep; among the
//   others the order is the index's, not the age.
// - MultiGetVisit serves cached rows and fetches all the others with one
//   backing MultiGetVisit (same `sorted` flag); the fetched rows are cached
//   clean. A key the backing store has no row for is cached as absent (64
//   bytes, evicted like a row): until a Write gives it a row, lookups of it
//   are answered "not found" without asking the backing store. (A new key is
//   looked up by its step's prefetch, pull and push: one backing lookup
//   instead of three.) Cached rows are visited where
//   they lie, without a copy, while the shards are locked, up to the first
//   miss; the hits after it are copied out before the locks are released for
//   the backing lookup.
// - Flush writes every dirty row back (one Write per table and 65,536 rows,
//   which bounds the copies a write-back needs), then flushes the backing
//   store.
// - ForEach and Count first write the dirty rows back (they stay cached,
//   clean), then ask the backing store.
// - Delete drops the keys from the cache and deletes them from the backing
//   store (one backing Delete per call).
// - Destruction writes the dirty rows back (errors are logged) before the
//   backing store is destroyed.
// A request can overshoot the budget while it runs (rows reserved for its
// misses); the shard is trimmed back to its budget when the request ends.
//
// Thread safety: safe for concurrent calls. Each shard has a mutex; a
// MultiGetVisit, Write or Delete locks the shards its keys fall in once
// (ascending, all held together) and handles its keys in one pass in request
// order; a read with misses locks the shards of its misses once more to
// insert the fetched rows. A read that misses reserves the keys before
// fetching them, so a write, eviction or Delete that runs meanwhile is never
// overwritten by the older fetched row. Concurrent requests on the same
// shards therefore run one after the other.
class CachedStore : public EmbeddingStore {
 public:
  struct Stats {
    uint64_t hits = 0;                // keys MultiGetVisit found in the cache
    uint64_t misses = 0;              // keys MultiGetVisit asked the backing store for
    double hit_rate = 0.0;            // hits / (hits + misses); 0 before any lookup
    uint64_t bytes_used = 0;          // bytes charged now (see RowCacheOptions)
    uint64_t capacity_bytes = 0;      // the budget
    uint64_t rows = 0;                // rows cached now
    uint64_t absent = 0;              // keys cached as having no row in the backing store
    uint64_t dirty_rows = 0;          // cached rows not yet written to the backing store
    uint64_t evictions = 0;           // rows evicted (clean and dirty)
    uint64_t write_backs = 0;         // dirty rows written to the backing store (evictions,
                                      // Flush, ForEach/Count)
    uint64_t write_back_batches = 0;  // backing Write calls that carried them
    uint64_t write_behind_rows = 0;   // evicted rows waiting for the background write
    uint64_t write_behind_bytes = 0;  // what they are charged (part of bytes_used)
    uint64_t write_behind_hits = 0;   // misses answered from them
    double write_behind_wait_s = 0;   // time evictions waited for room in the write-behind
  };

  // A consistent snapshot per shard (the counters of different shards are
  // read one after another).
  virtual Stats stats() const = 0;
};

// Wraps `backing` (owned; its existing tables are served too) in a row cache.
// InvalidArgument if `backing` is null, capacity_bytes is 0 or shards is
// outside 1..1024. The result is a CachedStore: dynamic_cast it to read
// stats().
Result<std::unique_ptr<EmbeddingStore>> MakeCachedStore(std::unique_ptr<EmbeddingStore> backing,
                                                        const RowCacheOptions& options);

}  // namespace msrec
