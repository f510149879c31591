// The embedding bridge against a dense torch::nn::Embedding reference.
#include <gtest/gtest.h>

#include "parameter_server/local_client.h"
#include "parameter_server/memory_store.h"
#include "trainer/embedding_bridge.h"

namespace msrec {
namespace {

constexpr int kDim = 3;

// 3 rows x 2 fields; field 1 is multi-valued (0..3 keys). Keys repeat across rows.
Batch MakeBatch() {
  Batch b;
  b.size = 3;
  b.num_cat_fields = 2;
  // row0: f0={10}, f1={20,21}; row1: f0={11}, f1={}; row2: f0={10}, f1={21,22,20}
  b.keys = {10, 20, 21, 11, 10, 21, 22, 20};
  b.offsets = {0, 1, 3, 4, 4, 5, 8};
  b.scenario = {0, 0, 0};
  return b;
}

TableConfig Sgd(float lr) {
  TableConfig t;
  t.dim = kDim;
  t.init_scale = 0.5f;
  t.optimizer.kind = SparseOptimizerKind::kSgd;
  t.optimizer.learning_rate = lr;
  return t;
}

TEST(BridgeTest, ForwardAndGradientsMatchDenseEmbedding) {
  auto client = MakeLocalClient(MakeMemoryStore());
  ASSERT_TRUE(client->CreateTable(Sgd(0.1f)).ok());
  EmbeddingBridge bridge(client.get(), "emb", kDim);
  Batch batch = MakeBatch();
  auto lookup = bridge.Lookup(batch, /*requires_grad=*/true);
  ASSERT_TRUE(lookup.ok()) << lookup.status().ToString();
  ASSERT_EQ(lookup->unique_keys, (std::vector<uint64_t>{10, 20, 21, 11, 22}));

  // Reference: a dense table holding the same pulled rows, indexed by key position.
  torch::nn::Embedding ref(torch::nn::EmbeddingOptions(5, kDim));
  {
    torch::NoGradGuard g;
    ref->weight.copy_(lookup->rows.detach());
  }
  auto pos = [&](uint64_t k) {
    for (size_t i = 0; i < lookup->unique_keys.size(); ++i) {
      if (lookup->unique_keys[i] == k) return int64_t(i);
    }
    return int64_t(-1);
  };
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < batch.size; ++i) {
    std::vector<torch::Tensor> fields;
    for (int f = 0; f < 2; ++f) {
      const int64_t lo = batch.offsets[i * 2 + f], hi = batch.offsets[i * 2 + f + 1];
      if (lo == hi) {
        fields.push_back(torch::zeros({kDim}));
        continue;
      }
      std::vector<int64_t> idx;
      for (int64_t j = lo; j < hi; ++j) idx.push_back(pos(batch.keys[j]));
      fields.push_back(ref->forward(torch::tensor(idx)).mean(0));
    }
    rows.push_back(torch::stack(fields));
  }
  torch::Tensor expected = torch::stack(rows);
  EXPECT_TRUE(torch::allclose(lookup->embeddings, expected, 1e-6, 1e-7));

  torch::Tensor w = torch::randn({3, 2, kDim});
  (lookup->embeddings * w).sum().backward();
  (expected * w).sum().backward();
  EXPECT_TRUE(torch::allclose(lookup->rows.grad(), ref->weight.grad(), 1e-6, 1e-7));

  // Push applies SGD on the server: new row = old - lr * grad.
  torch::Tensor before = lookup->rows.detach().clone();
  ASSERT_TRUE(bridge.PushGradients(*lookup, 1).ok());
  std::vector<float> after(5 * kDim);
  ASSERT_TRUE(client->Pull("emb", lookup->unique_keys.data(), 5, after.data()).ok());
  torch::Tensor want = before - 0.1 * ref->weight.grad();
  EXPECT_TRUE(torch::allclose(torch::from_blob(after.data(), {5, kDim}), want, 1e-5, 1e-6));
}

TEST(BridgeTest, SingleValuedFastPathMatchesGather) {
  auto client = MakeLocalClient(MakeMemoryStore());
  ASSERT_TRUE(client->CreateTable(Sgd(0.1f)).ok());
  EmbeddingBridge bridge(client.get(), "emb", kDim);
  Batch b;
  b.size = 2;
  b.num_cat_fields = 2;
  b.keys = {5, 6, 6, 5};
  b.offsets = {0, 1, 2, 3, 4};
  b.scenario = {0, 1};
  auto lookup = bridge.Lookup(b, true);
  ASSERT_TRUE(lookup.ok());
  EXPECT_EQ(lookup->unique_keys.size(), 2u);
  EXPECT_TRUE(torch::equal(lookup->embeddings[0][0], lookup->embeddings[1][1]));
  EXPECT_TRUE(torch::equal(lookup->embeddings[0][1], lookup->embeddings[1][0]));
  lookup->embeddings.sum().backward();
  EXPECT_TRUE(torch::allclose(lookup->rows.grad(), torch::full({2, kDim}, 2.0f)));
}

}  // namespace
}  // namespace msrec
