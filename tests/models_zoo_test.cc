// Tests of the model zoo: DeepFM, DCN, MT-Backbone over every backbone, STAR,
// MMoE, PLE, HMoE and PEPNet (shapes, scenario routing, gradient paths).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "models/internal/deepfm.h"
#include "models/model.h"
#include "models/multi_scenario.h"
#include "models/internal/pepnet.h"

namespace msrec {
namespace {

struct Variant {
  std::string name;
  std::map<std::string, std::string> extra;
  std::string label() const {
    std::string s = name;
    for (const auto& kv : extra) s += " " + kv.first + "=" + kv.second;
    return s;
  }
};

ModelConfig TinyConfig(const std::map<std::string, std::string>& extra = {}) {
  ModelConfig c;
  c.num_fields = 3;
  c.embedding_dim = 4;
  c.num_dense = 2;
  c.num_scenarios = 3;
  c.hidden = {8, 6};
  c.extra = {{"num_experts", "3"},   {"expert_hidden", "6"},    {"tower_hidden", "5"},
             {"bottom_hidden", "8"}, {"scenario_emb_dim", "4"}, {"gate_hidden", "6"},
             {"aux_hidden", "5"}};
  for (const auto& kv : extra) c.extra[kv.first] = kv.second;
  return c;
}

std::shared_ptr<Model> Create(const Variant& v) {
  // TinyConfig holds the options of every model: each reads its own.
  auto model = BuiltinModels().Create(v.name, TinyConfig(v.extra), /*allow_unread_options=*/true);
  EXPECT_TRUE(model.ok()) << v.label() << ": " << model.status().ToString();
  return model.ok() ? *model : nullptr;
}

ModelInput RandomInput(const torch::Tensor& scenario) {
  const ModelConfig c = TinyConfig();
  const int64_t b = scenario.size(0);
  ModelInput in;
  in.embeddings = torch::randn({b, c.num_fields, c.embedding_dim});
  in.dense = torch::randn({b, c.num_dense});
  in.scenario = scenario;
  return in;
}

ModelInput SelectRows(const ModelInput& in, const torch::Tensor& rows) {
  return {in.embeddings.index_select(0, rows), in.dense.index_select(0, rows),
          in.scenario.index_select(0, rows)};
}

const std::vector<Variant>& MultiScenarioVariants() {
  static const std::vector<Variant> variants = {
      {"mt_backbone", {}},
      {"mt_backbone", {{"backbone", "deepfm"}}},
      {"mt_backbone", {{"backbone", "dcn"}}},
      {"star", {}},
      {"mmoe", {}},
      {"ple", {}},
      {"ple", {{"ple_levels", "1"}}},
      {"ple", {{"ple_levels", "3"}, {"expert_hidden", "6,5"}}},
      {"hmoe", {}},
      {"pepnet", {}},
  };
  return variants;
}

std::vector<Variant> AllVariants() {
  std::vector<Variant> all = {{"dnn", {}},
                              {"deepfm", {}},
                              {"dcn", {}},
                              {"dcn", {{"dcn_version", "1"}, {"cross_layers", "2"}}}};
  for (const Variant& v : MultiScenarioVariants()) all.push_back(v);
  return all;
}

bool HasGradient(const torch::Tensor& p) {
  return p.grad().defined() && p.grad().abs().sum().item<double>() > 0;
}

TEST(ModelsZooTest, EveryModelHasRightShapesFlopsAndTrains) {
  torch::manual_seed(1);
  for (const Variant& v : AllVariants()) {
    auto model = Create(v);
    ASSERT_TRUE(model) << v.label();
    ModelOutput out = model->Forward(RandomInput(torch::tensor({0, 1, 2, 1, 0, 2, 2})));
    ASSERT_EQ(out.logits.sizes(), torch::IntArrayRef({7})) << v.label();
    EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>()) << v.label();
    EXPECT_GT(model->FlopsPerInstance(), 0) << v.label();
    out.logits.sum().backward();
    // A batch of one scenario only, and a single row.
    EXPECT_EQ(model->Forward(RandomInput(torch::tensor({1, 1, 1}))).logits.size(0), 3) << v.label();
    EXPECT_EQ(model->Forward(RandomInput(torch::tensor({2}))).logits.size(0), 1) << v.label();
  }
}

TEST(ModelsZooTest, BadOptionsAreInvalidArgument) {
  ModelRegistry registry = BuiltinModels();
  for (const auto& [name, key, value] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"mt_backbone", "backbone", "nope"},
           {"dcn", "dcn_version", "3"},
           {"mmoe", "num_experts", "x"},
           {"ple", "ple_levels", "0"}}) {
    const auto model = registry.Create(name, TinyConfig({{key, value}}), true);
    EXPECT_EQ(model.status().code(), Status::Code::kInvalidArgument) << name;
    EXPECT_NE(model.status().message().find(key), std::string::npos) << model.status().ToString();
  }
}

// An option the model never reads (a misspelt --model_opts key) is refused,
// naming it and the model's options; the options it reads are accepted.
TEST(ModelsZooTest, OptionsTheModelDoesNotReadAreRefused) {
  ModelRegistry registry = BuiltinModels();
  ModelConfig c = TinyConfig();
  c.extra = {{"rank", "2"}, {"z_pol", "concat"}};
  const auto misspelt = registry.Create("midpg", c);
  EXPECT_EQ(misspelt.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(misspelt.status().message().find("no option 'z_pol'"), std::string::npos)
      << misspelt.status().ToString();
  EXPECT_NE(misspelt.status().message().find("z_pool"), std::string::npos)
      << misspelt.status().ToString();
  c.extra = {{"rank", "2"}, {"z_pool", "concat"}, {"aux_hidden", "5"}};
  EXPECT_TRUE(registry.Create("midpg", c).ok());
  c.extra = {{"aux_hidden", "5"}};  // MI-DPG's option, not MT-Backbone's
  EXPECT_FALSE(registry.Create("mt_backbone", c).ok());
}

TEST(ModelsZooTest, PermutingTheBatchPermutesTheLogits) {
  torch::manual_seed(2);
  for (const Variant& v : MultiScenarioVariants()) {
    auto model = Create(v);
    ASSERT_TRUE(model);
    model->eval();
    ModelInput in = RandomInput(torch::tensor({0, 1, 2, 1, 0, 2, 2, 0}));
    torch::Tensor perm = torch::randperm(8, torch::kInt64);
    torch::Tensor logits = model->Forward(in).logits;
    torch::Tensor permuted = model->Forward(SelectRows(in, perm)).logits;
    EXPECT_TRUE(torch::allclose(permuted, logits.index_select(0, perm), 1e-5, 1e-6)) << v.label();
  }
}

TEST(ModelsZooTest, ChangingOneScenarioChangesOnlyThatLogit) {
  torch::manual_seed(3);
  for (const Variant& v : MultiScenarioVariants()) {
    auto model = Create(v);
    ASSERT_TRUE(model);
    model->eval();
    ModelInput in = RandomInput(torch::tensor({0, 1, 2, 1, 0, 2}));
    torch::Tensor before = model->Forward(in).logits;
    ModelInput changed = in;
    changed.scenario = in.scenario.clone();
    changed.scenario[3] = 2;
    torch::Tensor after = model->Forward(changed).logits;
    for (int64_t i = 0; i < 6; ++i) {
      const float b = before[i].item<float>(), a = after[i].item<float>();
      if (i == 3) {
        EXPECT_NE(a, b) << v.label();
      } else {
        EXPECT_NEAR(a, b, 1e-5) << v.label() << " row " << i;
      }
    }
    // Row 3 alone gets the logit it gets in the batch.
    ModelInput alone = SelectRows(changed, torch::tensor({3}));
    EXPECT_NEAR(model->Forward(alone).logits[0].item<float>(), after[3].item<float>(), 1e-5)
        << v.label();
  }
}

TEST(ModelsZooTest, BackbonesIgnoreTheScenario) {
  torch::manual_seed(4);
  for (const char* name : {"dnn", "deepfm", "dcn"}) {
    auto model = Create({name, {}});
    ModelInput in = RandomInput(torch::tensor({0, 1, 2, 1}));
    torch::Tensor a = model->Forward(in).logits;
    in.scenario = torch::tensor({2, 2, 0, 0});
    EXPECT_TRUE(torch::allclose(a, model->Forward(in).logits)) << name;
  }
}

TEST(ModelsZooTest, DeepFmSecondOrderIsThePairwiseInteractionSum) {
  torch::manual_seed(5);
  DeepFmModel model(TinyConfig());
  ModelInput in = RandomInput(torch::tensor({0, 1, 2}));
  torch::Tensor zero_flat = torch::zeros({3, 3 * 4 + 2});
  ModelInput zero = in;
  zero.embeddings = torch::zeros_like(in.embeddings);
  // With a zero first-order input only the FM term differs.
  torch::Tensor fm = model.NonMlpLogit(in, zero_flat) - model.NonMlpLogit(zero, zero_flat);
  torch::Tensor expected = torch::zeros({3});
  for (int f = 0; f < 3; ++f) {
    for (int g = f + 1; g < 3; ++g) {
      expected += (in.embeddings.select(1, f) * in.embeddings.select(1, g)).sum(1);
    }
  }
  EXPECT_TRUE(torch::allclose(fm, expected, 1e-4, 1e-5));
}

TEST(ModelsZooTest, MtBackboneAllTowerLogitsMatchForEveryBackbone) {
  torch::manual_seed(6);
  for (const char* backbone : {"dnn", "deepfm", "dcn"}) {
    MtBackboneModel model(TinyConfig({{"backbone", backbone}}));
    ModelInput in = RandomInput(torch::tensor({2, 0, 1, 1, 0, 2}));
    torch::Tensor logits = model.Forward(in).logits;
    torch::Tensor all = model.AllTowerLogits(in);
    ASSERT_EQ(all.sizes(), torch::IntArrayRef({6, 3}));
    torch::Tensor picked = all.gather(1, in.scenario.unsqueeze(1)).squeeze(1);
    EXPECT_TRUE(torch::allclose(logits, picked, 1e-5, 1e-6)) << backbone;
  }
}

// Parameters that belong to scenario 1 and so must get no gradient from a batch
// without scenario 1.
struct GradientCase {
  Variant variant;
  std::vector<std::string> scenario1_prefixes;
};

TEST(ModelsZooTest, AbsentScenarioParametersGetNoGradient) {
  const std::vector<GradientCase> cases = {
      {{"mt_backbone", {{"backbone", "dcn"}}}, {"tower1."}},
      {{"star", {}}, {"scenario1."}},
      {{"mmoe", {}}, {"gate1.", "tower1."}},
      {{"ple", {{"ple_levels", "1"}}}, {"level0.specific1.", "level0.gate1.", "tower1."}},
      // Level 0's scenario-1 experts feed the shared gate; its gate only feeds
      // scenario 1's path.
      {{"ple", {}}, {"level0.gate1.", "level1.specific1.", "level1.gate1.", "tower1."}},
      {{"hmoe", {}}, {"gate1.", "tower1.", "mix1."}},
      {{"pepnet", {}}, {"tower1."}},
  };
  torch::manual_seed(7);
  for (const GradientCase& c : cases) {
    auto model = Create(c.variant);
    ASSERT_TRUE(model);
    ModelInput in = RandomInput(torch::tensor({0, 2, 0, 2, 2, 0, 0, 2, 0, 2, 0, 2, 2, 0, 0, 2}));
    model->Forward(in).logits.sum().backward();
    for (const auto& p : model->named_parameters()) {
      bool scenario1 = false;
      for (const std::string& prefix : c.scenario1_prefixes) {
        scenario1 = scenario1 || p.key().rfind(prefix, 0) == 0;
      }
      if (p.key() == "scenario_emb.weight") {
        EXPECT_FALSE(p.value().grad()[1].abs().sum().item<double>() > 0) << c.variant.label();
        EXPECT_TRUE(p.value().grad()[0].abs().sum().item<double>() > 0) << c.variant.label();
      } else {
        EXPECT_EQ(HasGradient(p.value()), !scenario1) << c.variant.label() << ": " << p.key();
      }
    }
  }
}

// The sum of the gradients that `loss_of_logits` gives the parameters whose
// names start with `prefix`, flattened.
torch::Tensor GradientOf(Model& model, const ModelInput& in, const std::string& prefix,
                         const std::function<torch::Tensor(const torch::Tensor&)>& loss) {
  model.zero_grad();
  loss(model.Forward(in).logits).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : model.named_parameters()) {
    if (p.key().rfind(prefix, 0) != 0) continue;
    grads.push_back(p.value().grad().defined() ? p.value().grad().flatten().clone()
                                               : torch::zeros({p.value().numel()}));
  }
  return torch::cat(grads);
}

TEST(ModelsZooTest, HmoeOtherTowersScoresAreStopGradient) {
  torch::manual_seed(8);
  auto model = Create({"hmoe", {}});
  ASSERT_TRUE(model);
  // Only scenario 0: tower 1's score enters every prediction, but tower 1 and
  // gate 1 learn nothing from it; scenario 0's mixing layer does see it.
  ModelInput only0 = RandomInput(torch::zeros({8}, torch::kInt64));
  auto sum = [](const torch::Tensor& l) { return l.sum(); };
  EXPECT_EQ(GradientOf(*model, only0, "tower1.", sum).abs().sum().item<double>(), 0);
  EXPECT_EQ(GradientOf(*model, only0, "gate1.", sum).abs().sum().item<double>(), 0);
  EXPECT_GT(GradientOf(*model, only0, "mix0.", sum).abs().sum().item<double>(), 0);
  // Mixed batch: tower 1's gradient comes from scenario 1's rows only.
  ModelInput mixed = RandomInput(torch::tensor({0, 1, 2, 1, 0, 2, 1, 0}));
  torch::Tensor coef = torch::randn({8});
  torch::Tensor is1 = (mixed.scenario == 1).to(torch::kFloat);
  torch::Tensor full = GradientOf(*model, mixed, "tower1.",
                                  [&](const torch::Tensor& l) { return (l * coef).sum(); });
  torch::Tensor own = GradientOf(*model, mixed, "tower1.",
                                 [&](const torch::Tensor& l) { return (l * coef * is1).sum(); });
  EXPECT_GT(own.abs().sum().item<double>(), 0);
  EXPECT_TRUE(torch::allclose(full, own, 1e-5, 1e-7));
}

TEST(ModelsZooTest, PepnetEmbeddingGetsGradientOnlyThroughTheEpnetProduct) {
  torch::manual_seed(9);
  PepnetModel model(TinyConfig());
  ModelInput in = RandomInput(torch::tensor({0, 1, 2, 1, 0, 2}));
  torch::Tensor coef = torch::randn({6});
  // Full model: d loss / d E.
  in.embeddings.requires_grad_(true);
  (model.Forward(in).logits * coef).sum().backward();
  torch::Tensor full = in.embeddings.grad().clone();
  // d loss / d O_ep with O_ep a leaf. The towers read E only through sg(E):
  // E itself must get no gradient from them.
  torch::Tensor epnet = model.EpnetOutput(in);
  torch::Tensor gate = (epnet / in.embeddings).detach();  // O_ep = gate (*) E
  ModelInput in2 = in;
  in2.embeddings = in.embeddings.detach().clone().requires_grad_(true);
  torch::Tensor leaf = epnet.detach().requires_grad_(true);
  (model.ForwardFromEpnet(in2, leaf).logits * coef).sum().backward();
  EXPECT_FALSE(in2.embeddings.grad().defined() &&
               in2.embeddings.grad().abs().sum().item<double>() > 0);
  // Through EPNet, E gets exactly gate (*) dL/dO_ep: nothing through sg(E) in
  // EPNet's gate input.
  EXPECT_TRUE(torch::allclose(full, leaf.grad() * gate, 1e-4, 1e-6));
}

TEST(ModelsZooTest, StarUsesBatchStatisticsInTrainingAndScenarioRunningStatisticsInEval) {
  torch::manual_seed(10);
  auto model = Create({"star", {{"pn_momentum", "1"}}});
  ASSERT_TRUE(model);
  ModelInput in = RandomInput(torch::tensor({0, 1, 0, 1, 0, 1}));
  in.embeddings = in.embeddings * 3 + 1;
  torch::Tensor running_mean = model->named_buffers()["running_mean"];
  torch::Tensor running_var = model->named_buffers()["running_var"];

  // Training: batch statistics of each scenario's rows; momentum 1 copies them.
  model->train();
  torch::Tensor train_logits = model->Forward(in).logits;
  torch::Tensor x0 =
      torch::cat({in.embeddings.flatten(1), in.dense}, 1).index_select(0, torch::tensor({0, 2, 4}));
  EXPECT_TRUE(torch::allclose(running_mean[0], x0.mean(0), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(running_var[0], x0.var(0, /*unbiased=*/true), 1e-4, 1e-6));
  EXPECT_TRUE(running_mean[2].eq(0).all().item<bool>());  // absent scenario untouched
  EXPECT_TRUE(running_var[2].eq(1).all().item<bool>());
  // In training, row 0 depends on the other rows of its scenario, and not on
  // the running statistics.
  torch::NoGradGuard no_grad;
  running_mean[0] += 100;
  EXPECT_TRUE(torch::allclose(model->Forward(in).logits, train_logits, 1e-5, 1e-6));
  ModelInput other = in;
  other.embeddings = in.embeddings.clone();
  other.embeddings[2] += 5;
  EXPECT_NE(model->Forward(other).logits[0].item<float>(), train_logits[0].item<float>());
  model->Forward(in);  // running statistics := in's again

  // Evaluation: scenario k's running statistics; rows are independent.
  model->eval();
  torch::Tensor eval_logits = model->Forward(in).logits;
  EXPECT_NEAR(model->Forward(other).logits[0].item<float>(), eval_logits[0].item<float>(), 1e-5);
  running_mean[0] += 1;
  torch::Tensor shifted = model->Forward(in).logits;
  EXPECT_NE(shifted[0].item<float>(), eval_logits[0].item<float>());
  EXPECT_NEAR(shifted[1].item<float>(), eval_logits[1].item<float>(), 1e-6);  // scenario 1
}

}  // namespace
}  // namespace msrec
