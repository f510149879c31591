// SparseTable / LocalClient semantics: deterministic initial values, argument
// checks, table config checks, corrupt rows, concurrent use, the new
// optimizers through a table, admission, TTL eviction.
#include <algorithm>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "parameter_server/cached_store.h"
#include "parameter_server/local_client.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/internal/row.h"
#include "parameter_server/internal/sparse_table.h"

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

// A shard with a pool of 2 threads splits large pulls and pushes into parts
// (SparseTable, "Parts"); every row, pulled value and stored byte equals
// the one-thread shard's, for the memory store and the row cache over it
// (a cache small enough to evict), with repeats in the pulls.
TEST(SparseTableTest, PartsOnSeveralThreadsGiveTheOneThreadResult) {
  for (bool cached : {false, true}) {
    auto make = [&](int threads) {
      std::unique_ptr<EmbeddingStore> store = MakeMemoryStore();
      if (cached) {
        RowCacheOptions o;
        o.capacity_bytes = 1 << 20;  // about 6k of the 20k rows
        auto c = MakeCachedStore(std::move(store), o);
        CHECK(c.ok());
        store = std::move(c).value();
      }
      auto shard = std::make_unique<SparseShard>(std::move(store), threads);
      CHECK(shard->CreateTable(Config(16, SparseOptimizerKind::kAdam)).ok());
      return shard;
    };
    auto one = make(1);
    auto two = make(2);
    std::mt19937_64 rng(7);
    for (int64_t step = 1; step <= 6; ++step) {
      // 12k distinct keys of 20k (enough for two parts), pulled with repeats.
      std::vector<uint64_t> keys(20000);
      for (size_t i = 0; i < keys.size(); ++i) keys[i] = i * 7919;
      std::shuffle(keys.begin(), keys.end(), rng);
      keys.resize(12000);
      std::vector<uint64_t> pulled = keys;
      for (int i = 0; i < 3000; ++i) pulled.push_back(keys[rng() % keys.size()]);
      std::vector<float> a(pulled.size() * 16), b(pulled.size() * 16);
      ASSERT_TRUE(one->Pull("emb", pulled.data(), pulled.size(), a.data()).ok());
      ASSERT_TRUE(two->Pull("emb", pulled.data(), pulled.size(), b.data()).ok());
      ASSERT_EQ(a, b) << "cached " << cached << ", step " << step;
      std::vector<float> grads(keys.size() * 16);
      for (float& g : grads) g = static_cast<float>(static_cast<int64_t>(rng() % 2001) - 1000) / 1000;
      ASSERT_TRUE(one->Push("emb", keys.data(), keys.size(), grads.data(), step).ok());
      ASSERT_TRUE(two->Push("emb", keys.data(), keys.size(), grads.data(), step).ok());
    }
    std::map<uint64_t, std::string> rows_one, rows_two;
    ASSERT_TRUE(one->store()->ForEach("emb", [&](uint64_t k, std::string_view r) {
      rows_one[k] = std::string(r);
      return true;
    }).ok());
    ASSERT_TRUE(two->store()->ForEach("emb", [&](uint64_t k, std::string_view r) {
      rows_two[k] = std::string(r);
      return true;
    }).ok());
    EXPECT_GT(rows_one.size(), 12000u);
    EXPECT_TRUE(rows_one == rows_two) << "cached " << cached;
    if (cached) {
      EXPECT_GT(dynamic_cast<CachedStore&>(*two->store()).stats().evictions, 0u);
    }
  }
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

// A row pushed with zero gradients under FTRL keeps its initial value (z
// starts where the computed weight is the initial weight); row-wise Adagrad
// stores one state float.
TEST(SparseTableTest, NewOptimizersThroughTheTable) {
  SparseShard shard(MakeMemoryStore());
  TableConfig ftrl = Config(4, SparseOptimizerKind::kFtrl);
  ftrl.name = "ftrl";
  ftrl.optimizer.learning_rate = 0.05f;
  ftrl.optimizer.ftrl_l1 = 0.0f;
  TableConfig rowwise = Config(4, SparseOptimizerKind::kRowwiseAdagrad);
  rowwise.name = "rowwise";
  ASSERT_TRUE(shard.CreateTable(ftrl).ok());
  ASSERT_TRUE(shard.CreateTable(rowwise).ok());
  const uint64_t key = 42;
  const float zero[4] = {};
  std::vector<float> init(4), w(4);
  InitialWeights(key, ftrl.seed, ftrl.init_scale, 4, init.data());
  ASSERT_TRUE(shard.Push("ftrl", &key, 1, zero, 1).ok());
  ASSERT_TRUE(shard.Pull("ftrl", &key, 1, w.data()).ok());
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(w[j], init[j], 1e-7f);
  ASSERT_TRUE(shard.Push("rowwise", &key, 1, zero, 1).ok());
  std::vector<std::string> rows;
  std::vector<uint8_t> found;
  ASSERT_TRUE(shard.store()->MultiGet("rowwise", &key, 1, true, &rows, &found).ok());
  Row row;
  ASSERT_TRUE(DecodeRow(rows[0], "rowwise", key, &row).ok());
  EXPECT_EQ(row.kind, SparseOptimizerKind::kRowwiseAdagrad);
  EXPECT_EQ(row.state.size(), 1u);
}

TEST(SparseTableTest, AdmissionAfterNPushes) {
  auto store = MakeMemoryStore();
  TableConfig c = Config(4);
  c.admit_after = 3;
  ASSERT_TRUE(store->CreateTable(c.name).ok());
  auto table = SparseTable::Create(c, store.get());
  ASSERT_TRUE(table.ok());
  const uint64_t keys[] = {7, 8};
  const float grads[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  std::vector<float> init(8), w(8);
  InitialWeights(7, c.seed, c.init_scale, 4, init.data());
  InitialWeights(8, c.seed, c.init_scale, 4, init.data() + 4);
  for (int64_t step = 1; step <= 2; ++step) {
    ASSERT_TRUE(table.value()->Push(keys, 2, grads, step).ok());
    EXPECT_EQ(store->Count(c.name).value(), 0u) << "no row before admission";
    ASSERT_TRUE(table.value()->Pull(keys, 2, w.data()).ok());
    EXPECT_EQ(w, init);
  }
  EXPECT_EQ(table.value()->PendingAdmissions(), 2u);
  ASSERT_TRUE(table.value()->Push(keys, 1, grads, 3).ok());  // key 7's third push
  EXPECT_EQ(store->Count(c.name).value(), 1u);
  EXPECT_EQ(table.value()->PendingAdmissions(), 1u);
  ASSERT_TRUE(table.value()->Pull(keys, 2, w.data()).ok());
  for (int j = 0; j < 4; ++j) EXPECT_LT(w[j], init[j]) << "the admitting push trains the row";
  EXPECT_TRUE(std::equal(w.begin() + 4, w.end(), init.begin() + 4));
  std::vector<std::string> rows;
  std::vector<uint8_t> found;
  ASSERT_TRUE(store->MultiGet(c.name, keys, 1, true, &rows, &found).ok());
  Row row;
  ASSERT_TRUE(DecodeRow(rows[0], c.name, 7, &row).ok());
  EXPECT_EQ(row.frequency, 1u);  // pushes applied
  EXPECT_EQ(row.last_step, 3);
}

TEST(SparseTableTest, FullAdmissionMapForgetsRareKeysFirst) {
  auto store = MakeMemoryStore();
  TableConfig c = Config(2);
  c.admit_after = 10;
  c.admission_capacity = 4;
  ASSERT_TRUE(store->CreateTable(c.name).ok());
  auto table = std::move(SparseTable::Create(c, store.get())).value();
  const float grads[2] = {};
  const uint64_t frequent = 1;
  for (int64_t step = 1; step <= 4; ++step)
    ASSERT_TRUE(table->Push(&frequent, 1, grads, step).ok());
  for (uint64_t rare = 100; rare < 103; ++rare) ASSERT_TRUE(table->Push(&rare, 1, grads, 5).ok());
  EXPECT_EQ(table->PendingAdmissions(), 4u);  // full
  const uint64_t newcomer = 200;
  ASSERT_TRUE(table->Push(&newcomer, 1, grads, 6).ok());
  // Counts halved: the rare keys (1 -> 0) are forgotten, key 1 keeps 2.
  EXPECT_EQ(table->PendingAdmissions(), 2u);
  // Key 1 needs 10 - 2 = 8 more pushes now.
  for (int64_t step = 7; step < 14; ++step)
    ASSERT_TRUE(table->Push(&frequent, 1, grads, step).ok());
  EXPECT_EQ(store->Count(c.name).value(), 0u);
  ASSERT_TRUE(table->Push(&frequent, 1, grads, 14).ok());
  EXPECT_EQ(store->Count(c.name).value(), 1u);
}

TEST(SparseTableTest, EvictExpiredDeletesRowsWithTheirState) {
  for (bool cached : {false, true}) {
    std::unique_ptr<EmbeddingStore> store = MakeMemoryStore();
    if (cached) {
      RowCacheOptions o;
      o.capacity_bytes = 2048;
      store = std::move(MakeCachedStore(std::move(store), o)).value();
    }
    SparseShard shard(std::move(store));
    TableConfig c = Config(4, SparseOptimizerKind::kAdagrad);
    c.ttl_steps = 10;
    TableConfig forever = Config(4);
    forever.name = "forever";
    ASSERT_TRUE(shard.CreateTable(c).ok());
    ASSERT_TRUE(shard.CreateTable(forever).ok());
    std::vector<uint64_t> keys(100);
    for (uint64_t k = 0; k < keys.size(); ++k) keys[k] = k;
    std::vector<float> grads(keys.size() * 4, 0.5f);
    ASSERT_TRUE(shard.Push("emb", keys.data(), 100, grads.data(), 5).ok());  // all at step 5
    ASSERT_TRUE(shard.Push("emb", keys.data(), 30, grads.data(), 12).ok());  // 0..29 at 12
    ASSERT_TRUE(shard.Push("forever", keys.data(), 100, grads.data(), 1).ok());
    // At step 15 the rows last pushed before 15 - 10 = 5 expire: none.
    EXPECT_EQ(shard.EvictExpired(15).value(), 0u);
    // At step 16: last_step 5 < 6 expires (keys 30..99); "forever" has ttl 0.
    EXPECT_EQ(shard.EvictExpired(16).value(), 70u);
    EXPECT_EQ(shard.store()->Count("emb").value(), 30u);
    EXPECT_EQ(shard.store()->Count("forever").value(), 100u);
    // An evicted key comes back as a new row: initial value, fresh state.
    std::vector<float> w(4), init(4);
    ASSERT_TRUE(shard.Pull("emb", &keys[50], 1, w.data()).ok());
    InitialWeights(50, c.seed, c.init_scale, 4, init.data());
    EXPECT_EQ(w, init);
    ASSERT_TRUE(shard.Push("emb", &keys[50], 1, grads.data(), 17).ok());
    std::vector<std::string> rows;
    std::vector<uint8_t> found;
    ASSERT_TRUE(shard.store()->MultiGet("emb", &keys[50], 1, true, &rows, &found).ok());
    Row row;
    ASSERT_TRUE(DecodeRow(rows[0], "emb", 50, &row).ok());
    EXPECT_EQ(row.frequency, 1u);
    EXPECT_FLOAT_EQ(row.state[0], 0.25f);  // acc = 0 + 0.5^2: the old state is gone
  }
}

TEST(SparseTableTest, AdmissionAndTtlConfigChecks) {
  auto client = MakeLocalClient(MakeMemoryStore());
  TableConfig c = Config(4);
  c.admit_after = 0;
  EXPECT_EQ(client->CreateTable(c).code(), Status::Code::kInvalidArgument);
  c = Config(4);
  c.ttl_steps = -1;
  EXPECT_EQ(client->CreateTable(c).code(), Status::Code::kInvalidArgument);
  c = Config(4);
  c.admit_after = 2;
  c.admission_capacity = 0;
  EXPECT_EQ(client->CreateTable(c).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace msrec
