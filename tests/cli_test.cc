// The msrec program's help and flag checking (issue 18): `msrec <command>
// --help` prints the command's own flags and exits 0, LibTorch's flags stay
// out of it, a mistyped flag gets the nearest name.
#include <gtest/gtest.h>

#include "launch/help.h"
#include "tests/process_util.h"

#ifndef MSREC_BINARY
#error "MSREC_BINARY must name the msrec executable"
#endif

namespace msrec {
namespace {

TEST(CliTest, CommandHelpListsItsOwnFlagsAndExitsZero) {
  for (const char* command : {"train", "eval", "predict", "gen", "convert", "info", "ssim-search",
                              "export", "ssim-export"}) {
    for (const char* help : {"--help", "-h"}) {
      std::string out;
      EXPECT_EQ(0, RunCommand(std::string(MSREC_BINARY " ") + command + " " + help, &out))
          << command << " " << help << ":\n" << out;
      EXPECT_NE(out.find(std::string("usage: msrec ") + command), std::string::npos) << out;
      EXPECT_EQ(out.find("caffe2"), std::string::npos) << command;
      EXPECT_EQ(out.find("Flags from"), std::string::npos) << command;
    }
  }
  std::string out;
  ASSERT_EQ(0, RunCommand(MSREC_BINARY " train --help", &out));
  for (const char* flag : {"--lr ", "--train ", "--num_servers", "--checkpoint_dir", "--ssim_topk"}) {
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(out.find("(default: 0.001)"), std::string::npos) << out;
  EXPECT_LT(std::count(out.begin(), out.end(), '\n'), 140) << out;
}

TEST(CliTest, ProgramHelpListsTheCommands) {
  std::string out;
  EXPECT_EQ(0, RunCommand(MSREC_BINARY " --help", &out)) << out;
  EXPECT_NE(out.find("ssim-search"), std::string::npos) << out;
  EXPECT_EQ(2, RunCommand(MSREC_BINARY, &out));
}

TEST(CliTest, AMistypedFlagSuggestsTheNearestName) {
  std::string out;
  EXPECT_EQ(2, RunCommand(MSREC_BINARY " train --ephocs 3", &out));
  EXPECT_NE(out.find("unknown flag --ephocs; did you mean --epochs?"), std::string::npos) << out;
  // A negative value after a flag is a value, not a flag.
  EXPECT_NE(2, RunCommand(MSREC_BINARY " info --ssim_topk -1 --seed -5", &out)) << out;
  EXPECT_EQ(2, RunCommand(MSREC_BINARY " eval --model_dri x", &out));
  EXPECT_NE(out.find("did you mean --model_dir?"), std::string::npos) << out;
}

// --omp_wait: with --store rocksdb and several compute threads msrec runs
// itself again with OMP_WAIT_POLICY=PASSIVE (libgomp reads it only at start)
// and says so; the environment's own setting wins; nothing changes for the
// memory store; a bad value is refused.
TEST(CliTest, OmpWaitIsAppliedByRunningAgainWithThePolicySet) {
  const std::string clean = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u MSREC_OMP_WAIT_APPLIED ";
  const std::string info = clean + MSREC_BINARY " info --threads 2 ";
  std::string out;
  ASSERT_EQ(0, RunCommand(info + "--store rocksdb", &out)) << out;
  EXPECT_NE(out.find("OpenMP compute threads wait passively (OMP_WAIT_POLICY=PASSIVE, --omp_wait auto)"),
            std::string::npos)
      << out;
  ASSERT_EQ(0, RunCommand(clean + "OMP_WAIT_POLICY=active " MSREC_BINARY
                                  " info --threads 2 --store rocksdb --omp_wait passive",
                          &out))
      << out;
  EXPECT_NE(out.find("from the environment are kept"), std::string::npos) << out;
  EXPECT_EQ(out.find("wait passively"), std::string::npos) << out;
  ASSERT_EQ(0, RunCommand(info + "--store memory", &out)) << out;
  EXPECT_EQ(out.find("OpenMP"), std::string::npos) << out;
  // A worker of a job with parameter servers does not host the store.
  ASSERT_EQ(0, RunCommand(info + "--store rocksdb --num_servers 1", &out)) << out;
  EXPECT_EQ(out.find("OpenMP"), std::string::npos) << out;
  ASSERT_EQ(0, RunCommand(info + "--store memory --omp_wait passive", &out)) << out;
  EXPECT_NE(out.find("wait passively (OMP_WAIT_POLICY=PASSIVE, --omp_wait passive)"),
            std::string::npos)
      << out;
  EXPECT_EQ(2, RunCommand(info + "--omp_wait spin", &out));
  EXPECT_NE(out.find("--omp_wait must be auto, active or passive, not 'spin'"), std::string::npos)
      << out;
}

// --malloc_keep_mb: glibc's trim and mmap thresholds are fixed at start and
// the log says so; the environment's malloc settings win; 0 leaves glibc's
// defaults; a negative value is refused.
TEST(CliTest, MallocKeepFixesGlibcsThresholdsUnlessTheEnvironmentSetsThem) {
  const std::string clean =
      "env -u GLIBC_TUNABLES -u MALLOC_TRIM_THRESHOLD_ -u MALLOC_MMAP_THRESHOLD_ ";
  std::string out;
  ASSERT_EQ(0, RunCommand(clean + MSREC_BINARY " info", &out)) << out;
  EXPECT_NE(out.find("malloc: M_TRIM_THRESHOLD 64 MiB, M_MMAP_THRESHOLD 32 MiB"),
            std::string::npos)
      << out;
  ASSERT_EQ(0, RunCommand(clean + MSREC_BINARY " info --malloc_keep_mb 256", &out)) << out;
  EXPECT_NE(out.find("M_TRIM_THRESHOLD 256 MiB"), std::string::npos) << out;
  ASSERT_EQ(0, RunCommand(clean + "MALLOC_TRIM_THRESHOLD_=1048576 " MSREC_BINARY " info", &out))
      << out;
  EXPECT_NE(out.find("malloc: the environment's"), std::string::npos) << out;
  ASSERT_EQ(0, RunCommand(clean + "GLIBC_TUNABLES=glibc.malloc.trim_threshold=1048576 " MSREC_BINARY
                                  " info",
                          &out))
      << out;
  EXPECT_NE(out.find("malloc: the environment's"), std::string::npos) << out;
  ASSERT_EQ(0, RunCommand(clean + MSREC_BINARY " info --malloc_keep_mb 0", &out)) << out;
  EXPECT_EQ(out.find("malloc:"), std::string::npos) << out;
  EXPECT_EQ(2, RunCommand(clean + MSREC_BINARY " info --malloc_keep_mb -1", &out));
  EXPECT_NE(out.find("--malloc_keep_mb must be >= 0, got -1"), std::string::npos) << out;
}

TEST(CliTest, EveryFlagIsInAHelpGroup) {
  EXPECT_TRUE(UngroupedFlags().empty()) << UngroupedFlags().front();
}

}  // namespace
}  // namespace msrec
