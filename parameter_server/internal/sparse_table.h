// SparseTable: the server-side logic of one embedding table over an
// EmbeddingStore — deterministic initial values, de-duplicated and sorted
// reads, optimizer updates written back as one batch. SparseShard groups the
// tables of one store; the local client and the future remote server (MPI)
// both wrap a SparseShard.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

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
class SparseTable {
 public:
  // Builds the table; InvalidArgument if `config` is invalid (dim <= 0,
  // init_scale < 0, bad optimizer hyperparameters). `store` is not owned, must
  // outlive the table and must already hold table `config.name`.
  static Result<std::unique_ptr<SparseTable>> Create(const TableConfig& config,
                                                     EmbeddingStore* store);

  const TableConfig& config() const { return config_; }
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
  // admitted now (its count is then forgotten). Caller holds push_mu_.
  bool Admit(uint64_t key);

  const TableConfig config_;
  const std::unique_ptr<SparseOptimizer> optimizer_;
  const RowLayout layout_;
  EmbeddingStore* const store_;
  mutable std::mutex push_mu_;  // serializes Push and EvictExpired
  // Sightings of keys waiting for admission; guarded by push_mu_.
  std::unordered_map<uint64_t, uint32_t> pending_;
};

// The tables of one store. Thread safety: safe for concurrent calls.
class SparseShard {
 public:
  // `store` is owned.
  explicit SparseShard(std::unique_ptr<EmbeddingStore> store);

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
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<SparseTable>> tables_;  // guarded by mu_
};

}  // namespace msrec
