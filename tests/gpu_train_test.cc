// Training on a CUDA device (label gpu): skipped, with a message, where
// LibTorch sees no GPU (every CPU build). On a GPU machine:
//  - `--device cuda` ends within 1e-4 of the same run on the CPU;
//  - 1 CUDA worker whose dense gradients go through NCCL on the device
//    (mpirun, 1 worker + 1 server; MSREC_WITH_CUDA builds) ends within 1e-4 of
//    the same worker without any sync (the embedded default on the GPU).
#include <gtest/gtest.h>

#include "tests/job_test_util.h"
#include "tests/process_util.h"
#include "trainer/trainer.h"

#ifndef MSREC_BINARY
#error "MSREC_BINARY must name the msrec executable"
#endif

namespace msrec {
namespace {

class GpuTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) {
      GTEST_SKIP() << "no CUDA device (or this LibTorch has no CUDA): GPU tests skipped";
    }
    common_ = MakeJobData("msrec_gpu", 13, 20000, &dir_) +
              " --model mt_backbone --hidden 32,16 --log_every 1000 --seed 3 --shuffle_buffer 0"
              " --max_steps 20 --batch_size 512 --checkpoint_dir none";
  }
  void TearDown() override {
    if (!dir_.empty()) {
      EXPECT_TRUE(RemoveTree(dir_).ok());
    }
  }
  std::string dir_, common_;
};

TEST_F(GpuTrainTest, CudaRunEqualsCpuRun) {
  std::string out;
  ASSERT_EQ(0, RunCommand(MSREC_BINARY " train" + common_ + " --device cpu --model_dir " + dir_ +
                              "/cpu", &out)) << out;
  ASSERT_EQ(0, RunCommand(MSREC_BINARY " train" + common_ + " --device cuda --model_dir " + dir_ +
                              "/cuda", &out)) << out;
  ExpectSameDenseParameters(dir_ + "/cpu", dir_ + "/cuda", 1e-4);
  ExpectSameRows(dir_ + "/cpu/embeddings.bin", dir_ + "/cuda/embeddings.bin", 1e-4);
}

TEST_F(GpuTrainTest, OneCudaWorkerWithNcclSyncEqualsNoSync) {
#ifndef MSREC_WITH_CUDA
  GTEST_SKIP() << "built without MSREC_WITH_CUDA: no NCCL sync to test";
#endif
  std::string out;
  ASSERT_EQ(0, RunCommand(MSREC_BINARY " train" + common_ + " --device cuda --model_dir " + dir_ +
                              "/alone", &out)) << out;
  ASSERT_EQ(0, RunCommand("timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 "
                          MSREC_BINARY " train" + common_ +
                              " --device cuda --num_servers 1 --check_parameters --model_dir " +
                              dir_ + "/nccl", &out)) << out;
  EXPECT_NE(out.find("nccl"), std::string::npos) << "the worker did not use NCCL:\n" << out;
  ExpectSameDenseParameters(dir_ + "/alone", dir_ + "/nccl", 1e-4);
  ExpectSameRows(dir_ + "/alone/embeddings.bin", dir_ + "/nccl/ps/server-0.bin", 1e-4);
}

}  // namespace
}  // namespace msrec
