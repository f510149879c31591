// SSIM: the straight-through mask, the schedule, the losses, the top-k rule,
// the search artefact, retraining with a frozen selector, and export + reuse.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "models/multi_scenario.h"
#include "common/file_util.h"
#include "models/ssim.h"
#include "trainer/data/generator.h"
#include "trainer/data/reader.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"
#include "trainer/job_io.h"
#include "trainer/model_dir.h"
#include "trainer/sharing.h"
#include "trainer/ssim_search.h"
#include "trainer/trainer.h"

namespace msrec {
namespace {

TEST(SsimMaskTest, StraightThroughIsSignForwardAndClippedIdentityBackward) {
  torch::Tensor x = torch::tensor({0.0f, 0.2f, 0.0f, 0.7f}, torch::requires_grad());
  torch::Tensor g = StraightThroughSign(x);
  EXPECT_TRUE(torch::equal(g, torch::tensor({0.0f, 1.0f, 0.0f, 1.0f})));
  g.backward(torch::tensor({3.0f, -0.5f, -2.0f, 0.25f}));
  EXPECT_TRUE(torch::allclose(x.grad(), torch::tensor({1.0f, -0.5f, -1.0f, 0.25f})));

  // The full mask: 1 iff sigmoid(t m) > eps.
  torch::Tensor m = torch::tensor({-1.0f, 0.0f, 0.01f, 2.0f});
  EXPECT_TRUE(torch::equal(SharingMask(m, 1.0, 0.5), torch::tensor({0.0f, 0.0f, 1.0f, 1.0f})));
  EXPECT_TRUE(torch::equal(SharingMask(m, 1000.0, 0.9), torch::tensor({0.0f, 0.0f, 1.0f, 1.0f})));
}

TEST(SsimMaskTest, TemperatureAnnealsFromOneToFinal) {
  EXPECT_DOUBLE_EQ(TemperatureAt(0, 10, 1000), 1.0);
  EXPECT_NEAR(TemperatureAt(9, 10, 1000), 1000.0, 1e-9);
  EXPECT_NEAR(TemperatureAt(3, 7, 1000), std::pow(1000.0, 0.5), 1e-9);
  EXPECT_NEAR(TemperatureAt(50, 10, 1000), 1000.0, 1e-9);  // clamped past the end
  EXPECT_DOUBLE_EQ(TemperatureAt(0, 1, 1000), 1.0);
}

double Bce(double logit, double y) {
  const double p = 1 / (1 + std::exp(-logit));
  return -(y * std::log(p) + (1 - y) * std::log(1 - p));
}

TEST(SsimLossTest, MatchesHandComputation) {
  // 3 instances, 2 scenarios.
  const double z[3][2] = {{0.5, -1.0}, {2.0, 0.1}, {-0.3, 0.7}};
  const float y[3] = {1, 0, 1};
  const int64_t s[3] = {0, 1, 1};
  const float gv[3] = {0, 1, 1};
  torch::Tensor logits = torch::tensor({0.5f, -1.0f, 2.0f, 0.1f, -0.3f, 0.7f}).view({3, 2});
  torch::Tensor labels = torch::tensor({y[0], y[1], y[2]});
  torch::Tensor scenario = torch::tensor({s[0], s[1], s[2]});
  torch::Tensor g = torch::tensor({gv[0], gv[1], gv[2]});
  double expected = 0;
  for (int i = 0; i < 3; ++i) {
    const double own = Bce(z[i][s[i]], y[i]);
    const double all = (Bce(z[i][0], y[i]) + Bce(z[i][1], y[i])) / 2;
    expected += ((1 - gv[i]) * own + gv[i] * all) / 3;
  }
  EXPECT_NEAR(SsimLoss(logits, labels, scenario, g).item<double>(), expected, 1e-6);
  // Mask losses: linear e * mean(1 - g) = e / 3; log -mean log max(g, 1e-7) = -log(1e-7) / 3.
  EXPECT_NEAR(MaskLoss(g, MaskLossForm::kLinear).item<double>(), std::exp(1.0) / 3, 1e-6);
  EXPECT_NEAR(MaskLoss(g, MaskLossForm::kLog).item<double>(), -std::log(1e-7) / 3, 1e-4);
  EXPECT_EQ(MaskLoss(g, MaskLossForm::kNone).item<double>(), 0.0);
  // The search objective with lambda 0.4.
  const double total =
      (SsimLoss(logits, labels, scenario, g) + 0.4 * MaskLoss(g, MaskLossForm::kLinear))
          .item<double>();
  EXPECT_NEAR(total, expected + 0.4 * std::exp(1.0) / 3, 1e-6);
  // The gradient to g is the authors' (own-path weight torch.eq(smask, 0), no
  // gradient): d loss / d g_i = mean_k l_ik / B, without the -l_own term.
  torch::Tensor gg = g.clone().requires_grad_(true);
  SsimLoss(logits, labels, scenario, gg).backward();
  for (int i = 0; i < 3; ++i) {
    const double all = (Bce(z[i][0], y[i]) + Bce(z[i][1], y[i])) / 2;
    EXPECT_NEAR(gg.grad()[i].item<double>(), all / 3, 1e-6) << i;
  }
}

// SharedInstanceForward's MT-Backbone routing (each tower with gradient only on
// the rows whose loss weight is non-zero) gives the loss and the gradients of
// every tower on every row, for the search (all values) and retraining.
TEST(SsimSharedForwardTest, RoutedTowersMatchEveryTowerOnEveryRow) {
  torch::manual_seed(5);
  ModelConfig c;
  c.num_fields = 3;
  c.embedding_dim = 4;
  c.num_dense = 2;
  c.num_scenarios = 3;
  c.hidden = {16, 8};
  const int64_t batch = 64;
  torch::Tensor emb = torch::randn({batch, 3, 4});
  torch::Tensor dense = torch::randn({batch, 2});
  torch::Tensor scenario = torch::randint(3, {batch}, torch::kInt64);
  scenario.index_put_({torch::indexing::Slice(0, 8)}, 1);  // scenario 2 may be missing below
  torch::Tensor labels = torch::randint(2, {batch}).to(torch::kFloat32);
  for (const char* backbone : {"dnn", "deepfm", "dcn"}) {
    c.extra["backbone"] = backbone;
    MtBackboneModel model(c);
    SelectionNetwork selector(3, 4, {8}, 3);
    for (bool search : {true, false}) {
      for (double share : {0.0, 0.4, 1.0}) {
        torch::Tensor fixed_g = TopKShareMask(torch::rand({batch}), share);
        double loss_value[2];
        std::vector<torch::Tensor> grads[2];
        for (int routed = 0; routed < 2; ++routed) {
          model.zero_grad();
          selector.zero_grad();
          ModelInput in;
          in.embeddings = emb.clone().requires_grad_(true);
          in.dense = dense;
          in.scenario = scenario;
          torch::Tensor g =
              search ? SharingMask(3 * selector.Forward(in).logits, 1.0, 0.5 + share / 4) : fixed_g;
          torch::Tensor all = routed ? SharedInstanceForward(model, in, g, 3, search).logits
                                     : model.AllTowerLogits(in);
          ASSERT_EQ(all.sizes(), torch::IntArrayRef({batch, 3}));
          if (routed && !search) {  // the other towers did not run on the unshared rows
            torch::Tensor other = torch::arange(3).unsqueeze(0) != scenario.unsqueeze(1);
            torch::Tensor off = (g < 0.5).unsqueeze(1).logical_and(other);
            EXPECT_EQ(all.detach().masked_select(off).abs().sum().item<float>(), 0.0f);
          }
          torch::Tensor loss = SsimLoss(all, labels, scenario, g);
          if (search) loss = loss + 0.4 * MaskLoss(g, MaskLossForm::kLinear);
          loss.backward();
          loss_value[routed] = loss.item<double>();
          for (const auto& p : model.parameters()) grads[routed].push_back(p.grad().clone());
          if (search) {
            for (const auto& p : selector.parameters()) grads[routed].push_back(p.grad().clone());
          }
          grads[routed].push_back(in.embeddings.grad().clone());
        }
        const std::string what = std::string(backbone) + (search ? " search" : " retrain") +
                                 " share " + std::to_string(share);
        EXPECT_NEAR(loss_value[1], loss_value[0], 1e-6) << what;
        ASSERT_EQ(grads[0].size(), grads[1].size());
        for (size_t i = 0; i < grads[0].size(); ++i) {
          EXPECT_TRUE(torch::allclose(grads[1][i], grads[0][i], 1e-4, 1e-6))
              << what << " grad " << i;
        }
      }
    }
  }
  // With batch norm the rows are not independent: every tower runs on every row.
  c.extra["backbone"] = "dnn";
  c.batch_norm = true;
  MtBackboneModel normed(c);
  ModelInput in;
  in.embeddings = emb;
  in.dense = dense;
  in.scenario = scenario;
  torch::Tensor g = torch::zeros({batch});
  torch::Tensor routed = SharedInstanceForward(normed, in, g, 3, /*all_values=*/false).logits;
  EXPECT_TRUE(torch::allclose(routed, normed.AllTowerLogits(in)));
}

TEST(SsimTopKTest, SharesRoundedShareOfHighestScoresWithIndexTies) {
  torch::Tensor scores = torch::tensor({0.1f, 0.9f, 0.5f, 0.5f, 0.5f, -2.0f, 0.3f, 0.8f});
  EXPECT_EQ(SharedCount(8, 0.5), 4);
  EXPECT_EQ(SharedCount(8, 0.3125), 3);  // 2.5 rounds away from zero
  EXPECT_EQ(SharedCount(8, 0.95), 8);    // 7.6
  EXPECT_EQ(SharedCount(8, 0.0), 0);
  // Top 4: 0.9 (1), 0.8 (7), then the first two of the tied 0.5s (2, 3).
  EXPECT_TRUE(torch::equal(TopKShareMask(scores, 0.5),
                           torch::tensor({0.f, 1.f, 1.f, 1.f, 0.f, 0.f, 0.f, 1.f})));
  EXPECT_EQ(TopKShareMask(scores, 1.0).sum().item<float>(), 8);
  EXPECT_EQ(TopKShareMask(scores, 0.0).sum().item<float>(), 0);

  // Two workers holding halves, with a fake all-gather, give the single-batch mask.
  torch::Tensor rnd = torch::rand({101});
  rnd.index_put_({torch::indexing::Slice(10, 20)}, 0.5f);  // ties across the halves
  rnd.index_put_({torch::indexing::Slice(60, 70)}, 0.5f);
  for (double k : {0.3, 0.5, 0.95}) {
    torch::Tensor whole = TopKShareMask(rnd, k);
    EXPECT_EQ(whole.sum().item<float>(), float(SharedCount(101, k)));
    std::vector<torch::Tensor> parts = {rnd.narrow(0, 0, 50), rnd.narrow(0, 50, 51)};
    torch::Tensor joined;
    for (int w = 0; w < 2; ++w) {
      ScoreGather gather = [&, w](const torch::Tensor& local, int64_t* offset) {
        EXPECT_TRUE(torch::equal(local, parts[w]));
        *offset = w == 0 ? 0 : 50;
        return torch::cat(parts);
      };
      torch::Tensor mine = TopKShareMask(parts[w], k, gather);
      joined = w == 0 ? mine : torch::cat({joined, mine});
    }
    EXPECT_TRUE(torch::equal(joined, whole)) << "k=" << k;
  }
}

// Tiny generated data and one search epoch, shared by the tests below.
class SsimPipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/msrec_ssim.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    GeneratorOptions gen;
    gen.seed = 11;
    gen.num_rows = 4000;
    gen.num_scenarios = 3;
    gen.vocab_sizes = {20, 50, 100};
    gen.num_dense = 2;
    CHECK(MakeDirs(*dir_ + "/data").ok());
    ASSERT_TRUE(GenerateCsvSplits(gen, *dir_ + "/data").ok());
    spec_ = new JobSpec();
    spec_->model = "mt_backbone";
    spec_->model_config.hidden = {16, 8};
    spec_->schema = SyntheticModel(gen).SchemaSpecString();
    spec_->table.dim = 4;
    auto r = SsimSearch(*spec_, SearchOptions(*dir_ + "/selector"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->samples, 3200);
    EXPECT_EQ(r->steps, 13);
  }
  static void TearDownTestSuite() {
    CHECK(RemoveTree(*dir_).ok());
    delete dir_;
    delete spec_;
  }
  // The search of these tests (selector [8], batch 256) writing to `output`.
  static SsimSearchOptions SearchOptions(const std::string& output) {
    SsimSearchOptions o;
    o.train_files = {*dir_ + "/data/train.csv"};
    o.output_dir = output;
    o.settings.selector_hidden = {8};
    o.settings.batch_size = 256;
    o.settings.selector_lr = 1e-3;
    o.log_every = 1000;
    return o;
  }
  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static std::string* dir_;
  static JobSpec* spec_;
};
std::string* SsimPipelineTest::dir_ = nullptr;
JobSpec* SsimPipelineTest::spec_ = nullptr;

TEST_F(SsimPipelineTest, SearchWritesTheArtefact) {
  const std::string sel = *dir_ + "/selector";
  for (const char* f : {"job.txt", "scenario_map.tsv", "ssim.txt", "selector.pt", "embeddings.bin",
                        "initial_dense.pt"}) {
    EXPECT_TRUE(PathExists(sel + "/" + f)) << f;
  }
  auto a = LoadSsimArtefact(sel);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->settings.steps_in_epoch, 13);  // counted: ceil(3200 / 256)
  EXPECT_EQ(a->settings.selector_hidden, std::vector<int64_t>({8}));
  EXPECT_EQ(a->settings.eps, 0.5);
  EXPECT_EQ(a->settings.mask_loss, MaskLossForm::kLinear);
  EXPECT_EQ(a->backbone.model_config.num_scenarios, 3);
  EXPECT_EQ(a->backbone.table.seed, 2022u);
}

// "Sharing never hurts" (issue 16): the share sweep retrains at each share,
// keeps the best on validation (never below share 0, the MT-Backbone retrain),
// writes it to the artefact and commits it again; the retrain's default takes it.
TEST_F(SsimPipelineTest, ShareSweepChoosesTheBestValidationShare) {
  const SsimSearchOptions o = SearchOptions(*dir_ + "/swept");
  ASSERT_TRUE(SsimSearch(*spec_, o).ok());
  TrainOptions base;
  base.train_files = {*dir_ + "/data/train.csv"};
  base.val_files = {*dir_ + "/data/val.csv"};
  base.batch_size = 256;
  base.epochs = 1;
  base.log_every = 1000;
  auto swept = ValidateShare(*spec_, base, o.output_dir, {0.0, -1.0, 0.95, 0.95});
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  ASSERT_EQ(swept->shares.size(), 3u);  // "learned" resolved, duplicates dropped, sorted
  EXPECT_EQ(swept->shares[0], 0.0);
  EXPECT_EQ(swept->shares[2], 0.95);
  double best = -1;
  for (double auc : swept->val_auc) best = std::max(best, auc);
  EXPECT_GE(best, swept->val_auc[0]);
  const size_t at = std::find(swept->shares.begin(), swept->shares.end(), swept->chosen) -
                    swept->shares.begin();
  ASSERT_LT(at, swept->shares.size());
  EXPECT_EQ(swept->val_auc[at], best);
  // Written and committed: the artefact verifies and its default share is the chosen one.
  EXPECT_TRUE(ModelDir(o.output_dir).Verify().ok());
  auto a = LoadSsimArtefact(o.output_dir);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->settings.validated_share, swept->chosen);
  EXPECT_GE(a->settings.learned_share, 0);
  EXPECT_TRUE(PathExists(o.output_dir + "/share_sweep.tsv"));
  EXPECT_FALSE(PathExists(o.output_dir + "/share_sweep"));
  // No validation data: refused.
  base.val_files.clear();
  EXPECT_EQ(ValidateShare(*spec_, base, o.output_dir, {0.0}).status().code(),
            Status::Code::kInvalidArgument);
}

TEST_F(SsimPipelineTest, RetrainFreezesSelectorAndRestartsBackbone) {
  const std::string sel = *dir_ + "/selector";
  const std::string emb_before = ReadAll(sel + "/embeddings.bin");
  const std::string selector_before = ReadAll(sel + "/selector.pt");
  Batch batch;
  ReaderOptions ro;
  auto schema = SchemaSpec::Parse(spec_->schema);
  ASSERT_TRUE(schema.ok());
  auto map = ScenarioMap::Load(sel + "/scenario_map.tsv");
  ASSERT_TRUE(map.ok());
  ro.schema = *schema;
  ro.scenario_map = &*map;
  ro.batch_size = 256;
  auto reader = OpenReader({*dir_ + "/data/val.csv"}, ro);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(*(*reader)->Next(&batch));
  auto live = SelectorSharing::Open(sel, 0.95);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  for (const auto& p : (*live)->selector().parameters()) EXPECT_FALSE(p.requires_grad());
  torch::Tensor scores_before = *(*live)->Scores(batch);

  TrainOptions options;
  options.train_files = {*dir_ + "/data/train.csv"};
  options.model_dir = *dir_ + "/retrain";
  options.batch_size = 256;
  options.learning_rate = 0;  // dense weights stay where they start
  options.log_every = 1000;
  options.sharing.selector_dir = sel;
  options.sharing.topk = 0.5;
  auto result = Train(*spec_, options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->steps, 13);

  // The selector and its embeddings did not change.
  EXPECT_EQ(ReadAll(sel + "/embeddings.bin"), emb_before);
  EXPECT_EQ(ReadAll(sel + "/selector.pt"), selector_before);
  EXPECT_TRUE(torch::equal(*(*live)->Scores(batch), scores_before));
  auto reopened = SelectorSharing::Open(sel, 0.95);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(torch::equal(*(*reopened)->Scores(batch), scores_before));

  // The backbone started from the artefact's pre-search dense state.
  auto a = LoadSsimArtefact(sel);
  ASSERT_TRUE(a.ok());
  auto initial = BuiltinModels().Create("mt_backbone", a->backbone.model_config);
  auto trained = BuiltinModels().Create("mt_backbone", a->backbone.model_config);
  ASSERT_TRUE(initial.ok() && trained.ok());
  ASSERT_TRUE(LoadDenseParameters(initial->get(), sel + "/initial_dense.pt").ok());
  ASSERT_TRUE(LoadDenseParameters(trained->get(), options.model_dir + "/dense.pt").ok());
  auto pi = (*initial)->named_parameters();
  auto pt = (*trained)->named_parameters();
  for (const auto& item : pi) {
    EXPECT_TRUE(torch::equal(item.value(), pt[item.key()])) << item.key();
  }
}

TEST_F(SsimPipelineTest, ExportedFlagsReproduceTheLiveSelector) {
  const std::string sel = *dir_ + "/selector";
  const std::string train = *dir_ + "/data/train.csv";
  SharedFlagsExportOptions eo;
  eo.selector_dir = sel;
  eo.inputs = {train};
  eo.output = *dir_ + "/flags.txt";
  eo.topk = 0.6;
  eo.batch_size = 100;
  auto n = ExportSharedFlags(eo);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3200);

  auto live = SelectorSharing::Open(sel, 0.6);
  ASSERT_TRUE(live.ok());
  auto map = ScenarioMap::Load(sel + "/scenario_map.tsv");
  ASSERT_TRUE(map.ok());
  SharingOptions so;
  so.shared_flags_files = {eo.output};
  auto from_file = MakeSharingPolicy(so, map->values());
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  ReaderOptions ro;
  ro.schema = *SchemaSpec::Parse(spec_->schema);
  ro.scenario_map = &*map;
  ro.batch_size = 100;
  auto reader = OpenReader({train}, ro);
  ASSERT_TRUE(reader.ok());
  Batch batch;
  int batches = 0;
  while (*(*reader)->Next(&batch)) {
    torch::Tensor a = *(*live)->SharedMask(batch);
    torch::Tensor b = *(*from_file)->SharedMask(batch);
    ASSERT_TRUE(torch::equal(a, b)) << "batch " << batches;
    EXPECT_EQ(a.sum().item<float>(), 60);
    ++batches;
  }
  EXPECT_EQ(batches, 32);

  // Training by flags runs (the model-free reuse); random sharing too.
  TrainOptions options;
  options.train_files = {train};
  options.model_dir = *dir_ + "/by_flags";
  options.batch_size = 100;
  options.log_every = 1000;
  options.sharing.shared_flags_files = {eo.output};
  options.scenario_map_file = sel + "/scenario_map.tsv";
  auto r = Train(*spec_, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  options.sharing.shared_flags_files.clear();
  options.sharing.random = true;
  options.model_dir = *dir_ + "/random";
  r = Train(*spec_, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  options.sharing.selector_dir = sel;  // two sources
  EXPECT_FALSE(Train(*spec_, options).ok());
}

}  // namespace
}  // namespace msrec
