// Each sparse optimizer against values computed by hand for two steps.
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "parameter_server/sparse_optimizer.h"

namespace msrec {
namespace {

constexpr float kTol = 1e-6f;

std::unique_ptr<SparseOptimizer> Make(const SparseOptimizerConfig& c) {
  auto opt = MakeSparseOptimizer(c);
  EXPECT_TRUE(opt.ok()) << opt.status().ToString();
  return std::move(opt).value();
}

TEST(SparseOptimizerTest, ParseKind) {
  SparseOptimizerKind kind;
  ASSERT_TRUE(ParseSparseOptimizerKind("sgd", &kind));
  EXPECT_EQ(kind, SparseOptimizerKind::kSgd);
  ASSERT_TRUE(ParseSparseOptimizerKind("adagrad", &kind));
  EXPECT_EQ(kind, SparseOptimizerKind::kAdagrad);
  ASSERT_TRUE(ParseSparseOptimizerKind("adam", &kind));
  EXPECT_EQ(kind, SparseOptimizerKind::kAdam);
  ASSERT_TRUE(ParseSparseOptimizerKind("rowwise_adagrad", &kind));
  EXPECT_EQ(kind, SparseOptimizerKind::kRowwiseAdagrad);
  ASSERT_TRUE(ParseSparseOptimizerKind("ftrl", &kind));
  EXPECT_EQ(kind, SparseOptimizerKind::kFtrl);
  EXPECT_FALSE(ParseSparseOptimizerKind("lamb", &kind));
  // Rows store the numeric kind: the values never change.
  EXPECT_EQ(static_cast<int>(SparseOptimizerKind::kRowwiseAdagrad), 3);
  EXPECT_EQ(static_cast<int>(SparseOptimizerKind::kFtrl), 4);
  EXPECT_STREQ(SparseOptimizerKindName(SparseOptimizerKind::kRowwiseAdagrad), "rowwise_adagrad");
  EXPECT_STREQ(SparseOptimizerKindName(SparseOptimizerKind::kFtrl), "ftrl");
}

TEST(SparseOptimizerTest, SgdTwoSteps) {
  SparseOptimizerConfig c;
  c.kind = SparseOptimizerKind::kSgd;
  c.learning_rate = 0.1f;
  auto opt = Make(c);
  EXPECT_EQ(opt->StateFloats(2), 0);
  std::vector<float> w = {1.0f, -2.0f};
  const float g1[] = {0.5f, 1.0f};
  opt->Apply(w.data(), nullptr, g1, 2, 1);
  // w = w - 0.1 g: 1 - 0.05 = 0.95, -2 - 0.1 = -2.1
  EXPECT_NEAR(w[0], 0.95f, kTol);
  EXPECT_NEAR(w[1], -2.1f, kTol);
  const float g2[] = {-1.0f, 0.0f};
  opt->Apply(w.data(), nullptr, g2, 2, 2);
  // 0.95 + 0.1 = 1.05; -2.1 unchanged
  EXPECT_NEAR(w[0], 1.05f, kTol);
  EXPECT_NEAR(w[1], -2.1f, kTol);
}

TEST(SparseOptimizerTest, SgdWeightDecay) {
  SparseOptimizerConfig c;
  c.kind = SparseOptimizerKind::kSgd;
  c.learning_rate = 0.1f;
  c.weight_decay = 0.1f;
  auto opt = Make(c);
  float w = 1.0f;
  const float g = 0.5f;
  opt->Apply(&w, nullptr, &g, 1, 1);
  // g' = 0.5 + 0.1 * 1 = 0.6; w = 1 - 0.06 = 0.94
  EXPECT_NEAR(w, 0.94f, kTol);
  opt->Apply(&w, nullptr, &g, 1, 2);
  // g' = 0.5 + 0.1 * 0.94 = 0.594; w = 0.94 - 0.0594 = 0.8806
  EXPECT_NEAR(w, 0.8806f, kTol);
}

TEST(SparseOptimizerTest, AdagradTwoSteps) {
  SparseOptimizerConfig c;
  c.kind = SparseOptimizerKind::kAdagrad;
  c.learning_rate = 0.1f;
  c.epsilon = 1e-8f;
  c.initial_accumulator = 0.0f;
  auto opt = Make(c);
  ASSERT_EQ(opt->StateFloats(2), 2);
  std::vector<float> w = {1.0f, -1.0f};
  std::vector<float> acc(2, -1.0f);
  opt->InitState(nullptr, acc.data(), 2);
  EXPECT_EQ(acc, std::vector<float>({0.0f, 0.0f}));
  const float g1[] = {0.5f, 2.0f};
  opt->Apply(w.data(), acc.data(), g1, 2, 1);
  // acc = 0.25, 4; w = 1 - 0.1 * 0.5 / 0.5 = 0.9; -1 - 0.1 * 2 / 2 = -1.1
  EXPECT_NEAR(acc[0], 0.25f, kTol);
  EXPECT_NEAR(acc[1], 4.0f, kTol);
  EXPECT_NEAR(w[0], 0.9f, kTol);
  EXPECT_NEAR(w[1], -1.1f, kTol);
  const float g2[] = {1.5f, 0.0f};
  opt->Apply(w.data(), acc.data(), g2, 2, 2);
  // acc = 0.25 + 2.25 = 2.5; w = 0.9 - 0.1 * 1.5 / sqrt(2.5) = 0.9 - 0.0948683298 = 0.8051316702
  EXPECT_NEAR(acc[0], 2.5f, kTol);
  EXPECT_NEAR(w[0], 0.8051316702f, kTol);
  EXPECT_NEAR(acc[1], 4.0f, kTol);
  EXPECT_NEAR(w[1], -1.1f, kTol);
}

TEST(SparseOptimizerTest, AdagradInitialAccumulator) {
  SparseOptimizerConfig c;
  c.kind = SparseOptimizerKind::kAdagrad;
  c.learning_rate = 0.1f;
  c.initial_accumulator = 0.75f;
  auto opt = Make(c);
  float w = 0.0f;
  float acc;
  opt->InitState(nullptr, &acc, 1);
  EXPECT_EQ(acc, 0.75f);
  const float g = 0.5f;
  opt->Apply(&w, &acc, &g, 1, 1);
  // acc = 0.75 + 0.25 = 1; w = 0 - 0.1 * 0.5 / 1 = -0.05
  EXPECT_NEAR(acc, 1.0f, kTol);
  EXPECT_NEAR(w, -0.05f, kTol);
}

TEST(SparseOptimizerTest, AdamTwoSteps) {
  SparseOptimizerConfig c;
  c.kind = SparseOptimizerKind::kAdam;
  c.learning_rate = 0.01f;
  c.beta1 = 0.9f;
  c.beta2 = 0.999f;
  c.epsilon = 1e-8f;
  // 1 - 0.999f is 0.00099998713 in float: v is off by ~1.3e-5 relative
  // (the bias correction uses the same float, so w is not).
  const float kVTol = 2e-5f;
  auto opt = Make(c);
  ASSERT_EQ(opt->StateFloats(2), 5);  // m[2], v[2], t
  std::vector<float> w = {1.0f, -0.5f};
  std::vector<float> state(5, 7.0f);
  opt->InitState(nullptr, state.data(), 2);
  EXPECT_EQ(state, std::vector<float>(5, 0.0f));

  const float g1[] = {0.5f, 0.0f};
  opt->Apply(w.data(), state.data(), g1, 2, 1);
  // t = 1. m = 0.1 * 0.5 = 0.05; v = 0.001 * 0.25 = 0.00025
  // mhat = 0.05 / 0.1 = 0.5; vhat = 0.00025 / 0.001 = 0.25; w = 1 - 0.01 * 0.5 / 0.5 = 0.99
  // Element 1 has g = 0: m = v = 0, w unchanged.
  EXPECT_NEAR(w[0], 0.99f, kTol);
  EXPECT_NEAR(w[1], -0.5f, kTol);
  EXPECT_NEAR(state[0], 0.05f, kTol);
  EXPECT_NEAR(state[2], 0.00025f, kVTol * 0.00025f);
  EXPECT_EQ(state[4], 1.0f);

  const float g2[] = {-1.0f, 2.0f};
  opt->Apply(w.data(), state.data(), g2, 2, 2);
  // t = 2; 1 - 0.9^2 = 0.19; 1 - 0.999^2 = 0.001999.
  // Element 0: m = 0.045 - 0.1 = -0.055; v = 0.00024975 + 0.001 = 0.00124975
  //   mhat = -0.28947368; vhat = 0.62518759; sqrt = 0.79068805
  //   w = 0.99 + 0.01 * 0.36610035 = 0.99366100
  // Element 1: m = 0.2; v = 0.004; mhat = 1.05263158; vhat = 2.00100050; sqrt = 1.41456725
  //   w = -0.5 - 0.01 * 0.74413682 = -0.50744137
  EXPECT_NEAR(state[0], -0.055f, kTol);
  EXPECT_NEAR(state[2], 0.00124975f, kVTol * 0.00124975f);
  EXPECT_NEAR(state[1], 0.2f, kTol);
  EXPECT_NEAR(state[3], 0.004f, kVTol * 0.004f);
  EXPECT_EQ(state[4], 2.0f);
  EXPECT_NEAR(w[0], 0.99366100f, 2e-6f);
  EXPECT_NEAR(w[1], -0.50744137f, 2e-6f);
}

TEST(SparseOptimizerTest, RowwiseAdagradTwoSteps) {
  SparseOptimizerConfig c;
  c.kind = SparseOptimizerKind::kRowwiseAdagrad;
  c.learning_rate = 0.1f;
  c.epsilon = 1e-8f;
  auto opt = Make(c);
  ASSERT_EQ(opt->StateFloats(2), 1);
  float acc = -1.0f;
  opt->InitState(nullptr, &acc, 2);
  EXPECT_EQ(acc, 0.0f);
  std::vector<float> w = {1.0f, -2.0f};
  const float g1[] = {3.0f, 4.0f};
  opt->Apply(w.data(), &acc, g1, 2, 1);
  // acc = (9 + 16) / 2 = 12.5; rate = 0.1 / sqrt(12.5) = 0.02828427
  // w = 1 - 3 * rate = 0.91514719; -2 - 4 * rate = -2.11313708
  EXPECT_NEAR(acc, 12.5f, kTol);
  EXPECT_NEAR(w[0], 0.91514719f, kTol);
  EXPECT_NEAR(w[1], -2.11313708f, 2e-6f);
  const float g2[] = {1.0f, -1.0f};
  opt->Apply(w.data(), &acc, g2, 2, 2);
  // acc = 12.5 + 1 = 13.5; rate = 0.1 / sqrt(13.5) = 0.02721655
  // w = 0.91514719 - rate = 0.88793063; -2.11313708 + rate = -2.08592053
  EXPECT_NEAR(acc, 13.5f, kTol);
  EXPECT_NEAR(w[0], 0.88793063f, kTol);
  EXPECT_NEAR(w[1], -2.08592053f, 2e-6f);
}

TEST(SparseOptimizerTest, FtrlTwoSteps) {
  SparseOptimizerConfig c;
  c.kind = SparseOptimizerKind::kFtrl;
  c.learning_rate = 0.5f;  // alpha
  c.ftrl_beta = 1.0f;
  c.ftrl_l1 = 0.1f;
  c.ftrl_l2 = 0.2f;
  auto opt = Make(c);
  ASSERT_EQ(opt->StateFloats(2), 4);  // z[2], n[2]
  std::vector<float> w = {0.05f, 0.0f};
  std::vector<float> state(4, -1.0f);
  opt->InitState(w.data(), state.data(), 2);
  // D0 = beta / alpha + l2 = 2.2; z = -(w D0 + sign(w) l1): -(0.11 + 0.1) = -0.21, 0.
  // Check: w = -(z + l1) / D0 = 0.11 / 2.2 = 0.05, the initial weight is kept.
  EXPECT_NEAR(state[0], -0.21f, kTol);
  EXPECT_EQ(state[1], 0.0f);
  EXPECT_EQ(state[2], 0.0f);
  EXPECT_EQ(state[3], 0.0f);
  const float g1[] = {0.3f, -0.2f};
  opt->Apply(w.data(), state.data(), g1, 2, 1);
  // j=0: n = 0.09; sigma = 0.3 / 0.5 = 0.6; z = -0.21 + 0.3 - 0.6 * 0.05 = 0.06;
  //      |z| <= l1, so w = 0.
  // j=1: n = 0.04; sigma = 0.2 / 0.5 = 0.4; z = 0 - 0.2 - 0 = -0.2;
  //      w = -(-0.2 + 0.1) / ((1 + 0.2) / 0.5 + 0.2) = 0.1 / 2.6 = 0.03846154
  EXPECT_NEAR(state[0], 0.06f, kTol);
  EXPECT_NEAR(state[1], -0.2f, kTol);
  EXPECT_NEAR(state[2], 0.09f, kTol);
  EXPECT_NEAR(state[3], 0.04f, kTol);
  EXPECT_EQ(w[0], 0.0f);
  EXPECT_NEAR(w[1], 0.03846154f, kTol);
  const float g2[] = {-0.4f, 0.1f};
  opt->Apply(w.data(), state.data(), g2, 2, 2);
  // j=0: n = 0.25; sigma = (0.5 - 0.3) / 0.5 = 0.4; z = 0.06 - 0.4 - 0 = -0.34;
  //      w = -(-0.34 + 0.1) / ((1 + 0.5) / 0.5 + 0.2) = 0.24 / 3.2 = 0.075
  // j=1: n = 0.05; sigma = (0.22360680 - 0.2) / 0.5 = 0.04721360;
  //      z = -0.2 + 0.1 - 0.04721360 * 0.03846154 = -0.10181591;
  //      w = 0.00181591 / ((1 + 0.22360680) / 0.5 + 0.2) = 0.00181591 / 2.64721360 = 0.00068597
  EXPECT_NEAR(state[0], -0.34f, kTol);
  EXPECT_NEAR(state[1], -0.10181591f, kTol);
  EXPECT_NEAR(state[2], 0.25f, kTol);
  EXPECT_NEAR(state[3], 0.05f, kTol);
  EXPECT_NEAR(w[0], 0.075f, kTol);
  EXPECT_NEAR(w[1], 0.00068597f, kTol);
}

TEST(SparseOptimizerTest, RejectsBadHyperparameters) {
  SparseOptimizerConfig c;
  c.learning_rate = 0.0f;
  EXPECT_EQ(MakeSparseOptimizer(c).status().code(), Status::Code::kInvalidArgument);
  c = SparseOptimizerConfig();
  c.beta1 = 1.0f;
  EXPECT_EQ(MakeSparseOptimizer(c).status().code(), Status::Code::kInvalidArgument);
  c = SparseOptimizerConfig();
  c.kind = SparseOptimizerKind::kAdagrad;
  c.initial_accumulator = -1.0f;
  EXPECT_EQ(MakeSparseOptimizer(c).status().code(), Status::Code::kInvalidArgument);
  c = SparseOptimizerConfig();
  c.weight_decay = -0.1f;
  EXPECT_EQ(MakeSparseOptimizer(c).status().code(), Status::Code::kInvalidArgument);
  c = SparseOptimizerConfig();
  c.kind = SparseOptimizerKind::kRowwiseAdagrad;
  c.epsilon = 0.0f;
  EXPECT_EQ(MakeSparseOptimizer(c).status().code(), Status::Code::kInvalidArgument);
  c = SparseOptimizerConfig();
  c.kind = SparseOptimizerKind::kFtrl;
  c.ftrl_beta = 0.0f;
  EXPECT_EQ(MakeSparseOptimizer(c).status().code(), Status::Code::kInvalidArgument);
  c.ftrl_beta = 1.0f;
  c.ftrl_l1 = -0.1f;
  EXPECT_EQ(MakeSparseOptimizer(c).status().code(), Status::Code::kInvalidArgument);
  c.ftrl_l1 = 0.0f;
  c.ftrl_l2 = -0.1f;
  EXPECT_EQ(MakeSparseOptimizer(c).status().code(), Status::Code::kInvalidArgument);
  c.ftrl_l2 = 0.0f;
  EXPECT_TRUE(MakeSparseOptimizer(c).ok());
}

}  // namespace
}  // namespace msrec
