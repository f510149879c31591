// Configuration of one embedding table and its server-side sparse optimizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace msrec {

// The numeric values are stored in every row (row.h): append, never renumber.
enum class SparseOptimizerKind {
  kSgd = 0,
  kAdagrad = 1,
  kAdam = 2,
  kRowwiseAdagrad = 3,  // Adagrad with one accumulator per row
  kFtrl = 4,            // FTRL-Proximal (McMahan et al. 2013)
};

// The formulas are in docs/parameter_server.md ("Sparse optimizers").
struct SparseOptimizerConfig {
  SparseOptimizerKind kind = SparseOptimizerKind::kAdam;  // default: Adam
  float learning_rate = 1e-3f;   // step size (FTRL: alpha); default 1e-3
  float beta1 = 0.9f;            // Adam first-moment decay; default 0.9
  float beta2 = 0.999f;          // Adam second-moment decay; default 0.999
  float epsilon = 1e-8f;         // Adam/Adagrad/row-wise Adagrad denominator term; default 1e-8
  float initial_accumulator = 0.0f;  // Adagrad/row-wise Adagrad accumulator start; default 0
  float weight_decay = 0.0f;     // L2 added to the gradient (g += wd * w), all kinds; default 0
  float ftrl_beta = 1.0f;        // FTRL beta in the per-coordinate rate alpha / (beta + sqrt(n)),
                                 // > 0; default 1
  float ftrl_l1 = 0.0f;          // FTRL L1 strength (>= 0; larger gives more exact zeros); default 0
  float ftrl_l2 = 0.0f;          // FTRL L2 strength (>= 0); default 0
};

// The largest embedding dimension a table may have (the server's bound on a
// CreateTable request).
constexpr int64_t kMaxTableDim = 4096;

struct TableConfig {
  std::string name = "emb";      // table name; one RocksDB column family each
  int dim = 16;                  // embedding dimension
  float init_scale = 0.01f;      // initial weights ~ U(-init_scale, init_scale), seeded per key
  uint64_t seed = 2022;          // seed of the initial values
  SparseOptimizerConfig optimizer;
  // Admission: a key gets a trainable row only once this many pushes have
  // contained it (>= 1); the push that reaches the count creates the row and
  // applies its gradient. Until then Pull gives the key's initial value and
  // Push only counts the sighting. 1: every pushed key gets a row at once.
  // Default: 1.
  int admit_after = 1;
  // Most keys whose sightings are counted while they wait for admission (per
  // table, in memory, lost on restart; used only when admit_after > 1). When
  // it is full, every count is halved and the keys that reach 0 are forgotten,
  // repeatedly until there is room: rare keys go first. Default: 1M keys
  // (about 40 MB).
  size_t admission_capacity = size_t{1} << 20;
  // Rows not pushed for more than this many steps (last_step <
  // current_step - ttl_steps) are deleted, with their optimizer state, by
  // SparseTable::EvictExpired. 0: rows never expire. Default: 0.
  int64_t ttl_steps = 0;
};

// Parses "sgd" | "adagrad" | "adam" | "rowwise_adagrad" | "ftrl"; false (and
// `kind` untouched) for anything else.
bool ParseSparseOptimizerKind(const std::string& name, SparseOptimizerKind* kind);

}  // namespace msrec
