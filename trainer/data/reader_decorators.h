// Readers that wrap another Reader: the training epoch's shuffle and a data-
// parallel worker's share of the batches. Not thread-safe (one consumer).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "trainer/data/reader.h"

namespace msrec {

// A Reader over `inner` that reports the inner reader's stats, progress,
// schema and scenario map.
class ReaderDecorator : public Reader {
 public:
  explicit ReaderDecorator(std::unique_ptr<Reader> inner) : inner_(std::move(inner)) {}
  ReaderStats stats() const override { return inner_->stats(); }
  double Progress() const override { return inner_->Progress(); }
  const Schema& schema() const override { return inner_->schema(); }
  const ScenarioMap& scenario_map() const override { return inner_->scenario_map(); }

 protected:
  std::unique_ptr<Reader> inner_;
};

// Shuffles rows through a pool of up to `pool_rows` rows: reads the inner
// reader's batches until the pool is full, emits its rows in a seeded random
// order as batches of `batch_size`, refills. A pool as large as the data
// shuffles the whole epoch; a smaller one is a window shuffle (bounded
// memory). The inner batches are kept as they are and each row is copied once,
// into the batch it is emitted in. The same seed gives the same order.
class ShuffledReader : public ReaderDecorator {
 public:
  ShuffledReader(std::unique_ptr<Reader> inner, int64_t pool_rows, int64_t batch_size,
                 uint64_t seed)
      : ReaderDecorator(std::move(inner)),
        pool_rows_(pool_rows),
        batch_size_(batch_size),
        rng_(seed) {}

  Result<bool> Next(Batch* batch) override;

 private:
  Result<bool> Refill();

  const int64_t pool_rows_;
  const int64_t batch_size_;
  std::mt19937_64 rng_;
  std::vector<Batch> pool_;                            // the inner reader's batches
  std::vector<std::pair<int32_t, int32_t>> order_;     // (batch, row) in emission order
  size_t emitted_ = 0;
};

// Keeps the non-empty batches index, index + count, index + 2 count, ... of
// the inner reader (DataSharding::kBatches: every worker reads everything and
// step t's batches together are one process's batch t of count x the size).
class StridedReader : public ReaderDecorator {
 public:
  StridedReader(std::unique_ptr<Reader> inner, int index, int count)
      : ReaderDecorator(std::move(inner)), index_(index), count_(count) {}

  Result<bool> Next(Batch* batch) override;

 private:
  const int index_, count_;
  int64_t seen_ = 0;  // non-empty batches read so far
};

}  // namespace msrec
