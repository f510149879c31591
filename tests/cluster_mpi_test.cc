// cluster/ over real MPI processes: run as
//   mpirun --allow-run-as-root --oversubscribe -np 3 cluster_mpi_test
// (CTest does). Its own main: MPI is initialized (MpiEnv) before the tests
// and finalized after them. Every rank runs every test; the ranks must agree
// on the order of collectives, so no test returns early on one rank only.
#include <cstdio>
#include <numeric>
#include <vector>

#include <glog/logging.h>
#include <gtest/gtest.h>

#include "cluster/bucketed_allreduce.h"
#include "cluster/mpi_communicator.h"
#include "cluster/mpi_env.h"

namespace msrec {
namespace {

Communicator* g_comm = nullptr;  // set in main for the life of RUN_ALL_TESTS

TEST(MpiCommunicatorTest, Basics) {
  EXPECT_EQ(g_comm->size(), 3) << "run under mpirun -np 3";
  EXPECT_STREQ(g_comm->backend(), "mpi");
  auto bad = MakeMpiCommunicator(MPI_COMM_NULL, CommunicatorOptions());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
}

TEST(MpiCommunicatorTest, AllReduceSum) {
  Communicator& c = *g_comm;
  std::vector<float> f(100000);
  for (size_t i = 0; i < f.size(); ++i) f[i] = c.rank() + 0.25f * (i % 64);
  ASSERT_TRUE(c.AllReduceSum(f.data(), f.size()).ok());
  const int n = c.size();
  for (size_t i = 0; i < f.size(); ++i) {
    ASSERT_FLOAT_EQ(f[i], n * (n - 1) / 2 + n * 0.25f * (i % 64)) << i;
  }
  double d[2] = {1e12 * c.rank(), 1.0};
  ASSERT_TRUE(c.AllReduceSum(d, 2).ok());
  EXPECT_DOUBLE_EQ(d[0], 1e12 * n * (n - 1) / 2);
  EXPECT_DOUBLE_EQ(d[1], n);
}

TEST(MpiCommunicatorTest, BroadcastAndAllGather) {
  Communicator& c = *g_comm;
  std::vector<int> v(1000, c.rank());
  ASSERT_TRUE(c.Broadcast(v.data(), v.size() * sizeof(int), 1).ok());
  for (int x : v) ASSERT_EQ(x, 1);
  const int mine[2] = {c.rank(), 7 * c.rank()};
  std::vector<int> all(2 * c.size(), -1);
  ASSERT_TRUE(c.AllGather(mine, sizeof(mine), all.data()).ok());
  for (int r = 0; r < c.size(); ++r) {
    EXPECT_EQ(all[2 * r], r);
    EXPECT_EQ(all[2 * r + 1], 7 * r);
  }
  ASSERT_TRUE(c.Barrier().ok());
}

TEST(MpiCommunicatorTest, AllGatherVUnevenSizes) {
  Communicator& c = *g_comm;
  // rank 0: 5 values, rank 1: none, rank 2: 1000.
  const size_t sizes[] = {5, 0, 1000};
  std::vector<double> mine(sizes[c.rank()]);
  std::iota(mine.begin(), mine.end(), 1000.0 * c.rank());
  std::vector<double> all;
  std::vector<size_t> counts;
  ASSERT_TRUE(c.AllGatherV(mine, &all, &counts).ok());
  ASSERT_EQ(counts, std::vector<size_t>(sizes, sizes + 3));
  ASSERT_EQ(all.size(), 1005u);
  EXPECT_EQ(all[0], 0.0);
  EXPECT_EQ(all[4], 4.0);
  EXPECT_EQ(all[5], 2000.0);
  EXPECT_EQ(all[1004], 2999.0);
}

TEST(MpiCommunicatorTest, BucketedAllReduceAndSameCheck) {
  Communicator& c = *g_comm;
  std::vector<std::vector<float>> grads = {std::vector<float>(1000), std::vector<float>(3),
                                           std::vector<float>(0), std::vector<float>(5000)};
  std::vector<FloatSpan> spans;
  for (auto& g : grads) {
    for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(c.rank() * (i % 5));
    spans.push_back({g.data(), g.size()});
  }
  BucketOptions options;
  options.bucket_bytes = 1024;  // smaller than the first and the last tensor
  BucketedAllReduce reducer(&c, spans, options);
  ASSERT_TRUE(reducer.AddReady(3).ok());  // reverse order, as backward produces them
  ASSERT_TRUE(reducer.AddReady(1).ok());
  ASSERT_TRUE(reducer.Finish().ok());
  for (auto& g : grads) {
    for (size_t i = 0; i < g.size(); ++i) ASSERT_FLOAT_EQ(g[i], 1.0f * (i % 5));  // mean rank 1
  }
  EXPECT_TRUE(CheckSameAcrossRanks(c, grads[3].data(), grads[3].size()).ok());
  if (c.rank() == 2) grads[3][17] = -1;
  Status s = CheckSameAcrossRanks(c, grads[3].data(), grads[3].size());
  EXPECT_EQ(s.code(), Status::Code::kInternal);
  EXPECT_NE(s.message().find("rank 2"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  auto env = msrec::MpiEnv::Init(&argc, &argv, /*num_servers=*/0);
  if (!env.ok()) {
    std::fprintf(stderr, "cluster_mpi_test: %s\n", env.status().ToString().c_str());
    return 1;
  }
  int rc = 0;
  {
    msrec::CommunicatorOptions options;
    options.timeout_s = 30;  // a diverging rank fails the test instead of hanging it
    auto comm = msrec::MakeMpiCommunicator((*env)->workers(), options);
    if (!comm.ok()) {
      std::fprintf(stderr, "cluster_mpi_test: %s\n", comm.status().ToString().c_str());
      return 1;
    }
    msrec::g_comm = comm->get();
    rc = RUN_ALL_TESTS();
    msrec::g_comm = nullptr;
  }  // the communicator goes before MPI_Finalize
  return rc;
}
