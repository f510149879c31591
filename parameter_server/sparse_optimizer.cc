#include "parameter_server/sparse_optimizer.h"

#include <cmath>
#include <string>

namespace msrec {
namespace {

// w -= lr * g.
class SgdOptimizer : public SparseOptimizer {
 public:
  explicit SgdOptimizer(const SparseOptimizerConfig& c) : c_(c) {}
  SparseOptimizerKind kind() const override { return SparseOptimizerKind::kSgd; }
  int StateFloats(int dim) const override { return 0; }
  void InitState(float* state, int dim) const override {}
  void Apply(float* w, float* state, const float* grad, int dim, int64_t step) const override {
    for (int j = 0; j < dim; ++j) {
      const float g = grad[j] + c_.weight_decay * w[j];
      w[j] -= c_.learning_rate * g;
    }
  }

 private:
  const SparseOptimizerConfig c_;
};

// acc += g^2; w -= lr * g / (sqrt(acc) + eps). State: acc (dim floats).
class AdagradOptimizer : public SparseOptimizer {
 public:
  explicit AdagradOptimizer(const SparseOptimizerConfig& c) : c_(c) {}
  SparseOptimizerKind kind() const override { return SparseOptimizerKind::kAdagrad; }
  int StateFloats(int dim) const override { return dim; }
  void InitState(float* state, int dim) const override {
    for (int j = 0; j < dim; ++j) state[j] = c_.initial_accumulator;
  }
  void Apply(float* w, float* acc, const float* grad, int dim, int64_t step) const override {
    for (int j = 0; j < dim; ++j) {
      const float g = grad[j] + c_.weight_decay * w[j];
      acc[j] += g * g;
      w[j] -= c_.learning_rate * g / (std::sqrt(acc[j]) + c_.epsilon);
    }
  }

 private:
  const SparseOptimizerConfig c_;
};

// State: m (dim), v (dim), t (1 float: the number of updates of this row, used
// for bias correction; exact up to 2^24 updates, after which the correction is 1
// to float precision anyway).
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  t += 1
//   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
class AdamOptimizer : public SparseOptimizer {
 public:
  explicit AdamOptimizer(const SparseOptimizerConfig& c) : c_(c) {}
  SparseOptimizerKind kind() const override { return SparseOptimizerKind::kAdam; }
  int StateFloats(int dim) const override { return 2 * dim + 1; }
  void InitState(float* state, int dim) const override {
    for (int j = 0; j < 2 * dim + 1; ++j) state[j] = 0.0f;
  }
  void Apply(float* w, float* state, const float* grad, int dim, int64_t step) const override {
    float* m = state;
    float* v = state + dim;
    float& t = state[2 * dim];
    t += 1.0f;
    const float bc1 = 1.0f - std::pow(c_.beta1, t);
    const float bc2 = 1.0f - std::pow(c_.beta2, t);
    for (int j = 0; j < dim; ++j) {
      const float g = grad[j] + c_.weight_decay * w[j];
      m[j] = c_.beta1 * m[j] + (1.0f - c_.beta1) * g;
      v[j] = c_.beta2 * v[j] + (1.0f - c_.beta2) * g * g;
      const float mhat = m[j] / bc1;
      const float vhat = v[j] / bc2;
      w[j] -= c_.learning_rate * mhat / (std::sqrt(vhat) + c_.epsilon);
    }
  }

 private:
  const SparseOptimizerConfig c_;
};

Status Validate(const SparseOptimizerConfig& c) {
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument(std::string("sparse optimizer ") +
                                   SparseOptimizerKindName(c.kind) + ": " + what);
  };
  if (!(c.learning_rate > 0.0f)) return bad("learning_rate must be > 0");
  if (!(c.weight_decay >= 0.0f)) return bad("weight_decay must be >= 0");
  if (c.kind == SparseOptimizerKind::kAdagrad || c.kind == SparseOptimizerKind::kAdam) {
    if (!(c.epsilon > 0.0f)) return bad("epsilon must be > 0");
  }
  if (c.kind == SparseOptimizerKind::kAdagrad && !(c.initial_accumulator >= 0.0f)) {
    return bad("initial_accumulator must be >= 0");
  }
  if (c.kind == SparseOptimizerKind::kAdam) {
    if (!(c.beta1 >= 0.0f && c.beta1 < 1.0f)) return bad("beta1 must be in [0, 1)");
    if (!(c.beta2 >= 0.0f && c.beta2 < 1.0f)) return bad("beta2 must be in [0, 1)");
  }
  return Status::OK();
}

}  // namespace

const char* SparseOptimizerKindName(SparseOptimizerKind kind) {
  switch (kind) {
    case SparseOptimizerKind::kSgd:
      return "sgd";
    case SparseOptimizerKind::kAdagrad:
      return "adagrad";
    case SparseOptimizerKind::kAdam:
      return "adam";
  }
  return "unknown";
}

Result<std::unique_ptr<SparseOptimizer>> MakeSparseOptimizer(const SparseOptimizerConfig& config) {
  MSREC_RETURN_IF_ERROR(Validate(config));
  switch (config.kind) {
    case SparseOptimizerKind::kSgd:
      return std::unique_ptr<SparseOptimizer>(new SgdOptimizer(config));
    case SparseOptimizerKind::kAdagrad:
      return std::unique_ptr<SparseOptimizer>(new AdagradOptimizer(config));
    case SparseOptimizerKind::kAdam:
      return std::unique_ptr<SparseOptimizer>(new AdamOptimizer(config));
  }
  return Status::InvalidArgument("unknown sparse optimizer kind " +
                                 std::to_string(static_cast<int>(config.kind)));
}

}  // namespace msrec
