// Configuration of one embedding table and its server-side sparse optimizer.
#pragma once

#include <cstdint>
#include <string>

namespace msrec {

enum class SparseOptimizerKind { kSgd = 0, kAdagrad = 1, kAdam = 2 };

struct SparseOptimizerConfig {
  SparseOptimizerKind kind = SparseOptimizerKind::kAdam;  // default: Adam
  float learning_rate = 1e-3f;   // step size
  float beta1 = 0.9f;            // Adam first-moment decay
  float beta2 = 0.999f;          // Adam second-moment decay
  float epsilon = 1e-8f;         // Adam/Adagrad denominator term
  float initial_accumulator = 0.0f;  // Adagrad accumulator start value
  float weight_decay = 0.0f;     // L2 added to the gradient (g += wd * w)
};

struct TableConfig {
  std::string name = "emb";      // table name; one RocksDB column family each
  int dim = 16;                  // embedding dimension
  float init_scale = 0.01f;      // initial weights ~ U(-init_scale, init_scale), seeded per key
  uint64_t seed = 2022;          // seed of the initial values
  SparseOptimizerConfig optimizer;
};

// Parses "sgd" | "adagrad" | "adam".
bool ParseSparseOptimizerKind(const std::string& name, SparseOptimizerKind* kind);

}  // namespace msrec
