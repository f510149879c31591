// The model directory's commit, lock and verification, and checkpoint
// manifests and replacement (issue 17: nothing silent, nothing lost).
#include <gtest/gtest.h>

#include <fstream>

#include "common/file_util.h"
#include "tests/job_test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/model_dir.h"
#include "trainer/trainer.h"

namespace msrec {
namespace {

class ModelDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/msrec_model_dir.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    GeneratorOptions gen;
    gen.seed = 3;
    gen.num_rows = 3000;
    gen.vocab_sizes = {30, 100};
    ASSERT_TRUE(MakeDirs(dir_ + "/data").ok());
    ASSERT_TRUE(GenerateCsvSplits(gen, dir_ + "/data").ok());
    spec_.model = "mt_backbone";
    spec_.schema = SyntheticModel(gen).SchemaSpecString();
    spec_.model_config.hidden = {8};
    spec_.table.dim = 4;
    options_.train_files = {dir_ + "/data/train.csv"};
    options_.model_dir = dir_ + "/model";
    options_.max_steps = 5;
    options_.batch_size = 128;
    options_.log_every = 1000;
    options_.checkpoint.dir = "";
    eval_.model_dir = options_.model_dir;
    eval_.files = {dir_ + "/data/test.csv"};
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  std::string dir_;
  JobSpec spec_;
  TrainOptions options_;
  EvalOptions eval_;
};

TEST_F(ModelDirTest, ATrainedDirectoryIsCommittedAndVerified) {
  ASSERT_TRUE(Train(spec_, options_).ok());
  EXPECT_TRUE(ModelDir(options_.model_dir).Verify().ok());
  EXPECT_TRUE(Evaluate(eval_).ok());
  // A damaged file fails verification, naming it.
  {
    std::fstream f(ModelDir(options_.model_dir).dense(), std::ios::in | std::ios::out);
    f.seekp(100);
    f.put('\x7f');
  }
  const Result<EvalMetrics> damaged = Evaluate(eval_);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("dense.pt"), std::string::npos)
      << damaged.status().ToString();
}

TEST_F(ModelDirTest, AFailedRetrainLeavesADirectoryReadersRefuse) {
  ASSERT_TRUE(Train(spec_, options_).ok());
  TrainOptions broken = options_;
  broken.train_files.push_back(dir_ + "/data/missing.csv");  // fails after the directory opened
  ASSERT_FALSE(Train(spec_, broken).ok());
  const Result<EvalMetrics> refused = Evaluate(eval_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kNotFound) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("not a committed model directory"), std::string::npos);
}

TEST_F(ModelDirTest, ASecondWriterIsRefused) {
  ASSERT_TRUE(ModelDir(options_.model_dir).Create().ok());
  Result<std::unique_ptr<ModelDir::WriterLock>> held =
      ModelDir(options_.model_dir).LockForWriting();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  const Result<TrainResult> second = Train(spec_, options_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("is writing"), std::string::npos)
      << second.status().ToString();
  held->reset();  // released: training may start
  EXPECT_TRUE(Train(spec_, options_).ok());
}

TEST_F(ModelDirTest, NonFiniteWeightsAreRefused) {
  ASSERT_TRUE(Train(spec_, options_).ok());
  Result<JobSpec> spec = LoadJobSpec(ModelDir(options_.model_dir).job());
  ASSERT_TRUE(spec.ok());
  auto model = BuiltinModels().Create(spec->model, spec->model_config);
  ASSERT_TRUE(model.ok());
  {
    torch::NoGradGuard no_grad;
    model.value()->parameters()[0].fill_(std::nanf(""));
  }
  const std::string path = dir_ + "/nan.pt";
  ASSERT_TRUE(SaveDenseParameters(*model.value(), path).ok());
  const Status loaded = LoadDenseParameters(model.value().get(), path);
  EXPECT_EQ(loaded.code(), Status::Code::kCorruption) << loaded.ToString();
  EXPECT_NE(loaded.message().find("NaN"), std::string::npos);
  EXPECT_EQ(LoadDenseParameters(model.value().get(), dir_ + "/none.pt").code(),
            Status::Code::kNotFound);
}

// A checkpoint directory with files and a manifest at `step`.
std::string MakeCheckpoint(const std::string& dir, int64_t step, const std::string& content) {
  const std::string path = CheckpointPath(dir, step);
  EXPECT_TRUE(MakeDirs(path).ok());
  EXPECT_TRUE(WriteFileDurably(path + "/dense.pt", content).ok());
  EXPECT_TRUE(WriteManifest(path, TrainingPosition{step, 1, step}).ok());
  return path;
}

TEST_F(ModelDirTest, AManifestCutAtALineEndOrOfAnotherStepIsRefused) {
  const std::string path = MakeCheckpoint(dir_ + "/ck", 20, "weights");
  ASSERT_TRUE(VerifyCheckpoint(path).ok());
  Result<std::string> text = ReadFile(path + "/MANIFEST");
  ASSERT_TRUE(text.ok());
  // Cut after the step line: "msrec-checkpoint 2\nstep 20\n".
  const size_t cut = text->find("epoch ");
  ASSERT_TRUE(WriteFileDurably(path + "/MANIFEST", text->substr(0, cut)).ok());
  EXPECT_EQ(VerifyCheckpoint(path).status().code(), Status::Code::kCorruption);
  // A complete manifest of another step in this directory.
  const std::string other = MakeCheckpoint(dir_ + "/ck2", 2, "weights");
  Result<std::string> other_text = ReadFile(other + "/MANIFEST");
  ASSERT_TRUE(WriteFileDurably(path + "/MANIFEST", *other_text).ok());
  const Result<CheckpointInfo> moved = VerifyCheckpoint(path);
  EXPECT_EQ(moved.status().code(), Status::Code::kCorruption) << moved.status().ToString();
}

TEST_F(ModelDirTest, EveryCheckpointDamagedFailsEvenWithSkipCorrupt) {
  const std::string a = MakeCheckpoint(dir_ + "/ck", 10, "ten");
  const std::string b = MakeCheckpoint(dir_ + "/ck", 20, "twenty");
  ASSERT_TRUE(WriteFileDurably(a + "/dense.pt", "TEN").ok());
  ASSERT_TRUE(WriteFileDurably(b + "/dense.pt", "TWENTY").ok());
  const auto found = FindResumePoint(dir_ + "/ck", /*skip_corrupt=*/true);
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("every checkpoint"), std::string::npos);
  // One good one left: skip_corrupt falls back to it.
  ASSERT_TRUE(WriteFileDurably(a + "/dense.pt", "ten").ok());
  Result<std::optional<CheckpointInfo>> fallback =
      FindResumePoint(dir_ + "/ck", /*skip_corrupt=*/true);
  ASSERT_TRUE(fallback.ok()) << fallback.status().ToString();
  const std::optional<CheckpointInfo> info = fallback.value();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->position.step, 10);
}

TEST_F(ModelDirTest, ReplacingACheckpointNeverLeavesNone) {
  const std::string old_one = MakeCheckpoint(dir_ + "/ck", 30, "old");
  const std::string fresh = dir_ + "/ck/ckpt-0000000030.partial";
  ASSERT_TRUE(MakeDirs(fresh).ok());
  ASSERT_TRUE(WriteFileDurably(fresh + "/dense.pt", "new").ok());
  ASSERT_TRUE(WriteManifest(fresh, TrainingPosition{30, 1, 30}).ok());
  // Before the swap the complete old one is in place; after it the new one.
  ASSERT_TRUE(VerifyCheckpoint(old_one).ok());
  ASSERT_TRUE(ReplaceDirectory(fresh, old_one).ok());
  EXPECT_EQ(ReadFile(old_one + "/dense.pt").value(), "new");
  EXPECT_TRUE(VerifyCheckpoint(old_one).ok());
  EXPECT_FALSE(PathExists(fresh));
}

}  // namespace
}  // namespace msrec
