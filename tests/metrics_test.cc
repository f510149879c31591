#include <cmath>
#include <random>
#include <map>

#include <gtest/gtest.h>

#include "trainer/metrics.h"

namespace msrec {
namespace {

// AUC by brute force: P(score_pos > score_neg) + 0.5 P(equal) over all pairs.
double BruteForceAuc(const std::vector<float>& s, const std::vector<float>& y) {
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    for (size_t j = 0; j < s.size(); ++j) {
      if (y[i] > 0.5f && y[j] < 0.5f) {
        pairs += 1;
        wins += s[i] > s[j] ? 1.0 : (s[i] == s[j] ? 0.5 : 0.0);
      }
    }
  }
  return wins / pairs;
}

TEST(MetricsTest, AucMatchesBruteForceWithTies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 50 + trial * 13;
    std::vector<float> s(n), y(n);
    for (int i = 0; i < n; ++i) {
      s[i] = float(rng() % 17) / 16.0f;  // many ties
      y[i] = (rng() % 3 == 0) ? 1.0f : 0.0f;
    }
    y[0] = 1;
    y[1] = 0;
    EXPECT_NEAR(ExactAuc(s, y), BruteForceAuc(s, y), 1e-12) << "trial " << trial;
  }
}

TEST(MetricsTest, AucEdgeCases) {
  EXPECT_DOUBLE_EQ(ExactAuc({0.1f, 0.9f}, {0, 1}), 1.0);
  EXPECT_DOUBLE_EQ(ExactAuc({0.9f, 0.1f}, {0, 1}), 0.0);
  EXPECT_DOUBLE_EQ(ExactAuc({0.5f, 0.5f}, {0, 1}), 0.5);
  EXPECT_TRUE(std::isnan(ExactAuc({0.1f, 0.2f}, {1, 1})));
}

TEST(MetricsTest, LogLossAndPerScenario) {
  EXPECT_NEAR(LogLoss({0.8f, 0.3f}, {1, 0}), -(std::log(0.8) + std::log(0.7)) / 2, 1e-6);
  MetricsAccumulator acc(2);
  const float p[] = {0.9f, 0.2f, 0.6f, 0.4f, 0.3f};
  const float y[] = {1, 0, 0, 1, 0};
  const int32_t s[] = {0, 0, 1, 1, 1};
  const float oracle[] = {0.8f, 0.1f, 0.2f, 0.7f, 0.3f};
  acc.Add(5, p, y, s, oracle);
  EvalMetrics m = acc.Compute();
  ASSERT_EQ(m.per_scenario.size(), 2u);
  EXPECT_EQ(m.per_scenario[0].count, 2);
  EXPECT_DOUBLE_EQ(m.per_scenario[0].auc, 1.0);
  EXPECT_DOUBLE_EQ(m.per_scenario[1].auc, 0.5);  // 0.4 beats 0.3, loses to 0.6
  EXPECT_DOUBLE_EQ(m.per_scenario[1].bayes_auc, 1.0);
  EXPECT_NEAR(m.overall.positive_rate, 0.4, 1e-12);
  EXPECT_NEAR(m.overall.mean_prediction, 0.48, 1e-6);
  EXPECT_NE(m.ToJson().find("\"bayes_auc\":1.000000"), std::string::npos) << m.ToJson();
}


TEST(GroupedAucTest, EqualsTheImpressionWeightedMeanOfPerGroupAuc) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 1);
  for (int trial = 0; trial < 20; ++trial) {
    const size_t n = 50 + trial * 37;
    std::vector<float> s(n), y(n);
    std::vector<uint64_t> g(n);
    for (size_t i = 0; i < n; ++i) {
      g[i] = rng() % (3 + trial);              // some groups single-label
      s[i] = std::round(u(rng) * 20) / 20;     // ties
      y[i] = u(rng) < 0.2 + 0.05 * (g[i] % 5) ? 1.0f : 0.0f;
    }
    std::map<uint64_t, std::pair<std::vector<float>, std::vector<float>>> groups;
    for (size_t i = 0; i < n; ++i) {
      groups[g[i]].first.push_back(s[i]);
      groups[g[i]].second.push_back(y[i]);
    }
    double weighted = 0, weight = 0;
    int64_t counted = 0;
    for (const auto& [key, sy] : groups) {
      const double auc = BruteForceAuc(sy.first, sy.second);
      if (std::isnan(auc)) continue;
      weighted += auc * sy.first.size();
      weight += sy.first.size();
      ++counted;
    }
    int64_t got_groups = 0;
    const double gauc = GroupedAuc(s, y, g, &got_groups);
    if (weight == 0) {
      EXPECT_TRUE(std::isnan(gauc));
      continue;
    }
    EXPECT_NEAR(gauc, weighted / weight, 1e-12) << trial;
    EXPECT_EQ(got_groups, counted);
  }
}

TEST(GroupedAucTest, AccumulatorReportsGaucPerScenarioAndOverall) {
  MetricsAccumulator m(2);
  const std::vector<float> p = {0.9f, 0.1f, 0.8f, 0.3f, 0.2f, 0.7f};
  const std::vector<float> y = {1, 0, 1, 0, 1, 0};
  const std::vector<int32_t> sc = {0, 0, 1, 1, 1, 1};
  const std::vector<uint64_t> users = {1, 1, 2, 2, 3, 3};
  m.Add(6, p.data(), y.data(), sc.data(), nullptr, users.data());
  const EvalMetrics e = m.Compute();
  // users 1 and 2 are ranked right (AUC 1), user 3 wrong (AUC 0): (2 + 2 + 0) / 6.
  EXPECT_NEAR(e.overall.gauc, 4.0 / 6.0, 1e-12);
  EXPECT_EQ(e.overall.gauc_groups, 3);
  EXPECT_NEAR(e.per_scenario[0].gauc, 1.0, 1e-12);
  EXPECT_NEAR(e.per_scenario[1].gauc, 0.5, 1e-12);
  EXPECT_NE(e.ToJson().find("\"gauc\""), std::string::npos);
  EXPECT_NE(e.ToTable({"a", "b"}).find("gauc"), std::string::npos);
  // Without groups, no gAUC anywhere.
  MetricsAccumulator plain(2);
  plain.Add(6, p.data(), y.data(), sc.data(), nullptr);
  EXPECT_EQ(plain.Compute().ToJson().find("gauc"), std::string::npos);
}

// Issue 17: a scenario without instances prints n/a, not 0.0000.
TEST(GroupedAucTest, EmptyGroupsAreNotApplicable) {
  MetricsAccumulator m(3);
  const std::vector<float> p = {0.9f, 0.1f};
  const std::vector<float> y = {1, 0};
  const std::vector<int32_t> sc = {0, 0};
  m.Add(2, p.data(), y.data(), sc.data(), nullptr);
  const EvalMetrics e = m.Compute();
  EXPECT_TRUE(std::isnan(e.per_scenario[2].auc));
  const std::string table = e.ToTable({"a", "b", "c"});
  EXPECT_NE(table.find("n/a"), std::string::npos) << table;
  EXPECT_EQ(table.find("0.0000  "), std::string::npos) << table;
  EXPECT_NE(e.ToJson().find("\"auc\":null"), std::string::npos);
}

TEST(GroupedAucTest, CalibrationByScoreBucket) {
  MetricsAccumulator m(1);
  const std::vector<float> p = {0.05f, 0.07f, 0.55f, 0.95f, 0.99f};
  const std::vector<float> y = {0, 1, 1, 1, 0};
  const std::vector<int32_t> sc(5, 0);
  m.Add(5, p.data(), y.data(), sc.data(), nullptr);
  const GroupMetrics g = m.Compute().overall;
  ASSERT_EQ(g.calibration.size(), 10u);
  EXPECT_EQ(g.calibration[0].count, 2);
  EXPECT_NEAR(g.calibration[0].mean_prediction, 0.06, 1e-6);
  EXPECT_NEAR(g.calibration[0].positive_rate, 0.5, 1e-12);
  EXPECT_EQ(g.calibration[5].count, 1);
  EXPECT_EQ(g.calibration[9].count, 2);
  EXPECT_EQ(g.calibration[3].count, 0);
  EXPECT_NE(m.Compute().ToJson().find("\"calibration\":[[2,"), std::string::npos);
}

}  // namespace
}  // namespace msrec
