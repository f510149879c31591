// cluster/ with the in-process backend: threads stand in for ranks.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/bucketed_allreduce.h"
#include "cluster/inprocess_communicator.h"
#include "common/timer.h"

namespace msrec {
namespace {

constexpr int kRanks = 4;

CommunicatorOptions Opts(double timeout_s = 10) {
  CommunicatorOptions o;
  o.timeout_s = timeout_s;
  return o;
}

// Runs fn(comm) on one thread per member of `group`; returns each rank's Status.
std::vector<Status> RunGroup(std::vector<std::unique_ptr<Communicator>>& group,
                             const std::function<Status(Communicator&)>& fn) {
  std::vector<Status> out(group.size());
  std::vector<std::thread> threads;
  for (size_t r = 0; r < group.size(); ++r) {
    threads.emplace_back([&, r] { out[r] = fn(*group[r]); });
  }
  for (auto& t : threads) t.join();
  return out;
}

void ExpectAllOk(const std::vector<Status>& statuses) {
  for (size_t r = 0; r < statuses.size(); ++r) {
    EXPECT_TRUE(statuses[r].ok()) << "rank " << r << ": " << statuses[r].ToString();
  }
}

TEST(InProcessCommunicatorTest, AllReduceSumFloatAndDouble) {
  auto group = MakeInProcessGroup(kRanks, Opts());
  ExpectAllOk(RunGroup(group, [](Communicator& c) {
    std::vector<float> f(1000);
    std::vector<double> d(7);
    for (size_t i = 0; i < f.size(); ++i) f[i] = c.rank() + 0.5f * i;
    for (size_t i = 0; i < d.size(); ++i) d[i] = c.rank() * 1e10 + i;
    MSREC_RETURN_IF_ERROR(c.AllReduceSum(f.data(), f.size()));
    MSREC_RETURN_IF_ERROR(c.AllReduceSum(d.data(), d.size()));
    MSREC_RETURN_IF_ERROR(c.AllReduceSum(static_cast<float*>(nullptr), 0));
    for (size_t i = 0; i < f.size(); ++i) EXPECT_FLOAT_EQ(f[i], 6 + 2.0f * i);
    for (size_t i = 0; i < d.size(); ++i) EXPECT_DOUBLE_EQ(d[i], 6e10 + 4.0 * i);
    return Status::OK();
  }));
}

TEST(InProcessCommunicatorTest, BroadcastAllGatherBarrier) {
  auto group = MakeInProcessGroup(kRanks, Opts());
  std::atomic<int> arrived{0};
  ExpectAllOk(RunGroup(group, [&](Communicator& c) {
    int value[3] = {c.rank(), c.rank() * 10, -1};
    MSREC_RETURN_IF_ERROR(c.Broadcast(value, sizeof(value), 2));
    EXPECT_EQ(value[0], 2);
    EXPECT_EQ(value[1], 20);
    const int mine[2] = {c.rank(), c.rank() * c.rank()};
    std::vector<int> all(2 * c.size());
    MSREC_RETURN_IF_ERROR(c.AllGather(mine, sizeof(mine), all.data()));
    for (int r = 0; r < c.size(); ++r) {
      EXPECT_EQ(all[2 * r], r);
      EXPECT_EQ(all[2 * r + 1], r * r);
    }
    ++arrived;
    MSREC_RETURN_IF_ERROR(c.Barrier());
    EXPECT_EQ(arrived.load(), kRanks);  // nobody leaves before everyone arrived
    return Status::OK();
  }));
}

TEST(InProcessCommunicatorTest, AllGatherVUnevenSizes) {
  auto group = MakeInProcessGroup(kRanks, Opts());
  ExpectAllOk(RunGroup(group, [](Communicator& c) {
    std::vector<float> mine(c.rank() == 1 ? 0 : c.rank() * 3 + 1, static_cast<float>(c.rank()));
    std::vector<float> all;
    std::vector<size_t> counts;
    MSREC_RETURN_IF_ERROR(c.AllGatherV(mine, &all, &counts));
    std::vector<size_t> want_counts = {1, 0, 7, 10};
    EXPECT_EQ(counts, want_counts);
    std::vector<float> want;
    for (int r = 0; r < c.size(); ++r) want.insert(want.end(), want_counts[r], float(r));
    EXPECT_EQ(all, want);
    return Status::OK();
  }));
}

TEST(InProcessCommunicatorTest, InvalidArgumentDoesNotBreak) {
  auto group = MakeInProcessGroup(2, Opts());
  ExpectAllOk(RunGroup(group, [](Communicator& c) {
    int x = c.rank();
    Status s = c.Broadcast(&x, sizeof(x), 5);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    EXPECT_TRUE(c.health().ok());
    return c.Broadcast(&x, sizeof(x), 1);
  }));
}

TEST(InProcessCommunicatorTest, MissingPeerTimesOutAndBreaksTheGroup) {
  auto group = MakeInProcessGroup(kRanks, Opts(0.5));
  std::vector<Status> statuses(kRanks);
  std::vector<double> seconds(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks - 1; ++r) {  // rank 3 never arrives
    threads.emplace_back([&, r] {
      Timer timer;
      std::vector<float> x(10, 1.0f);
      statuses[r] = group[r]->AllReduceSum(x.data(), x.size());
      seconds[r] = timer.Seconds();
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kRanks - 1; ++r) {
    EXPECT_EQ(statuses[r].code(), Status::Code::kTimeout) << statuses[r].ToString();
    EXPECT_NE(statuses[r].message().find("AllReduceSum"), std::string::npos);
    EXPECT_NE(statuses[r].message().find("0.5 s"), std::string::npos) << statuses[r].message();
    EXPECT_GE(seconds[r], 0.45);
    EXPECT_LT(seconds[r], 2.0);
    // Broken: the next call fails at once with the same error.
    Timer timer;
    Status again = group[r]->Barrier();
    EXPECT_EQ(again.ToString(), statuses[r].ToString());
    EXPECT_LT(timer.Seconds(), 0.1);
  }
  // The late rank finds the group broken instead of waiting.
  Timer timer;
  float y = 1;
  Status late = group[kRanks - 1]->AllReduceSum(&y, 1);
  EXPECT_EQ(late.code(), Status::Code::kTimeout) << late.ToString();
  EXPECT_LT(timer.Seconds(), 0.1);
}

TEST(InProcessCommunicatorTest, MismatchedCollectivesFailOnEveryRank) {
  auto group = MakeInProcessGroup(2, Opts());
  std::vector<Status> statuses = RunGroup(group, [](Communicator& c) {
    float x[4] = {0, 0, 0, 0};
    return c.AllReduceSum(x, c.rank() == 0 ? 4 : 3);
  });
  for (const Status& s : statuses) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("mismatched"), std::string::npos) << s.ToString();
  }
}

// Random tensors per rank; returns the naive (mean or sum) reduction.
std::vector<std::vector<std::vector<float>>> RandomTensors(const std::vector<size_t>& sizes,
                                                           int ranks, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<std::vector<float>>> data(ranks);
  for (int r = 0; r < ranks; ++r) {
    for (size_t n : sizes) {
      data[r].emplace_back(n);
      for (float& x : data[r].back()) x = u(rng);
    }
  }
  return data;
}

TEST(BucketedAllReduceTest, EqualsNaiveSumForRandomListsAndBucketSizes) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 12; ++trial) {
    std::vector<size_t> sizes(1 + rng() % 8);
    for (size_t& n : sizes) n = rng() % 3 == 0 ? rng() % 4 : rng() % 3000;  // includes 0
    const size_t bucket_bytes[] = {1, 4, 12, 100, 4096, 1 << 20};
    BucketOptions options;
    options.bucket_bytes = bucket_bytes[trial % 6];
    options.average = trial % 2 == 0;
    auto data = RandomTensors(sizes, kRanks, trial);
    auto original = data;
    auto group = MakeInProcessGroup(kRanks, Opts());
    ExpectAllOk(RunGroup(group, [&](Communicator& c) {
      std::vector<FloatSpan> spans;
      for (auto& t : data[c.rank()]) spans.push_back({t.data(), t.size()});
      BucketedAllReduce reducer(&c, spans, options);
      std::vector<size_t> order(spans.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), std::mt19937(c.rank() * 31 + trial));
      for (size_t i = 0; i + 1 < order.size(); ++i) {  // the last one is left to Finish
        MSREC_RETURN_IF_ERROR(reducer.AddReady(order[i]));
      }
      return reducer.Finish();
    }));
    for (size_t t = 0; t < sizes.size(); ++t) {
      for (size_t i = 0; i < sizes[t]; ++i) {
        float want = 0;
        for (int r = 0; r < kRanks; ++r) want += original[r][t][i];
        if (options.average) want /= kRanks;
        for (int r = 0; r < kRanks; ++r) {
          ASSERT_NEAR(data[r][t][i], want, 1e-5)
              << "trial " << trial << " tensor " << t << " elem " << i << " rank " << r;
        }
      }
    }
  }
}

TEST(BucketedAllReduceTest, ReusableAcrossStepsAndBucketCount) {
  auto group = MakeInProcessGroup(2, Opts());
  ExpectAllOk(RunGroup(group, [](Communicator& c) {
    std::vector<float> a(10), b(5);
    BucketOptions options;
    options.bucket_bytes = 6 * sizeof(float);
    options.average = false;
    BucketedAllReduce reducer(&c, {{a.data(), a.size()}, {b.data(), b.size()}}, options);
    EXPECT_EQ(reducer.num_buckets(), 3u);  // 15 floats in buckets of 6
    for (int step = 1; step <= 3; ++step) {
      std::fill(a.begin(), a.end(), float(step));
      std::fill(b.begin(), b.end(), float(c.rank()));
      MSREC_RETURN_IF_ERROR(reducer.AddReady(1));
      MSREC_RETURN_IF_ERROR(reducer.AddReady(0));
      MSREC_RETURN_IF_ERROR(reducer.Finish());
      for (float x : a) EXPECT_EQ(x, 2.0f * step);
      for (float x : b) EXPECT_EQ(x, 1.0f);
    }
    return Status::OK();
  }));
}

TEST(BucketedAllReduceTest, MissingPeerGivesTimeoutFromFinish) {
  auto group = MakeInProcessGroup(2, Opts(0.5));
  std::vector<float> x(100, 1.0f);
  Timer timer;
  BucketedAllReduce reducer(group[0].get(), {{x.data(), x.size()}}, BucketOptions());
  Status s = reducer.Finish();  // rank 1 never joins
  EXPECT_EQ(s.code(), Status::Code::kTimeout) << s.ToString();
  EXPECT_LT(timer.Seconds(), 2.0);
  EXPECT_EQ(reducer.Finish().ToString(), s.ToString());
}

TEST(CheckSameAcrossRanksTest, DetectsTheRankThatDiffers) {
  auto group = MakeInProcessGroup(kRanks, Opts());
  ExpectAllOk(RunGroup(group, [](Communicator& c) {
    std::vector<float> params(257, 0.25f);
    return CheckSameAcrossRanks(c, params.data(), params.size());
  }));
  std::vector<Status> statuses = RunGroup(group, [](Communicator& c) {
    std::vector<float> params(257, 0.25f);
    if (c.rank() >= 2) params[100] += 1e-6f;  // ranks 2 and 3 differ; 2 is the first
    return CheckSameAcrossRanks(c, params.data(), params.size());
  });
  for (const Status& s : statuses) {
    EXPECT_EQ(s.code(), Status::Code::kInternal) << s.ToString();
    EXPECT_NE(s.message().find("rank 2 holds different values"), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace msrec
