// The NCCL communicator on real GPUs (MSREC_WITH_CUDA builds; label gpu).
// Run under mpirun: each rank takes GPU <local rank>. Skips (with a message)
// when the machine has fewer GPUs than ranks. Collectives at world size 1 and,
// on a machine with 2 GPUs, 2; a short timeout on a collective one rank skips.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <vector>

#include <glog/logging.h>
#include <gtest/gtest.h>

#include "cluster/mpi_env.h"
#include "cluster/nccl_communicator.h"

namespace msrec {
namespace {

const MpiEnv* g_env = nullptr;

class NcclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
    const Topology& t = g_env->topology();
    if (devices < t.world_size) {
      GTEST_SKIP() << "needs " << t.world_size << " GPU(s), this machine has " << devices;
    }
    device_ = t.local_rank;
    CommunicatorOptions options;
    options.timeout_s = 20;
    auto comm = MakeNcclCommunicator(g_env->workers(), device_, nullptr, options);
    ASSERT_TRUE(comm.ok()) << comm.status().ToString();
    comm_ = std::move(comm.value());
  }

  // A device buffer holding `host`.
  float* Upload(const std::vector<float>& host) {
    float* d = nullptr;
    EXPECT_EQ(cudaSetDevice(device_), cudaSuccess);
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&d), host.size() * sizeof(float)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(d, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
              cudaSuccess);
    buffers_.push_back(d);
    return d;
  }
  std::vector<float> Download(const float* d, size_t n) {
    std::vector<float> host(n);
    EXPECT_EQ(cudaMemcpy(host.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }
  void TearDown() override {
    for (float* d : buffers_) cudaFree(d);
  }

  int device_ = 0;
  std::unique_ptr<Communicator> comm_;
  std::vector<float*> buffers_;
};

TEST_F(NcclTest, AllReduceSumsOverRanks) {
  const int r = comm_->rank(), w = comm_->size();
  std::vector<float> host(1000);
  for (size_t i = 0; i < host.size(); ++i) host[i] = float(i) + r;
  float* d = Upload(host);
  ASSERT_TRUE(comm_->AllReduceSum(d, host.size()).ok());
  const std::vector<float> out = Download(d, host.size());
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_FLOAT_EQ(out[i], w * float(i) + w * (w - 1) / 2.0f) << i;
  }
  EXPECT_STREQ(comm_->backend(), "nccl");
}

TEST_F(NcclTest, BroadcastAndAllGather) {
  const int r = comm_->rank(), w = comm_->size();
  float* b = Upload(std::vector<float>(64, float(r + 1)));
  ASSERT_TRUE(comm_->Broadcast(b, 64 * sizeof(float), 0).ok());
  for (float v : Download(b, 64)) ASSERT_EQ(v, 1.0f);
  float* in = Upload(std::vector<float>(8, float(r)));
  float* out = Upload(std::vector<float>(8 * w, -1.0f));
  ASSERT_TRUE(comm_->AllGather(in, 8 * sizeof(float), out).ok());
  const std::vector<float> all = Download(out, 8 * w);
  for (int k = 0; k < w; ++k) EXPECT_EQ(all[8 * k], float(k));
}

TEST_F(NcclTest, AllGatherVIsRejected) {
  std::vector<uint8_t> out;
  const uint8_t byte = 1;
  EXPECT_EQ(comm_->AllGatherV(&byte, 1, &out, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(comm_->health().ok());  // InvalidArgument does not break the communicator
}

TEST_F(NcclTest, ACollectiveARankSkipsTimesOut) {
  if (comm_->size() < 2) GTEST_SKIP() << "a timeout needs a peer that does not come (2 ranks)";
  float* d = Upload(std::vector<float>(16, 1.0f));
  if (comm_->rank() == 1) return;  // rank 1 never joins
  const Status s = comm_->AllReduceSum(d, 16);
  EXPECT_EQ(s.code(), Status::Code::kTimeout) << s.ToString();
  EXPECT_FALSE(comm_->health().ok());
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  auto env = msrec::MpiEnv::Init(&argc, &argv, /*num_servers=*/0);
  if (!env.ok()) {
    std::fprintf(stderr, "nccl_test: %s\n", env.status().ToString().c_str());
    return 1;
  }
  msrec::g_env = env.value().get();
  return RUN_ALL_TESTS();
}
