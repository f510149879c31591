// `msrec report` (issue 18): a self-contained HTML file with the run's
// curves, tables and calibration, rendered in a real browser (headless
// Chromium, when installed) to a PNG that is not blank.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "common/file_util.h"
#include "tests/job_test_util.h"
#include "tests/process_util.h"
#include "trainer/report.h"
#include "trainer/trainer.h"

namespace msrec {
namespace {

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/msrec_report.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    GeneratorOptions gen;
    gen.seed = 4;
    gen.num_rows = 6000;
    ASSERT_TRUE(MakeDirs(dir_ + "/data").ok());
    ASSERT_TRUE(GenerateCsvSplits(gen, dir_ + "/data").ok());
    JobSpec spec;
    spec.schema = SyntheticModel(gen).SchemaSpecString();
    spec.model_config.hidden = {16};
    spec.table.dim = 4;
    TrainOptions o;
    o.train_files = {dir_ + "/data/train.csv"};
    o.val_files = {dir_ + "/data/val.csv"};
    o.test_files = {dir_ + "/data/test.csv"};
    o.epochs = 2;
    o.batch_size = 256;
    o.log_every = 4;
    o.checkpoint.dir = "";
    for (const char* model : {"mt_backbone", "dnn"}) {
      spec.model = model;
      o.model_dir = dir_ + "/" + model;
      ASSERT_TRUE(Train(spec, o).ok());
    }
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }
  std::string dir_;
};

size_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? size_t(st.st_size) : 0;
}

TEST_F(ReportTest, OneRunAndAComparisonAreSelfContainedHtml) {
  ReportOptions one;
  one.model_dirs = {dir_ + "/mt_backbone"};
  one.output = dir_ + "/one.html";
  ASSERT_TRUE(WriteReport(one).ok());
  Result<std::string> html = ReadFile(one.output);
  ASSERT_TRUE(html.ok());
  for (const char* part : {"<svg", "Training loss", "Samples per second", "Validation AUC per epoch",
                           "Calibration", "Calibration by score bucket", "Training time by phase", "<td>overall</td>",
                           "embedding_dim"}) {
    EXPECT_NE(html->find(part), std::string::npos) << part;
  }
  // Nothing loaded from elsewhere.
  EXPECT_EQ(html->find("<script"), std::string::npos);
  EXPECT_EQ(html->find("<link"), std::string::npos);
  EXPECT_EQ(html->find("https://"), std::string::npos);
  ReportOptions compare;
  compare.model_dirs = {dir_ + "/mt_backbone", dir_ + "/dnn"};
  compare.output = dir_ + "/compare.html";
  ASSERT_TRUE(WriteReport(compare).ok());
  Result<std::string> both = ReadFile(compare.output);
  ASSERT_TRUE(both.ok());
  EXPECT_NE(both->find(">dnn<"), std::string::npos);
  EXPECT_NE(both->find(">mt_backbone<"), std::string::npos);
  ReportOptions missing;
  missing.model_dirs = {dir_ + "/none"};
  missing.output = dir_ + "/none.html";
  EXPECT_FALSE(WriteReport(missing).ok());
}

TEST_F(ReportTest, RendersInHeadlessChromium) {
  std::string out;
  if (RunCommand("command -v chromium", &out) != 0) {
    GTEST_SKIP() << "chromium is not installed (launch/setup.sh installs it): not rendered";
  }
  ReportOptions one;
  one.model_dirs = {dir_ + "/mt_backbone", dir_ + "/dnn"};
  one.output = dir_ + "/r.html";
  ASSERT_TRUE(WriteReport(one).ok());
  ASSERT_TRUE(WriteFileDurably(dir_ + "/blank.html", "<html><body></body></html>").ok());
  const std::string chromium =
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --window-size=1200,2400 ";
  ASSERT_EQ(0, RunCommand(chromium + "--screenshot=" + dir_ + "/r.png file://" + one.output, &out))
      << out;
  ASSERT_EQ(0, RunCommand(chromium + "--screenshot=" + dir_ + "/blank.png file://" + dir_ +
                              "/blank.html", &out)) << out;
  // A blank page compresses to almost nothing; the report's curves do not.
  EXPECT_GT(FileSize(dir_ + "/r.png"), 4 * FileSize(dir_ + "/blank.png"))
      << FileSize(dir_ + "/r.png") << " vs " << FileSize(dir_ + "/blank.png");
}

}  // namespace
}  // namespace msrec
