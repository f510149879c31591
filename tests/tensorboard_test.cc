// TensorBoard event files (issue 18): the records decode, both CRCs are
// checked, and a training run writes loss, throughput and AUC per scenario.
#include <gtest/gtest.h>

#include <dirent.h>

#include <cstring>
#include <map>

#include "common/file_util.h"
#include "common/hash.h"
#include "tests/job_test_util.h"
#include "trainer/tensorboard.h"
#include "trainer/trainer.h"

namespace msrec {
namespace {

std::string TempDir() {
  std::string tmpl = "/tmp/msrec_tb.XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

std::vector<std::string> EventFiles(const std::string& dir) {
  std::vector<std::string> out;
  Result<std::vector<std::string>> names = ListDir(dir);
  if (!names.ok()) return out;
  for (const std::string& n : names.value()) {
    if (n.rfind("events.out.tfevents.", 0) == 0) out.push_back(dir + "/" + n);
  }
  return out;
}

TEST(TensorBoardTest, Crc32cIsCastagnoli) {
  // The check value of CRC-32C (RFC 3720), which TFRecord framing masks.
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
}

TEST(TensorBoardTest, ScalarsRoundTripAndDamageIsDetected) {
  const std::string dir = TempDir();
  std::string path;
  {
    auto writer = EventWriter::Open(dir);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    path = (*writer)->path();
    ASSERT_TRUE((*writer)->AddScalar("train/loss", 10, 0.5).ok());
    ASSERT_TRUE((*writer)->AddScalar("val/auc/scenario one", 1234567890123, 0.75).ok());
  }
  std::string version;
  auto events = ReadScalarEvents(path, &version);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_EQ(version, "brain.Event:2");
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].tag, "train/loss");
  EXPECT_EQ((*events)[0].step, 10);
  EXPECT_FLOAT_EQ((*events)[0].value, 0.5f);
  EXPECT_GT((*events)[0].wall_time, 1.6e9);
  EXPECT_EQ((*events)[1].tag, "val/auc/scenario one");
  EXPECT_EQ((*events)[1].step, 1234567890123);
  Result<std::string> bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[damaged.size() - 10] ^= 0x40;
  ASSERT_TRUE(WriteFileDurably(path, damaged).ok());
  EXPECT_EQ(ReadScalarEvents(path).status().code(), Status::Code::kCorruption);
  ASSERT_TRUE(RemoveTree(dir).ok());
}

TEST(TensorBoardTest, TrainingWritesLossThroughputAndAucPerScenario) {
  const std::string dir = TempDir();
  GeneratorOptions gen;
  gen.seed = 5;
  gen.num_rows = 4000;
  JobSpec spec;
  spec.model = "mt_backbone";
  spec.schema = SyntheticModel(gen).SchemaSpecString();
  spec.model_config.hidden = {8};
  spec.table.dim = 4;
  ASSERT_TRUE(MakeDirs(dir + "/gen").ok());
  ASSERT_TRUE(GenerateCsvSplits(gen, dir + "/gen").ok());
  TrainOptions o;
  o.train_files = {dir + "/gen/train.csv"};
  o.val_files = {dir + "/gen/val.csv"};
  o.test_files = {dir + "/gen/test.csv"};
  o.model_dir = dir + "/model";
  o.batch_size = 256;
  o.log_every = 3;
  o.checkpoint.dir = "";
  o.tensorboard_dir = dir + "/tb";
  ASSERT_TRUE(Train(spec, o).ok());
  const std::vector<std::string> files = EventFiles(dir + "/tb");
  ASSERT_EQ(files.size(), 1u);
  auto events = ReadScalarEvents(files[0]);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  std::map<std::string, int> tags;
  for (const ScalarEvent& e : *events) ++tags[e.tag];
  EXPECT_GT(tags["train/loss"], 1);
  EXPECT_GT(tags["train/samples_per_sec"], 1);
  EXPECT_EQ(tags["val/auc"], 1);
  EXPECT_EQ(tags["test/logloss"], 1);
  int per_scenario = 0;
  for (const auto& [tag, n] : tags) per_scenario += tag.rfind("val/auc/", 0) == 0;
  EXPECT_GE(per_scenario, 2);
  ASSERT_TRUE(RemoveTree(dir).ok());
}

}  // namespace
}  // namespace msrec
