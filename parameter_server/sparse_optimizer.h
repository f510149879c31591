// Server-side sparse optimizers: update one embedding row (weights + its
// optimizer state) from the gradient of that row. Rows are independent, so
// the optimizers are stateless objects and the state lives in the row.
#pragma once

#include <cstdint>
#include <memory>

#include "common/status.h"
#include "parameter_server/table_config.h"

namespace msrec {

// Thread safety: immutable after construction; Apply may run concurrently on
// different rows.
class SparseOptimizer {
 public:
  virtual ~SparseOptimizer() = default;

  virtual SparseOptimizerKind kind() const = 0;

  // Number of state floats stored per row of dimension `dim`.
  virtual int StateFloats(int dim) const = 0;

  // Writes the state of a new row (StateFloats(dim) floats) whose weights are
  // `weights` (dim floats, the table's initial values). Only FTRL reads them:
  // it starts z so that the weights computed from (z, n) equal `weights`.
  virtual void InitState(const float* weights, float* state, int dim) const = 0;

  // Updates `weights` (dim floats) and `state` (StateFloats(dim) floats) in
  // place from `grad` (dim floats) at global step `step` (>= 1). With weight
  // decay wd > 0 the gradient used is g + wd * w.
  virtual void Apply(float* weights, float* state, const float* grad, int dim,
                     int64_t step) const = 0;
};

// Builds the optimizer of `config`; InvalidArgument on a bad hyperparameter
// (learning_rate <= 0, beta1/beta2 outside [0, 1), epsilon <= 0,
// weight_decay < 0, initial_accumulator < 0, ftrl_beta <= 0, ftrl_l1 < 0,
// ftrl_l2 < 0) or an unknown kind.
Result<std::unique_ptr<SparseOptimizer>> MakeSparseOptimizer(const SparseOptimizerConfig& config);

// "sgd" | "adagrad" | "adam" | "rowwise_adagrad" | "ftrl" ("unknown" otherwise).
const char* SparseOptimizerKindName(SparseOptimizerKind kind);

}  // namespace msrec
