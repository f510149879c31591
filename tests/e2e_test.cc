// End to end on generated data: gen -> train (embedded default) -> eval -> predict.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "trainer/data/generator.h"
#include "common/file_util.h"
#include "trainer/trainer.h"

namespace msrec {
namespace {

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/msrec_e2e.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  // Writes dir_/data/{train,val,test}.csv from `gen` and returns an
  // MT-Backbone job ([64,32] towers) over their schema.
  JobSpec GenerateData(const GeneratorOptions& gen) {
    EXPECT_TRUE(MakeDirs(dir_ + "/data").ok());
    EXPECT_TRUE(GenerateCsvSplits(gen, dir_ + "/data").ok());
    JobSpec spec;
    spec.model = "mt_backbone";
    spec.model_config.hidden = {64, 32};
    spec.schema = SyntheticModel(gen).SchemaSpecString();
    return spec;
  }
  std::string dir_;
};

TEST_F(EndToEndTest, TrainsToNearBayesAucThenEvalsAndPredicts) {
  GeneratorOptions gen;
  gen.seed = 5;
  gen.num_rows = 500000;
  gen.vocab_sizes = {20, 50, 100, 300, 1000};  // learnable vocabularies
  JobSpec spec = GenerateData(gen);
  ASSERT_FALSE(HasFailure());
  spec.table.dim = 16;
  spec.table.optimizer.learning_rate = 3e-3f;
  TrainOptions options;
  options.train_files = {dir_ + "/data/train.csv"};
  options.val_files = {dir_ + "/data/val.csv"};
  options.test_files = {dir_ + "/data/test.csv"};
  options.model_dir = dir_ + "/model";
  options.epochs = 2;
  options.learning_rate = 3e-3;
  options.intra_op_threads = 2;
  options.log_every = 100;
  auto result = Train(spec, options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const GroupMetrics& test = result->test.overall;
  EXPECT_EQ(test.count, 50000);
  EXPECT_GT(test.bayes_auc, 0.70);
  EXPECT_LT(test.bayes_auc, 0.85);
  EXPECT_GT(test.auc, test.bayes_auc - 0.03) << "test AUC " << test.auc << " vs Bayes "
                                             << test.bayes_auc;
  ASSERT_EQ(result->test.per_scenario.size(), 4u);
  for (const GroupMetrics& g : result->test.per_scenario) EXPECT_GT(g.auc, 0.65);

  // eval on the saved model reproduces the in-training test metrics.
  EvalOptions eval;
  eval.model_dir = options.model_dir;
  eval.files = options.test_files;
  auto metrics = Evaluate(eval);
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_NEAR(metrics->overall.auc, test.auc, 1e-6);
  EXPECT_NEAR(metrics->overall.logloss, test.logloss, 1e-6);

  // predict writes one score per record; a bad row becomes "nan".
  const std::string bad = dir_ + "/bad.csv";
  {
    std::ifstream in(dir_ + "/data/test.csv");
    std::ofstream out(bad);
    std::string line;
    for (int i = 0; i < 5 && std::getline(in, line); ++i) {
      out << (i == 2 ? "x" + line.substr(1) : line) << "\n";  // record 1: label "x"
    }
  }
  eval.files = {bad};
  ASSERT_TRUE(Predict(eval, dir_ + "/scores.csv").ok());
  std::ifstream scores(dir_ + "/scores.csv");
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(scores, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u);  // header + 4 records
  EXPECT_EQ(lines[0], "score");
  EXPECT_EQ(lines[2], "nan");
  for (int i : {1, 3, 4}) {
    const double p = std::stod(lines[i]);
    EXPECT_GT(p, 0.0);
    EXPECT_LT(p, 1.0);
  }
}

// Early stopping keeps the best epoch: the saved model reproduces the kept
// epoch's validation metrics, whichever epoch that was.
TEST_F(EndToEndTest, EarlyStoppingKeepsTheBestEpochsModel) {
  GeneratorOptions gen;
  gen.seed = 9;
  gen.num_rows = 40000;
  gen.vocab_sizes = {20, 50, 2000, 20000};
  JobSpec spec = GenerateData(gen);
  ASSERT_FALSE(HasFailure());
  spec.table.optimizer.learning_rate = 0.05f;  // large steps: validation AUC peaks early
  TrainOptions options;
  options.train_files = {dir_ + "/data/train.csv"};
  options.val_files = {dir_ + "/data/val.csv"};
  options.model_dir = dir_ + "/model";
  options.epochs = 6;
  options.batch_size = 512;
  options.learning_rate = 0.01;
  options.early_stopping_patience = 1;
  auto result = Train(spec, options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_GE(result->best_epoch, 1);
  EvalOptions eval;
  eval.model_dir = options.model_dir;
  eval.files = options.val_files;
  auto metrics = Evaluate(eval);
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_NEAR(metrics->overall.auc, result->val.overall.auc, 1e-6) << "kept epoch "
                                                                   << result->best_epoch;
  EXPECT_NEAR(metrics->overall.logloss, result->val.overall.logloss, 1e-6);
  EXPECT_FALSE(PathExists(options.model_dir + "/best_embeddings.bin"));  // snapshot cleaned up
}

TEST_F(EndToEndTest, TooManyBadRowsStopsTheJobWithFileAndLine) {
  std::ofstream(dir_ + "/t.csv") << "label,scenario,a\n1,0,x\n0,0,y\n2,0,z\n1,1,w\n";
  JobSpec spec;
  spec.schema = "label:label,scenario:scenario,*:cat";
  TrainOptions options;
  options.train_files = {dir_ + "/t.csv"};
  options.model_dir = dir_ + "/model";
  options.max_bad_rows = 0;
  auto result = Train(spec, options);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("t.csv:4"), std::string::npos)
      << result.status().ToString();
}

}  // namespace
}  // namespace msrec
