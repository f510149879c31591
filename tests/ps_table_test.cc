// SparseTable / LocalClient semantics: deterministic initial values, argument
// checks, table config checks, corrupt rows, concurrent use.
#include <algorithm>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "parameter_server/local_client.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/sparse_table.h"

namespace msrec {
namespace {

TableConfig Config(int dim = 8, SparseOptimizerKind kind = SparseOptimizerKind::kAdagrad) {
  TableConfig c;
  c.name = "emb";
  c.dim = dim;
  c.init_scale = 0.1f;
  c.seed = 2022;
  c.optimizer.kind = kind;
  return c;
}

TEST(InitialWeightsTest, InRangeAndSpread) {
  std::vector<float> w(64);
  double sum = 0;
  float lo = 1, hi = -1;
  for (uint64_t key = 0; key < 1000; ++key) {
    InitialWeights(key, 2022, 0.1f, 64, w.data());
    for (float x : w) {
      ASSERT_GE(x, -0.1f);
      ASSERT_LT(x, 0.1f);
      sum += x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  EXPECT_NEAR(sum / 64000, 0.0, 0.002);
  EXPECT_LT(lo, -0.099f);
  EXPECT_GT(hi, 0.099f);
  std::vector<float> other(64);
  InitialWeights(5, 2022, 0.1f, 64, w.data());
  InitialWeights(5, 2023, 0.1f, 64, other.data());
  EXPECT_NE(w, other);  // the seed matters
}

TEST(SparseTableTest, InitIsIndependentOfOrderAndBatching) {
  const int dim = 8;
  auto a = MakeLocalClient(MakeMemoryStore());
  auto b = MakeLocalClient(MakeMemoryStore());
  ASSERT_TRUE(a->CreateTable(Config(dim)).ok());
  ASSERT_TRUE(b->CreateTable(Config(dim)).ok());
  std::vector<uint64_t> keys(500);
  std::mt19937_64 rng(3);
  for (auto& k : keys) k = rng();
  std::vector<float> all(keys.size() * dim);
  ASSERT_TRUE(a->Pull("emb", keys.data(), keys.size(), all.data()).ok());

  // Reversed order, one key at a time, in another client.
  for (size_t i = keys.size(); i-- > 0;) {
    std::vector<float> one(dim);
    ASSERT_TRUE(b->Pull("emb", &keys[i], 1, one.data()).ok());
    std::vector<float> expected(all.begin() + i * dim, all.begin() + (i + 1) * dim);
    ASSERT_EQ(one, expected) << "key " << keys[i];
    std::vector<float> direct(dim);
    InitialWeights(keys[i], 2022, 0.1f, dim, direct.data());
    ASSERT_EQ(one, direct);
  }
}

TEST(SparseTableTest, RepeatedKeysInPullGetTheSameRow) {
  auto client = MakeLocalClient(MakeMemoryStore());
  ASSERT_TRUE(client->CreateTable(Config(4)).ok());
  const uint64_t keys[] = {9, 3, 9, 9, 3};
  const float grads[] = {1, 1, 1, 1};
  ASSERT_TRUE(client->Push("emb", keys, 1, grads, 1).ok());
  std::vector<float> w(5 * 4);
  ASSERT_TRUE(client->Pull("emb", keys, 5, w.data()).ok());
  for (int i : {2, 3}) {
    EXPECT_TRUE(std::equal(w.begin(), w.begin() + 4, w.begin() + i * 4));
  }
  EXPECT_TRUE(std::equal(w.begin() + 4, w.begin() + 8, w.begin() + 16));
  EXPECT_FALSE(std::equal(w.begin(), w.begin() + 4, w.begin() + 4));
}

TEST(SparseTableTest, ArgumentChecks) {
  auto client = MakeLocalClient(MakeMemoryStore());
  float w[8];
  const uint64_t key = 1;
  EXPECT_EQ(client->Pull("emb", &key, 1, w).code(), Status::Code::kNotFound);
  ASSERT_TRUE(client->CreateTable(Config(4)).ok());
  ASSERT_TRUE(client->CreateTable(Config(4)).ok());
  EXPECT_EQ(client->CreateTable(Config(5)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(client->CreateTable(Config(4, SparseOptimizerKind::kAdam)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(client->CreateTable(Config(0)).code(), Status::Code::kInvalidArgument);
  TableConfig bad_lr = Config(4);
  bad_lr.name = "other";
  bad_lr.optimizer.learning_rate = -1;
  EXPECT_EQ(client->CreateTable(bad_lr).code(), Status::Code::kInvalidArgument);

  const uint64_t dup[] = {4, 5, 4};
  const float grads[12] = {};
  Status s = client->Push("emb", dup, 3, grads, 1);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("key 4"), std::string::npos) << s.message();
  EXPECT_EQ(client->Push("emb", dup, 1, grads, 0).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(client->Pull("emb", dup, 0, w).ok());
  EXPECT_TRUE(client->Push("emb", dup, 0, grads, 1).ok());
}

TEST(SparseTableTest, CorruptStoredRowIsReported) {
  auto client = std::make_unique<LocalClient>(MakeMemoryStore());
  ASSERT_TRUE(client->CreateTable(Config(4)).ok());
  const uint64_t key = 77;
  const std::string junk = "not a row";
  ASSERT_TRUE(client->store()->Write("emb", &key, 1, &junk).ok());
  float w[4];
  Status s = client->Pull("emb", &key, 1, w);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("table 'emb' key 77"), std::string::npos) << s.message();
  const float g[4] = {};
  EXPECT_EQ(client->Push("emb", &key, 1, g, 1).code(), Status::Code::kCorruption);
}

TEST(SparseTableTest, ConcurrentPullAndPush) {
  const int dim = 8;
  auto client = MakeLocalClient(MakeMemoryStore());
  ASSERT_TRUE(client->CreateTable(Config(dim)).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint64_t> keys(256);
      std::vector<float> buf(keys.size() * dim, 0.01f);
      for (int step = 1; step <= 50; ++step) {
        for (size_t i = 0; i < keys.size(); ++i) keys[i] = t * 1000 + (i + step) % 300;
        ASSERT_TRUE(client->Pull("emb", keys.data(), keys.size(), buf.data()).ok());
        ASSERT_TRUE(client->Push("emb", keys.data(), keys.size(), buf.data(), step).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
}

}  // namespace
}  // namespace msrec
