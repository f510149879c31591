#include <cmath>
#include <map>

#include <gtest/gtest.h>

#include "tests/data_test_util.h"
#include "trainer/data/generator.h"
#include "trainer/data/zipf.h"

namespace msrec {
namespace {

using testing::TempDir;
using testing::TestAuc;

TEST(GeneratorTest, SameSeedGivesIdenticalFiles) {
  TempDir dir;
  GeneratorOptions o;
  o.seed = 7;
  o.num_rows = 3000;
  ASSERT_TRUE(GenerateCsvSplits(o, dir.path()).ok());
  const std::string a = testing::ReadFileBytes(dir.File("train.csv"));
  ASSERT_TRUE(GenerateCsvSplits(o, dir.path()).ok());
  EXPECT_EQ(a, testing::ReadFileBytes(dir.File("train.csv")));
  EXPECT_EQ(a.substr(0, a.find('\n')),
            "label,scenario,true_prob,f0,f1,f2,f3,f4,f5,f6,f7,tags,d0,d1,d2,d3");
  o.seed = 8;
  ASSERT_TRUE(GenerateCsvSplits(o, dir.path()).ok());
  EXPECT_NE(a, testing::ReadFileBytes(dir.File("train.csv")));
}

TEST(GeneratorTest, SplitsAndReaderAgree) {
  TempDir dir;
  GeneratorOptions o;
  o.num_rows = 2000;
  ASSERT_TRUE(GenerateCsvSplits(o, dir.path(), 0.25, 0.25).ok());
  SyntheticModel model(o);
  ReaderOptions ro = testing::Options(model.SchemaSpecString());
  ro.num_threads = 2;
  ro.chunk_bytes = 4096;
  auto reader = OpenReader({dir.File("train.csv"), dir.File("val.csv")}, ro);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<Batch> batches;
  ASSERT_TRUE(testing::ReadAll(reader->get(), &batches).ok());
  const Batch all = testing::Concat(batches);
  ASSERT_EQ(all.size, 1500);
  EXPECT_EQ(all.num_cat_fields, 9);  // f0..f7 + tags
  EXPECT_EQ(all.num_dense, 4);
  ASSERT_EQ(all.oracle.size(), 1500u);
  GeneratedRow row;
  for (int64_t i = 0; i < all.size; ++i) {
    model.SampleRow(i, &row);
    EXPECT_NEAR(all.oracle[i], row.prob, 1e-6);
    EXPECT_EQ(all.labels[i], row.label);
    EXPECT_EQ((*reader)->scenario_map().value(all.scenario[i]), std::to_string(row.scenario));
    EXPECT_EQ(all.dense[i * 4], row.dense[0]);
  }
}

TEST(ZipfTest, MatchesPowerLaw) {
  ZipfSampler zipf(10000000, 1.1);
  SplitMix64 rng(3);
  std::map<uint64_t, int> counts;
  const int n = 400000;
  for (int i = 0; i < n; ++i) {
    const uint64_t k = zipf.Sample(&rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, 10000000u);
    if (k <= 4) ++counts[k];
  }
  // P(1)/P(2) = 2^1.1, P(1)/P(4) = 4^1.1.
  EXPECT_NEAR(double(counts[1]) / counts[2], std::pow(2.0, 1.1), 0.1);
  EXPECT_NEAR(double(counts[1]) / counts[4], std::pow(4.0, 1.1), 0.3);
}

// The Bayes-optimal AUC (true prob) is in [0.70, 0.85], and a predictor that
// averages out the scenario-specific terms loses >= 0.01 AUC in some scenario.
TEST(GeneratorTest, ScenarioStrengthScalesEveryScenarioEffect) {
  GeneratorOptions blind;
  blind.scenario_strength = 0;
  GeneratorOptions strong;
  strong.scenario_strength = 2;
  const SyntheticModel blind_model(blind), base_model(GeneratorOptions{}), strong_model(strong);
  GeneratedRow b, r, s;
  double base_gap = 0, strong_gap = 0;
  for (int i = 0; i < 2000; ++i) {
    blind_model.SampleRow(i, &b);
    base_model.SampleRow(i, &r);
    strong_model.SampleRow(i, &s);
    // The same draws: only the logit's scenario terms change.
    ASSERT_EQ(b.scenario, r.scenario);
    ASSERT_EQ(b.values, r.values);
    // Strength 0: the logit is the scenario-agnostic one.
    EXPECT_NEAR(b.logit, b.agnostic_logit, 1e-9) << "row " << i;
    base_gap += std::abs(r.logit - b.logit);
    strong_gap += std::abs(s.logit - b.logit);
  }
  EXPECT_GT(base_gap, 0);
  EXPECT_NEAR(strong_gap, 2 * base_gap, 1e-6 * base_gap);
}

TEST(GeneratorTest, BayesAucAndScenarioGap) {
  GeneratorOptions o;
  SyntheticModel model(o);
  const int n = 400000;
  std::vector<std::pair<double, int>> all;
  std::vector<std::vector<std::pair<double, int>>> bayes(o.num_scenarios),
      agnostic(o.num_scenarios);
  GeneratedRow row;
  double clicks = 0;
  for (int i = 0; i < n; ++i) {
    model.SampleRow(i, &row);
    all.emplace_back(row.prob, row.label);
    bayes[row.scenario].emplace_back(row.logit, row.label);
    agnostic[row.scenario].emplace_back(row.agnostic_logit, row.label);
    clicks += row.label;
  }
  const double auc = TestAuc(all);
  std::printf("bayes_auc=%.4f ctr=%.4f\n", auc, clicks / n);
  EXPECT_GE(auc, 0.70);
  EXPECT_LE(auc, 0.85);
  double max_gap = 0;
  for (int k = 0; k < o.num_scenarios; ++k) {
    const double b = TestAuc(bayes[k]), a = TestAuc(agnostic[k]);
    std::printf("scenario=%d rows=%zu bayes_auc=%.4f agnostic_auc=%.4f gap=%.4f\n", k,
                bayes[k].size(), b, a, b - a);
    max_gap = std::max(max_gap, b - a);
  }
  EXPECT_GE(max_gap, 0.01);
}

}  // namespace
}  // namespace msrec
