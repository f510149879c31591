// SSIM's top-k share over the global mini-batch (SharingPolicy::set_communicator)
// with the in-process communicator: one thread per worker, each holding its
// part of the batch; the masks, concatenated in rank order, must equal the
// mask one process computes on the whole batch.
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <random>

#include <gtest/gtest.h>

#include "cluster/inprocess_communicator.h"
#include "common/file_util.h"
#include "trainer/data/generator.h"
#include "trainer/data/reader.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"
#include "trainer/job_io.h"
#include "trainer/distributed.h"
#include "trainer/sharing.h"
#include "trainer/ssim_search.h"

namespace msrec {
namespace {

constexpr int kWorkers = 2;

CommunicatorOptions Opts(double timeout_s = 30) {
  CommunicatorOptions o;
  o.timeout_s = timeout_s;
  return o;
}

// Runs `mask(w, comm)` on one thread per worker and returns the masks
// concatenated in rank order (every worker must succeed).
torch::Tensor RunWorkers(const std::function<Result<torch::Tensor>(int, Communicator*)>& mask) {
  auto group = MakeInProcessGroup(kWorkers, Opts());
  std::vector<torch::Tensor> parts(kWorkers);
  std::vector<Status> status(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      Result<torch::Tensor> m = mask(w, group[w].get());
      if (m.ok()) {
        parts[w] = *m;
      } else {
        status[w] = m.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_TRUE(status[w].ok()) << "worker " << w << ": " << status[w].ToString();
    if (!status[w].ok()) return torch::Tensor();
  }
  return torch::cat(parts);
}

std::unique_ptr<SharingPolicy> RandomPolicy(double topk, uint64_t seed) {
  SharingOptions o;
  o.random = true;
  o.topk = topk;
  o.seed = seed;
  auto p = MakeSharingPolicy(o, {});
  CHECK(p.ok()) << p.status().ToString();
  return std::move(*p);
}

Batch RowsOnly(int64_t rows) {
  Batch b;
  b.size = rows;
  return b;
}

TEST(SharingDistTest, RandomSharingOfTwoWorkersEqualsOneProcess) {
  // Steps of (worker 0 rows, worker 1 rows), uneven and one empty part
  // included: the random streams must stay in step across steps.
  const std::vector<std::pair<int64_t, int64_t>> steps = {{50, 51}, {64, 64}, {7, 30}, {0, 9}};
  for (double k : {0.3, 0.95}) {
    auto single = RandomPolicy(k, 7);
    std::vector<std::unique_ptr<SharingPolicy>> workers;
    for (int w = 0; w < kWorkers; ++w) workers.push_back(RandomPolicy(k, 7));
    for (size_t s = 0; s < steps.size(); ++s) {
      const int64_t rows[2] = {steps[s].first, steps[s].second};
      auto whole = single->SharedMask(RowsOnly(rows[0] + rows[1]));
      ASSERT_TRUE(whole.ok()) << whole.status().ToString();
      torch::Tensor joined = RunWorkers([&](int w, Communicator* comm) {
        workers[w]->set_communicator(comm);
        return workers[w]->SharedMask(RowsOnly(rows[w]));
      });
      ASSERT_TRUE(joined.defined());
      EXPECT_TRUE(torch::equal(joined, *whole)) << "k=" << k << " step " << s;
      EXPECT_EQ(joined.sum().item<float>(), float(SharedCount(rows[0] + rows[1], k)));
    }
  }
}

TEST(SharingDistTest, LostPeerGivesTimeoutNotHang) {
  auto group = MakeInProcessGroup(kWorkers, Opts(/*timeout_s=*/0.3));
  auto policy = RandomPolicy(0.5, 1);
  policy->set_communicator(group[0].get());  // worker 1 never calls
  auto mask = policy->SharedMask(RowsOnly(10));
  ASSERT_FALSE(mask.ok());
  EXPECT_EQ(mask.status().code(), Status::Code::kTimeout) << mask.status().ToString();
}

// A small selector artefact (one short search) and one validation batch.
class SelectorSharingDistTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/msrec_sharing_dist.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    GeneratorOptions gen;
    gen.seed = 5;
    gen.num_rows = 2000;
    gen.num_scenarios = 3;
    gen.vocab_sizes = {20, 50, 100};
    gen.num_dense = 2;
    ASSERT_TRUE(MakeDirs(*dir_ + "/data").ok());
    ASSERT_TRUE(GenerateCsvSplits(gen, *dir_ + "/data").ok());
    JobSpec spec;
    spec.model = "mt_backbone";
    spec.model_config.hidden = {16, 8};
    spec.schema = SyntheticModel(gen).SchemaSpecString();
    spec.table.dim = 4;
    SsimSearchOptions o;
    o.train_files = {*dir_ + "/data/train.csv"};
    o.output_dir = *dir_ + "/selector";
    o.settings.selector_hidden = {8};
    o.settings.batch_size = 128;
    o.settings.selector_lr = 1e-2;
    o.max_steps = 4;
    o.log_every = 1000;
    auto r = SsimSearch(spec, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();

    auto map = ScenarioMap::Load(*dir_ + "/selector/scenario_map.tsv");
    ASSERT_TRUE(map.ok()) << map.status().ToString();
    values_ = new std::vector<std::string>(map->values());
    map->set_fixed(true);
    auto schema = SchemaSpec::Parse(spec.schema);
    ASSERT_TRUE(schema.ok());
    ReaderOptions ro;
    ro.schema = *schema;
    ro.scenario_map = &*map;
    ro.batch_size = 201;
    auto reader = OpenReader({*dir_ + "/data/train.csv"}, ro);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    batch_ = new Batch();
    auto more = (*reader)->Next(batch_);
    ASSERT_TRUE(more.ok() && *more);
    ASSERT_EQ(batch_->size, 201);
  }
  static void TearDownTestSuite() {
    CHECK(RemoveTree(*dir_).ok());
    delete dir_;
    delete values_;
    delete batch_;
  }
  static std::unique_ptr<SharingPolicy> Selector(double topk) {
    SharingOptions o;
    o.selector_dir = *dir_ + "/selector";
    o.topk = topk;
    auto p = MakeSharingPolicy(o, *values_);
    CHECK(p.ok()) << p.status().ToString();
    return std::move(*p);
  }
  static Batch Rows(int64_t begin, int64_t end) {
    Batch b;
    b.num_cat_fields = batch_->num_cat_fields;
    b.num_dense = batch_->num_dense;
    b.num_labels = batch_->num_labels;
    b.ClearRows();
    b.AppendRows(*batch_, begin, end);
    return b;
  }
  static std::string* dir_;
  static std::vector<std::string>* values_;
  static Batch* batch_;
};
std::string* SelectorSharingDistTest::dir_ = nullptr;
std::vector<std::string>* SelectorSharingDistTest::values_ = nullptr;
Batch* SelectorSharingDistTest::batch_ = nullptr;

TEST_F(SelectorSharingDistTest, MasksOfTwoWorkersOnHalvesEqualOneProcessMask) {
  for (double k : {0.2, 0.5, 0.95}) {
    auto whole = Selector(k)->SharedMask(*batch_);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    ASSERT_EQ(whole->sum().item<float>(), float(SharedCount(batch_->size, k)));
    for (int64_t split : {int64_t{100}, int64_t{37}}) {  // halves, and uneven parts
      const Batch parts[2] = {Rows(0, split), Rows(split, batch_->size)};
      torch::Tensor joined = RunWorkers([&](int w, Communicator* comm) {
        auto policy = Selector(k);
        policy->set_communicator(comm);
        return policy->SharedMask(parts[w]);
      });
      ASSERT_TRUE(joined.defined());
      EXPECT_TRUE(torch::equal(joined, *whole)) << "k=" << k << " split " << split;
    }
  }
}

// gAUC over workers is exact: every worker's instances and groups are
// gathered before the per-group AUCs are taken.
TEST(DistributedMetricsTest, GaucOverTwoWorkersEqualsOneProcess) {
  std::mt19937 rng(3);
  std::vector<float> p(400), y(400);
  std::vector<int32_t> sc(400);
  std::vector<uint64_t> users(400);
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] = float(rng() % 1000) / 1000;
    y[i] = rng() % 3 == 0 ? 1.0f : 0.0f;
    sc[i] = int32_t(rng() % 2);
    users[i] = rng() % 17;  // a user's rows land on both workers
  }
  MetricsAccumulator one(2);
  one.Add(400, p.data(), y.data(), sc.data(), nullptr, users.data());
  const EvalMetrics expected = one.Compute();
  auto group = MakeInProcessGroup(2, Opts());
  std::vector<EvalMetrics> got(2);
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      MetricsAccumulator part(2);
      part.Add(200, p.data() + 200 * w, y.data() + 200 * w, sc.data() + 200 * w, nullptr,
               users.data() + 200 * w);
      EXPECT_TRUE(GatherMetrics(*group[w], &part).ok());
      got[w] = part.Compute();
    });
  }
  for (auto& t : threads) t.join();
  for (int w = 0; w < 2; ++w) {
    EXPECT_DOUBLE_EQ(got[w].overall.gauc, expected.overall.gauc);
    EXPECT_DOUBLE_EQ(got[w].per_scenario[1].gauc, expected.per_scenario[1].gauc);
    EXPECT_EQ(got[w].overall.gauc_groups, expected.overall.gauc_groups);
  }
}

}  // namespace
}  // namespace msrec
