// Data-parallel training and SSIM search under real mpirun processes (2
// workers + 1 server): exactness against one process with the union batch,
// uneven data slices, a worker killed with SIGKILL, a killed search resumed. Runs the msrec binary (MSREC_BINARY).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/timer.h"
#include "tests/job_test_util.h"
#include "tests/process_util.h"
#include "trainer/data/generator.h"
#include "trainer/job_io.h"

#ifndef MSREC_BINARY
#error "MSREC_BINARY must name the msrec executable"
#endif

namespace msrec {
namespace {

const char kMpirun[] = "timeout 200 mpirun --allow-run-as-root --oversubscribe -np 3 ";

// key=value lines (ssim.txt).
std::map<std::string, std::string> ReadKeyValues(const std::string& path) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return values;
}

// The numeric rows of a TSV file with a header line (share_sweep.tsv).
std::vector<std::vector<double>> ReadTsvNumbers(const std::string& path) {
  std::vector<std::vector<double>> rows;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<double> row;
    for (double v; fields >> v;) row.push_back(v);
    if (!row.empty()) rows.push_back(row);
  }
  return rows;
}

class DistributedTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    common_ = MakeJobData("msrec_dist", 11, 40000, &dir_) +
              " --model mt_backbone --hidden 32,16 --log_every 1000 --seed 3 --shuffle_buffer 0";
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  static int Run(const std::string& command, std::string* output) {
    return RunCommand(command, output);
  }

  std::string dir_;
  std::string common_;
};

TEST_F(DistributedTrainTest, TwoWorkersEqualOneProcessWithTheUnionBatch) {
  const std::string steps = " --max_steps 15 --batch_size ";
  std::string out;
  ASSERT_EQ(0, Run(MSREC_BINARY " train" + common_ + steps + "256 --model_dir " + dir_ + "/single",
                   &out))
      << out;
  ASSERT_EQ(0, Run(kMpirun + std::string(MSREC_BINARY " train") + common_ + steps +
                       "128 --num_servers 1 --data_sharding batches --check_parameters --bucket_mb 0.02 "
                       "--model_dir " + dir_ + "/dist",
                   &out))
      << out;
  ExpectSameDenseParameters(dir_ + "/single", dir_ + "/dist", 1e-5);
  ExpectSameRows(dir_ + "/single/embeddings.bin", dir_ + "/dist/ps/server-0.bin", 1e-5);
}

// SSIM-R over the global mini-batch: the random share is drawn for the union
// batch, so 2 workers share exactly the instances one process would (the
// parameters afterwards can only be equal if the masks were).
TEST_F(DistributedTrainTest, SsimMaskOverTwoWorkersEqualsOneProcess) {
  const std::string flags = " --max_steps 10 --ssim_random --ssim_topk 0.4 --batch_size ";
  std::string out;
  ASSERT_EQ(0, Run(MSREC_BINARY " train" + common_ + flags + "256 --model_dir " + dir_ + "/single",
                   &out))
      << out;
  ASSERT_EQ(0, Run(kMpirun + std::string(MSREC_BINARY " train") + common_ + flags +
                       "128 --num_servers 1 --data_sharding batches --model_dir " + dir_ + "/dist",
                   &out))
      << out;
  ExpectSameDenseParameters(dir_ + "/single", dir_ + "/dist", 1e-5);
}

// Early stopping in a data-parallel job: the servers checkpoint the best
// epoch's rows, every worker restores its dense parameters at the end.
TEST_F(DistributedTrainTest, EarlyStoppingKeepsTheBestEpochAcrossWorkersAndServers) {
  std::string out;
  ASSERT_EQ(0, Run(kMpirun + std::string(MSREC_BINARY " train") + common_ +
                       " --epochs 3 --early_stopping_patience 1 --batch_size 512 --lr 0.05"
                       " --num_servers 1 --check_parameters --model_dir " + dir_ + "/early",
                   &out))
      << out;
  EXPECT_NE(out.find("== validation =="), std::string::npos) << out;
  // The snapshot is gone once used; the model directory holds the kept model.
  EXPECT_FALSE(PathExists(dir_ + "/early/best_rows")) << out;
  EXPECT_FALSE(PathExists(dir_ + "/early/best_dense.pt")) << out;
  EXPECT_TRUE(PathExists(dir_ + "/early/dense.pt")) << out;
}

// The SSIM search in the training loop: 2 workers + 1 server search the
// selector one process searches on the union batches.
TEST_F(DistributedTrainTest, SsimSearchOnTwoWorkersEqualsOneProcess) {
  const std::string flags = " --max_steps 12 --ssim_steps_in_epoch 12 --ssim_hidden 16"
                            " --ssim_selector_lr 0.001 --batch_size ";
  std::string out;
  ASSERT_EQ(0, Run(MSREC_BINARY " ssim-search" + common_ + flags + "256 --output " + dir_ +
                       "/single",
                   &out))
      << out;
  ASSERT_EQ(0, Run(kMpirun + std::string(MSREC_BINARY " ssim-search") + common_ + flags +
                       "128 --num_servers 1 --data_sharding batches --output " + dir_ + "/dist",
                   &out))
      << out;
  ExpectSameSelectors(dir_ + "/single", dir_ + "/dist", 1e-5);
  ExpectSameDenseParameters(dir_ + "/single", dir_ + "/dist", 1e-5);
  ExpectSameRows(dir_ + "/single/embeddings.bin", dir_ + "/dist/embeddings.bin", 1e-5);
  // The share sweep (--val is given): the same short retrains, data-parallel
  // through the server, score every share alike and choose the same one.
  EXPECT_NE(out.find("share sweep: chose"), std::string::npos) << out;
  const std::map<std::string, std::string> single = ReadKeyValues(dir_ + "/single/ssim.txt");
  const std::map<std::string, std::string> dist = ReadKeyValues(dir_ + "/dist/ssim.txt");
  ASSERT_EQ(single.count("validated_share"), 1u);
  EXPECT_GE(std::atof(single.at("validated_share").c_str()), 0.0);
  EXPECT_EQ(single.at("validated_share"), dist.at("validated_share"));
  const std::vector<std::vector<double>> a = ReadTsvNumbers(dir_ + "/single/share_sweep.tsv");
  const std::vector<std::vector<double>> b = ReadTsvNumbers(dir_ + "/dist/share_sweep.tsv");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i][0], b[i][0]);                  // the share
    EXPECT_NEAR(a[i][1], b[i][1], 1e-4) << i;     // its validation AUC
  }
  EXPECT_FALSE(PathExists(dir_ + "/dist/share_sweep")) << "the retrains' directories stay";
  // Each retrain's table left the server once the retrain ended: the
  // server's final dump holds the search's table only.
  std::unique_ptr<EmbeddingStore> dump = MakeMemoryStore();
  ASSERT_TRUE(LoadStore(dir_ + "/dist/ps/server-0.bin", dump.get()).ok());
  EXPECT_EQ(dump->TableNames(), std::vector<std::string>{"emb"});
}

// A search killed (SIGKILL, worker 0) after a checkpoint and resumed ends with
// the selector of the uninterrupted search.
TEST_F(DistributedTrainTest, KilledSearchResumesToTheSameSelector) {
  const std::string flags = kMpirun + std::string(MSREC_BINARY " ssim-search") + common_ +
                            " --ssim_hidden 16 --ssim_selector_lr 0.001 --batch_size 64"
                            " --num_servers 1 --data_sharding batches --deterministic"
                            " --checkpoint_every_steps 20 --output ";
  std::string out;
  ASSERT_EQ(0, Run(flags + dir_ + "/full", &out)) << out;
  const std::string killed = dir_ + "/killed";
  std::thread killer([&] {
    EXPECT_TRUE(SignalWhenExists(killed + "/checkpoints/ckpt-0000000020/MANIFEST",
                                 "--output " + killed, 0, SIGKILL));
  });
  EXPECT_NE(0, Run(flags + killed, &out)) << out;
  killer.join();
  ASSERT_FALSE(PathExists(killed + "/selector.pt")) << "the search ended before the kill";
  ASSERT_EQ(0, Run(flags + killed + " --resume", &out)) << out;
  EXPECT_NE(out.find("resumed from"), std::string::npos) << out;
  ExpectSameSelectors(dir_ + "/full", killed, 1e-6);
  ExpectSameRows(dir_ + "/full/embeddings.bin", killed + "/embeddings.bin", 1e-6);
}

// Day-by-day training from a model trained with server ranks: the next day
// starts from its dense weights and every row the servers kept.
TEST_F(DistributedTrainTest, InitFromADistributedModel) {
  std::string out;
  ASSERT_EQ(0, Run(kMpirun + std::string(MSREC_BINARY " train") + common_ +
                       " --max_steps 10 --batch_size 256 --num_servers 1 --model_dir " + dir_ +
                       "/day1",
                   &out))
      << out;
  ASSERT_EQ(0, Run(MSREC_BINARY " train" + common_ + " --epochs 0 --init_from " + dir_ +
                       "/day1 --model_dir " + dir_ + "/day2",
                   &out))
      << out;
  ExpectSameDenseParameters(dir_ + "/day1", dir_ + "/day2", 0);
  ExpectSameRows(dir_ + "/day1/ps/server-0.bin", dir_ + "/day2/embeddings.bin", 0);
}

// The figure N in the first log line "<prefix>N" of `out` (-1 if none).
int64_t LoggedNumber(const std::string& out, const std::string& prefix) {
  const size_t at = out.find(prefix);
  return at == std::string::npos ? -1 : std::atoll(out.c_str() + at + prefix.size());
}

TEST_F(DistributedTrainTest, UnevenSlicesTrainEveryRowOncePerEpoch) {
  // The 32,000 training rows dealt to 2 workers as 16,021 and 15,979: with 500
  // rows per worker batch the first slice needs 33 batches, the second 32, so
  // worker 1 joins the last step of each epoch with an empty batch (zero
  // weight) and every row is trained once per epoch (issue 17).
  std::string out;
  Timer timer;
  const int code = Run(kMpirun + std::string(MSREC_BINARY " train") + common_ +
                           " --epochs 2 --batch_size 500 --num_servers 1 --data_sharding chunks "
                           "--check_parameters --model_dir " + dir_ + "/uneven",
                       &out);
  EXPECT_EQ(code, 0) << out;
  EXPECT_LT(timer.Seconds(), 120);
  EXPECT_NE(out.find("== validation =="), std::string::npos) << out;
  for (const char* epoch : {"epoch 1: ", "epoch 2: "}) {
    const int64_t trained0 = LoggedNumber(out, std::string(epoch) + "worker 0 trained ");
    const int64_t trained1 = LoggedNumber(out, std::string(epoch) + "worker 1 trained ");
    EXPECT_GT(trained0, 0) << out;
    EXPECT_GT(trained1, 0) << out;
    EXPECT_NE(trained0, trained1) << out;  // the slices are uneven, as the test wants
    EXPECT_EQ(trained0 + trained1, 32000) << epoch << "\n" << out;
  }
  EXPECT_NE(out.find("with an empty batch: its slice was done"), std::string::npos) << out;
  EXPECT_EQ(out.find("untrained"), std::string::npos) << out;
}

TEST_F(DistributedTrainTest, KilledWorkerEndsTheJobWithAnError) {
  const std::string model_dir = dir_ + "/killed";
  const std::string command = kMpirun + std::string(MSREC_BINARY " train") + common_ +
                              " --epochs 1000 --batch_size 256 --num_servers 1 --ps_timeout_s 10"
                              " --checkpoint_every_steps 10"
                              " --comm_timeout_s 10 --model_dir " + model_dir;
  std::string out;
  Timer timer;
  std::thread killer([&] {
    // Worker 1 of this job (its command line names model_dir) dies once the
    // first epoch's checkpoint shows training is under way.
    EXPECT_TRUE(SignalWhenExists(model_dir + "/checkpoints/ckpt-0000000010/MANIFEST",
                                 "--model_dir " + model_dir, 1, SIGKILL));
  });
  const int code = Run(command, &out);
  killer.join();
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(code, 124) << "the job hung:\n" << out;
  EXPECT_LT(timer.Seconds(), 90) << out;
  EXPECT_NE(out.find("rank 1"), std::string::npos) << out;
}

}  // namespace
}  // namespace msrec
