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
  void InitState(const float* w, float* state, int dim) const override {}
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
  void InitState(const float* w, float* state, int dim) const override {
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
  void InitState(const float* w, float* state, int dim) const override {
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

// One accumulator for the whole row (1 float, starts at initial_accumulator):
//   acc += mean_j(g_j^2);  w_j -= lr * g_j / (sqrt(acc) + eps)
// A quarter of Adagrad's memory for dim 16 rows at nearly the same quality.
class RowwiseAdagradOptimizer : public SparseOptimizer {
 public:
  explicit RowwiseAdagradOptimizer(const SparseOptimizerConfig& c) : c_(c) {}
  SparseOptimizerKind kind() const override { return SparseOptimizerKind::kRowwiseAdagrad; }
  int StateFloats(int dim) const override { return 1; }
  void InitState(const float* w, float* state, int dim) const override {
    state[0] = c_.initial_accumulator;
  }
  void Apply(float* w, float* acc, const float* grad, int dim, int64_t step) const override {
    float sum_sq = 0.0f;
    for (int j = 0; j < dim; ++j) {
      const float g = grad[j] + c_.weight_decay * w[j];
      sum_sq += g * g;
    }
    acc[0] += sum_sq / static_cast<float>(dim);
    const float rate = c_.learning_rate / (std::sqrt(acc[0]) + c_.epsilon);
    for (int j = 0; j < dim; ++j) {
      const float g = grad[j] + c_.weight_decay * w[j];
      w[j] -= rate * g;
    }
  }

 private:
  const SparseOptimizerConfig c_;
};

// FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction", Algorithm 1),
// per coordinate. State: z (dim), n (dim). With alpha = learning_rate:
//   sigma = (sqrt(n + g^2) - sqrt(n)) / alpha;  z += g - sigma * w;  n += g^2
//   w = |z| <= l1 ? 0 : -(z - sign(z) l1) / ((beta + sqrt(n)) / alpha + l2)
// A new row starts with n = 0 and z = -(w0 D0 + sign(w0) l1), D0 = beta/alpha + l2,
// which is the z whose computed weight is the initial weight w0: the table's
// random initialization is kept, not replaced by zeros.
class FtrlOptimizer : public SparseOptimizer {
 public:
  explicit FtrlOptimizer(const SparseOptimizerConfig& c) : c_(c) {}
  SparseOptimizerKind kind() const override { return SparseOptimizerKind::kFtrl; }
  int StateFloats(int dim) const override { return 2 * dim; }
  void InitState(const float* w, float* state, int dim) const override {
    float* z = state;
    float* n = state + dim;
    const float d0 = c_.ftrl_beta / c_.learning_rate + c_.ftrl_l2;
    for (int j = 0; j < dim; ++j) {
      const float sign = w[j] > 0.0f ? 1.0f : (w[j] < 0.0f ? -1.0f : 0.0f);
      z[j] = -(w[j] * d0 + sign * c_.ftrl_l1);
      n[j] = 0.0f;
    }
  }
  void Apply(float* w, float* state, const float* grad, int dim, int64_t step) const override {
    float* z = state;
    float* n = state + dim;
    const float alpha = c_.learning_rate;
    for (int j = 0; j < dim; ++j) {
      const float g = grad[j] + c_.weight_decay * w[j];
      const float n_new = n[j] + g * g;
      const float sigma = (std::sqrt(n_new) - std::sqrt(n[j])) / alpha;
      z[j] += g - sigma * w[j];
      n[j] = n_new;
      if (std::fabs(z[j]) <= c_.ftrl_l1) {
        w[j] = 0.0f;
      } else {
        const float sign = z[j] > 0.0f ? 1.0f : -1.0f;
        w[j] =
            -(z[j] - sign * c_.ftrl_l1) / ((c_.ftrl_beta + std::sqrt(n_new)) / alpha + c_.ftrl_l2);
      }
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
  const bool adagrad =
      c.kind == SparseOptimizerKind::kAdagrad || c.kind == SparseOptimizerKind::kRowwiseAdagrad;
  if (adagrad || c.kind == SparseOptimizerKind::kAdam) {
    if (!(c.epsilon > 0.0f)) return bad("epsilon must be > 0");
  }
  if (adagrad && !(c.initial_accumulator >= 0.0f)) {
    return bad("initial_accumulator must be >= 0");
  }
  if (c.kind == SparseOptimizerKind::kFtrl) {
    if (!(c.ftrl_beta > 0.0f)) return bad("ftrl_beta must be > 0");
    if (!(c.ftrl_l1 >= 0.0f)) return bad("ftrl_l1 must be >= 0");
    if (!(c.ftrl_l2 >= 0.0f)) return bad("ftrl_l2 must be >= 0");
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
    case SparseOptimizerKind::kRowwiseAdagrad:
      return "rowwise_adagrad";
    case SparseOptimizerKind::kFtrl:
      return "ftrl";
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
    case SparseOptimizerKind::kRowwiseAdagrad:
      return std::unique_ptr<SparseOptimizer>(new RowwiseAdagradOptimizer(config));
    case SparseOptimizerKind::kFtrl:
      return std::unique_ptr<SparseOptimizer>(new FtrlOptimizer(config));
  }
  return Status::InvalidArgument("unknown sparse optimizer kind " +
                                 std::to_string(static_cast<int>(config.kind)));
}

}  // namespace msrec
