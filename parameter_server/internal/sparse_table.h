// SparseTable: the server-side logic of one embedding table over an
// EmbeddingStore — deterministic initial values, de-duplicated and sorted
// reads, optimizer updates written back as one batch. SparseShard groups the
// tables of one store; the local client and the future remote server (MPI)
// both wrap a SparseShard.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/part_pool.h"
#include "common/status.h"
#include "parameter_server/embedding_store.h"
#include "parameter_server/internal/row.h"
#include "parameter_server/sparse_optimizer.h"
#include "parameter_server/table_config.h"

namespace msrec {

// The initial weights of `key` (dim floats into `out`): out[j] is uniform in
// [-init_scale, init_scale), computed from Mix64 of the key, the seed and j
// only, so any shard count, batch order or process gives the same values.
void InitialWeights(uint64_t key, uint64_t seed, float init_scale, int dim, float* out);

// Thread safety: Pull is safe to call concurrently with anything; Push and
// EvictExpired calls on one table are serialized by a mutex (each is a
// read-modify-write of its rows). A Pull concurrent with a Push sees each row
// before or after it.
//
// Parts: with a PartPool (set_pool) of P > 1 threads, a Pull or Push of at
// least kMinKeysPerPart * 2 distinct keys to a table without admission
// (admit_after 1) is split into up to P parts by
// Mix64(key) % P and the parts run on the pool's threads, each with its own
// store calls. The row cache shards keys by Mix64(key) % shards too, so with
// power-of-two counts the parts lock disjoint shards and do not wait for
// each other. Every key is still updated exactly once from its own row and
// gradient, so the result does not depend on P.
class SparseTable {
 public:
  // Builds the table; InvalidArgument if `config` is invalid (dim <= 0,
  // init_scale < 0, bad optimizer hyperparameters). `store` is not owned, must
  // outlive the table and must already hold table `config.name`.
  static Result<std::unique_ptr<SparseTable>> Create(const TableConfig& config,
                                                     EmbeddingStore* store);

  // Pulls and pushes of at least this many distinct keys per part are split.
  static constexpr size_t kMinKeysPerPart = 2048;

  const TableConfig& config() const { return config_; }

  // The pool large requests are split over (null: none). Not owned; must
  // outlive the table. Set before the table is used.
  void set_pool(PartPool* pool) { pool_ = pool; }
  const RowLayout& layout() const { return layout_; }

  // See PsClient::Pull. Corruption if a stored row does not match the table.
  Status Pull(const uint64_t* keys, size_t n, float* weights) const;

  // See PsClient::Push. InvalidArgument if keys repeat or step < 1. Keys
  // without a row are subject to admission (TableConfig::admit_after): a key
  // not yet admitted has its sighting counted and its gradient dropped.
  Status Push(const uint64_t* keys, size_t n, const float* grads, int64_t step);

  // Deletes the rows (and so their optimizer state) whose last push is older
  // than ttl_steps: last_step < current_step - ttl_steps. Returns how many
  // were deleted; 0 without a scan when ttl_steps == 0. A deleted key starts
  // over: initial value, admission count from zero. Scans the whole table
  // (ForEach) and deletes in batches; Push to this table waits meanwhile.
  // Errors: the store's, Corruption for a row that does not match the table
  // (nothing is deleted after it).
  Result<uint64_t> EvictExpired(int64_t current_step);

  // Keys counted for admission now (tests, monitoring).
  size_t PendingAdmissions() const;

 private:
  SparseTable(const TableConfig& config, std::unique_ptr<SparseOptimizer> optimizer,
              EmbeddingStore* store);

  // Counts one sighting of a key that has no row; true when the key is
  // admitted now (its count is then forgotten). Caller holds push_mu_ (a
  // table with admission is never split into parts).
  bool Admit(uint64_t key);

  // How many parts a request of `unique` distinct keys is split into.
  int PartsFor(size_t unique) const;

  // Pull of the sorted distinct keys[0..m) (pos[u]: the request position of
  // keys[u]'s first occurrence) into `weights`.
  Status PullPart(const uint64_t* keys, const uint32_t* pos, size_t m, float* weights) const;

  // Push of the sorted distinct keys[0..m) (pos[u]: the request position of
  // keys[u], its gradient's row in `grads`).
  Status PushPart(const uint64_t* keys, const uint32_t* pos, size_t m, const float* grads,
                  int64_t step);

  // Splits s.unique_keys (and their positions) into `parts` by
  // Mix64(key) % parts and runs fn(part, keys, positions, count) for each on
  // the pool; returns the first part's error.
  Status RunParts(int parts, const std::vector<uint64_t>& keys,
                  const std::vector<uint32_t>& positions,
                  const std::function<Status(const uint64_t*, const uint32_t*, size_t)>& fn) const;

  const TableConfig config_;
  const std::unique_ptr<SparseOptimizer> optimizer_;
  const RowLayout layout_;
  EmbeddingStore* const store_;
  PartPool* pool_ = nullptr;
  mutable std::mutex push_mu_;  // serializes Push and EvictExpired
  // Sightings of keys waiting for admission; guarded by push_mu_.
  std::unordered_map<uint64_t, uint32_t> pending_;
};

// The tables of one store. Thread safety: safe for concurrent calls.
class SparseShard {
 public:
  // `store` is owned. Pulls and pushes of many keys are split over
  // `apply_threads` threads (SparseTable, "Parts"); 1: the caller's only.
  explicit SparseShard(std::unique_ptr<EmbeddingStore> store, int apply_threads = 1);

  // Creates the table (and its store table) or checks that an existing one
  // has the same dim and optimizer kind: InvalidArgument otherwise, also when
  // the rows already in the store were written with another dim or optimizer.
  // Hyperparameters (learning rate, ...) of an existing table are kept.
  Status CreateTable(const TableConfig& config);

  // Removes the table and its rows from the shard and its store. NotFound if
  // the table was not created. Must not run concurrently with calls on it.
  Status DropTable(const std::string& table);

  // NotFound if the table was not created.
  Status Pull(const std::string& table, const uint64_t* keys, size_t n, float* weights) const;
  Status Push(const std::string& table, const uint64_t* keys, size_t n, const float* grads,
              int64_t step);
  // EmbeddingStore::Prefetch of the keys' rows (a later Pull finds them in
  // the row cache). NotFound if the table was not created.
  Status Prefetch(const std::string& table, const uint64_t* keys, size_t n) const;
  Status Flush();
  Status Close();  // EmbeddingStore::Close: the server's last call

  // SparseTable::EvictExpired on every table; the total deleted. Stops at the
  // first error.
  Result<uint64_t> EvictExpired(int64_t current_step);

  // The backing store (dumps, checkpoints, tests). Owned by the shard.
  EmbeddingStore* store() const { return store_.get(); }

 private:
  Result<SparseTable*> Find(const std::string& table) const;

  const std::unique_ptr<EmbeddingStore> store_;
  PartPool pool_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<SparseTable>> tables_;  // guarded by mu_
};

}  // namespace msrec
