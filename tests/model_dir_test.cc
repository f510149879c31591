// The model directory's commit, lock and verification, and checkpoint
// manifests and replacement (issue 17: nothing silent, nothing lost).
#include <gtest/gtest.h>

#include <fstream>

#include "common/file_util.h"
#include "tests/job_test_util.h"
#include "tests/process_util.h"
#include "trainer/checkpoint.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"
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

// Day-by-day training (issue 18): --init_from starts from a trained model's
// dense weights and every row, before the first step.
TEST_F(ModelDirTest, InitFromStartsAtTheSourceModel) {
  ASSERT_TRUE(Train(spec_, options_).ok());
  TrainOptions next = options_;
  next.model_dir = dir_ + "/day2";
  next.init_from = options_.model_dir;
  next.epochs = 0;  // no step: the model as it starts
  ASSERT_TRUE(Train(spec_, next).ok());
  ExpectSameDenseParameters(options_.model_dir, next.model_dir, 0);
  const auto rows = ReadRows(options_.model_dir + "/embeddings.bin");
  EXPECT_GT(rows.size(), 100u);
  EXPECT_EQ(rows, ReadRows(next.model_dir + "/embeddings.bin"));
  // And it trains on from there.
  next.epochs = 1;
  next.model_dir = dir_ + "/day2b";
  EXPECT_TRUE(Train(spec_, next).ok());
  next.model_dir = next.init_from;
  EXPECT_FALSE(Train(spec_, next).ok());  // into its own source
}

TEST_F(ModelDirTest, InitFromGivesNewScenariosFreshTowers) {
  // Day 1 knows every scenario but the last; day 2 brings it.
  Result<ScenarioMap> all = ScenarioMap::Scan(options_.train_files, *SchemaSpec::Parse(spec_.schema));
  ASSERT_TRUE(all.ok());
  std::vector<std::string> values = all->values();
  ASSERT_GE(values.size(), 2u);
  values.pop_back();
  ASSERT_TRUE(ScenarioMap::FromValues(values).Save(dir_ + "/day1_map.tsv").ok());
  TrainOptions day1 = options_;
  day1.scenario_map_file = dir_ + "/day1_map.tsv";
  day1.max_bad_rows = -1;  // the unknown scenario's rows are skipped on day 1
  ASSERT_TRUE(Train(spec_, day1).ok());
  TrainOptions day2 = options_;
  day2.model_dir = dir_ + "/day2";
  day2.init_from = day1.model_dir;
  day2.epochs = 0;
  ASSERT_TRUE(Train(spec_, day2).ok());
  Result<ScenarioMap> extended = ScenarioMap::Load(dir_ + "/day2/scenario_map.tsv");
  ASSERT_TRUE(extended.ok());
  EXPECT_EQ(extended->size(), int(values.size()) + 1);
  for (size_t k = 0; k < values.size(); ++k) EXPECT_EQ(extended->value(int32_t(k)), values[k]);
  // The old towers come over; the new scenario's tower is new.
  const std::vector<torch::Tensor> a = SavedDenseParameters(day1.model_dir);
  const std::vector<torch::Tensor> b = SavedDenseParameters(day2.model_dir);
  ASSERT_GT(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
}

// Issue 17: a full disk while the model or a checkpoint is written is an
// IoError naming the file (not an abort), and leaves no temporary files.
TEST_F(ModelDirTest, AFullDiskFailsCleanly) {
  const std::string mount_point = dir_ + "/small";
  ASSERT_TRUE(MakeDirs(mount_point).ok());
  if (std::system(("mount -t tmpfs -o size=256k tmpfs " + mount_point + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): full-disk case not run";
  }
  TrainOptions full = options_;
  full.model_dir = mount_point + "/m";
  full.checkpoint.dir = full.model_dir + "/checkpoints";
  spec_.model_config.hidden = {256, 128};  // dense.pt larger than the disk
  const Result<TrainResult> r = Train(spec_, full);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIoError) << r.status().ToString();
  EXPECT_NE(r.status().message().find("No space left"), std::string::npos) << r.status().ToString();
  std::string out;
  RunCommand("find " + mount_point + " -name '*.tmp' -o -name '*.partial'", &out);
  EXPECT_EQ(out, "") << "left behind:\n" << out;
  EXPECT_EQ(0, std::system(("umount " + mount_point).c_str()));
}

// Issue 17: a scenario map that does not match job.txt is refused.
TEST_F(ModelDirTest, AScenarioMapOfAnotherSizeIsRefused) {
  ASSERT_TRUE(Train(spec_, options_).ok());
  const ModelDir dir(options_.model_dir);
  Result<ScenarioMap> map = ScenarioMap::Load(dir.scenario_map());
  ASSERT_TRUE(map.ok());
  std::vector<std::string> fewer = map->values();
  fewer.pop_back();
  ASSERT_TRUE(ScenarioMap::FromValues(fewer).Save(dir.scenario_map()).ok());
  ASSERT_TRUE(dir.Commit(spec_.store).ok());  // a consistent manifest: only the sizes disagree
  const Result<EvalMetrics> refused = Evaluate(eval_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("scenarios"), std::string::npos)
      << refused.status().ToString();
}

}  // namespace
}  // namespace msrec
