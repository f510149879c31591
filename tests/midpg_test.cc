#include <cmath>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "models/internal/backbones.h"
#include "models/midpg.h"
#include "models/model.h"

namespace msrec {
namespace {

ModelConfig SmallConfig() {
  ModelConfig c;
  c.num_fields = 3;
  c.embedding_dim = 4;
  c.num_dense = 2;
  c.num_scenarios = 3;
  c.hidden = {8, 5};
  return c;
}

ModelInput RandomInput(const ModelConfig& c, const torch::Tensor& scenario,
                       torch::Dtype dtype = torch::kFloat) {
  const int64_t b = scenario.size(0);
  ModelInput in;
  in.embeddings = torch::randn({b, c.num_fields, c.embedding_dim}, dtype).requires_grad_(true);
  in.dense = torch::randn({b, c.num_dense}, dtype);
  in.scenario = scenario;
  return in;
}

// Sum of |grad|; 0 for an undefined gradient (LibTorch 2.x's zero_grad sets
// gradients to undefined, 1.13's fills them with zeros).
double GradAbsSum(const torch::Tensor& p) {
  return p.grad().defined() ? p.grad().abs().sum().item<double>() : 0.0;
}

std::map<std::string, torch::Tensor> Grads(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) {
    out[p.key()] =
        p.value().grad().defined() ? p.value().grad().clone() : torch::zeros_like(p.value());
  }
  return out;
}

// max |a - b| <= rtol * max |b| + 1e-12 (the floor for all-zero tensors, such
// as the gradient of a bias followed by batch norm).
void ExpectClose(const torch::Tensor& a, const torch::Tensor& b, double rtol,
                 const std::string& what) {
  const double scale = b.abs().max().item<double>();
  const double err = (a - b).abs().max().item<double>();
  EXPECT_LE(err, rtol * scale + 1e-12) << what << ": max error " << err << ", scale " << scale;
}

TEST(MidpgTest, LowRankAndMaterialisedPathsAgree) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const std::vector<std::string> backbones = {"dnn", "deepfm", "dcn"};
  for (int trial = 0; trial < 12; ++trial) {
    torch::manual_seed(100 + trial);
    ModelConfig c;
    c.num_fields = pick(1, 4);
    c.embedding_dim = pick(2, 5);
    c.num_dense = pick(0, 3);
    c.num_scenarios = pick(1, 4);
    c.hidden.clear();
    for (int h = pick(0, 3); h > 0; --h) c.hidden.push_back(pick(3, 9));
    c.batch_norm = trial % 4 == 3;
    c.extra["backbone"] = backbones[trial % 3];
    c.extra["rank"] = std::to_string(pick(1, 5));
    c.extra["core_init"] = "0.5";  // C != 0, so P and Q matter and get gradient
    if (trial % 5 == 1) c.extra["no_shared"] = "1";
    if (trial % 5 == 2) c.extra["no_specific"] = "1";
    if (trial % 6 == 4) c.extra["modulate_output"] = "0";
    c.extra["mi"] = trial % 2 == 1 ? "cls" : "infonce";
    if (trial % 3 == 2) {
      c.extra["scenario_bias"] = "1";
      c.extra["scenario_linear"] = "1";
      c.extra["scenario_head"] = "1";
    }
    if (trial % 4 == 1) c.extra["input_gate"] = "1";
    // Cores per scenario: the auto path takes the scenario path (when there are
    // scenario-specific factors), checked against the materialised one too.
    const bool per_scenario = trial % 4 == 2;
    if (per_scenario) c.extra["z_pool"] = "none";
    const std::string what = "trial " + std::to_string(trial) + " (" + c.extra["backbone"] + ")";

    MidpgModel model(c);
    model.to(torch::kDouble);
    const int64_t b = pick(4, 9);
    ModelInput in =
        RandomInput(c, torch::randint(c.num_scenarios, {b}, torch::kLong), torch::kDouble);
    torch::Tensor weights = torch::randn({b}, torch::kDouble);

    std::vector<torch::Tensor> logits;
    std::vector<std::map<std::string, torch::Tensor>> grads;
    std::vector<torch::Tensor> input_grads;
    for (ModulationPath path : {ModulationPath::kMaterialized, ModulationPath::kInput,
                                ModulationPath::kWeight, ModulationPath::kOutput,
                                ModulationPath::kAuto}) {
      model.set_path(path);
      model.zero_grad();
      in.embeddings.mutable_grad() = torch::Tensor();
      ModelOutput out = model.Forward(in);
      torch::Tensor loss = (out.logits * weights).sum();
      for (const auto& aux : out.aux_losses) loss = loss + aux.second;
      loss.backward();
      logits.push_back(out.logits.detach());
      grads.push_back(Grads(model));
      input_grads.push_back(in.embeddings.grad().clone());
    }
    for (int path = 1; path < 5; ++path) {
      const char* names[] = {"", " input path", " weight path", " output path",
                             per_scenario ? " auto path (scenario)" : " auto path"};
      const std::string tag = what + names[path];
      ExpectClose(logits[path], logits[0], 1e-5, tag + " logits");
      ExpectClose(input_grads[path], input_grads[0], 1e-5, tag + " d/dembeddings");
      for (const auto& kv : grads[0]) {
        ExpectClose(grads[path].at(kv.first), kv.second, 1e-5, tag + " d/d" + kv.first);
      }
    }
    // The factors really were exercised (specific factors of absent scenarios,
    // or behind dead ReLUs, may have none).
    double p_grad = 0;
    for (const auto& kv : grads[0]) {
      const std::string& key = kv.first;
      if (key.find("p_shared") != std::string::npos ||
          (key.size() > 2 && key.compare(key.size() - 2, 2, ".p") == 0)) {
        p_grad += kv.second.abs().sum().item<double>();
      }
    }
    EXPECT_GT(p_grad, 0) << what;
  }
}

TEST(MidpgTest, AtInitialisationOutputEqualsPlainBackbone) {
  for (const std::string backbone : {"dnn", "deepfm", "dcn"}) {
    torch::manual_seed(3);
    ModelConfig c = SmallConfig();
    c.extra["backbone"] = backbone;
    MidpgModel model(c);
    model.eval();
    ModelInput in = RandomInput(c, torch::tensor({0, 1, 2, 1, 0, 2}));
    torch::Tensor got = model.Forward(in).logits;
    torch::Tensor want = model.backbone().Forward(in).logits;
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6)) << backbone << "\n" << got << "\n" << want;
  }
  // And against an independent DnnModel holding the same W, b.
  torch::manual_seed(4);
  ModelConfig c = SmallConfig();
  c.batch_norm = true;
  MidpgModel model(c);
  DnnModel dnn(c);
  {
    torch::NoGradGuard no_grad;
    auto mine = model.named_parameters();
    for (auto& p : dnn.named_parameters()) p.value().copy_(mine["backbone." + p.key()]);
  }
  ModelInput in = RandomInput(c, torch::tensor({2, 2, 0, 1}));
  torch::Tensor got = model.Forward(in).logits;  // training mode: batch statistics in both
  torch::Tensor want = dnn.Forward(in).logits;
  EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6)) << got << "\n" << want;
}

// unit_factor=1: row 0 of P + P_k and Q + Q_k is the constant factor_std (held
// by the shared factors, or by the specific ones without them), the other
// rows random; the model still starts as the plain backbone.
TEST(MidpgTest, UnitFactorStartsConstantAndKeepsTheBackbone) {
  for (const std::string no_shared : {"0", "1"}) {
    torch::manual_seed(5);
    ModelConfig c = SmallConfig();
    c.extra["unit_factor"] = "1";
    c.extra["factor_std"] = "0.25";
    c.extra["no_shared"] = no_shared;
    MidpgModel model(c);
    model.eval();
    auto params = model.named_parameters();
    for (const std::string side : {"p", "q"}) {
      for (int64_t k = 0; k < c.num_scenarios; ++k) {
        torch::Tensor total =
            params["modulation0.specific" + std::to_string(k) + "." + side].clone();
        if (no_shared == "0") total += params["modulation0." + side + "_shared"];
        SCOPED_TRACE("no_shared " + no_shared + ", " + side + ", scenario " + std::to_string(k));
        EXPECT_TRUE(torch::allclose(total[0], torch::full_like(total[0], 0.25)));
        EXPECT_GT(total[1].std().item<double>(), 0.0);
      }
    }
    ModelInput in = RandomInput(c, torch::tensor({0, 1, 2, 1}));
    EXPECT_TRUE(torch::allclose(model.Forward(in).logits, model.backbone().Forward(in).logits,
                                1e-5, 1e-6));
  }
}

// scenario_head=1 adds h . w_s (h: the last hidden layer) to the logit: zero
// at init; with scenario 1's row set to the output layer's weights, its logit
// minus the output bias doubles, and the other scenarios' stay the plain ones.
TEST(MidpgTest, ScenarioHeadReadsTheLastHiddenLayer) {
  torch::manual_seed(6);
  ModelConfig c = SmallConfig();
  c.extra["scenario_head"] = "1";
  c.extra["scenario_bias"] = "0";
  MidpgModel model(c);
  model.eval();
  ModelInput in = RandomInput(c, torch::tensor({0, 1, 2, 1, 0}));
  torch::Tensor plain = model.backbone().Forward(in).logits.detach();
  EXPECT_TRUE(torch::allclose(model.Forward(in).logits, plain, 1e-5, 1e-6));
  auto params = model.named_parameters();
  ASSERT_EQ(params["scenario_head.weight"].sizes(), (std::vector<int64_t>{3, 5}));
  const torch::Tensor out_bias = params["backbone.mlp.seq.4.bias"][0].detach();
  {
    torch::NoGradGuard no_grad;
    params["scenario_head.weight"][1].copy_(params["backbone.mlp.seq.4.weight"][0]);
  }
  torch::Tensor got = model.Forward(in).logits.detach();
  torch::Tensor want = plain.clone();
  for (int64_t i : {1, 3}) want[i] = 2 * (plain[i] - out_bias) + out_bias;
  EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6)) << got << "\n" << want;
}

TEST(MidpgTest, AbsentScenarioFactorsGetNoGradientSharedGetFromEveryScenario) {
  torch::manual_seed(5);
  ModelConfig c = SmallConfig();
  c.extra["core_init"] = "0.3";
  c.extra["mi"] = "none";
  MidpgModel model(c);
  auto check = [&](const torch::Tensor& scenario, const std::vector<bool>& present) {
    model.zero_grad();
    model.Forward(RandomInput(c, scenario)).logits.sum().backward();
    for (const auto& p : model.named_parameters()) {
      const std::string& key = p.key();
      const size_t at = key.find(".specific");
      if (at != std::string::npos) {
        const int k = std::stoi(key.substr(at + 9));
        const double g = GradAbsSum(p.value());
        if (present[k]) {
          EXPECT_GT(g, 0) << key;
        } else {
          EXPECT_EQ(g, 0) << key;
        }
      } else if (key.find("_shared") != std::string::npos) {
        EXPECT_GT(GradAbsSum(p.value()), 0) << key;
      }
    }
  };
  for (ModulationPath path :
       {ModulationPath::kInput, ModulationPath::kWeight, ModulationPath::kOutput}) {
    model.set_path(path);
    check(torch::tensor({0, 2, 0, 2, 2}), {true, false, true});
    for (int64_t k = 0; k < c.num_scenarios; ++k) {
      std::vector<bool> present(c.num_scenarios, false);
      present[k] = true;
      check(torch::full({4}, k, torch::kLong), present);
    }
  }
}

TEST(MidpgTest, InfoNceMatchesHandComputedValue) {
  torch::Tensor a = torch::tensor({{1.0, 0.0}, {0.6, 0.8}, {-1.0, 2.0}}, torch::kDouble);
  torch::Tensor b = torch::tensor({{2.0, 0.1}, {0.0, -1.0}, {-0.5, 0.5}}, torch::kDouble);
  const double tau = 0.5;
  auto cosine = [&](const torch::Tensor& u, const torch::Tensor& v) {
    const double u0 = u[0].item<double>(), u1 = u[1].item<double>();
    const double v0 = v[0].item<double>(), v1 = v[1].item<double>();
    return (u0 * v0 + u1 * v1) / (std::hypot(u0, u1) * std::hypot(v0, v1));
  };
  double forward = 0, backward = 0;
  for (int i = 0; i < 3; ++i) {
    double den_f = 0, den_b = 0;
    for (int j = 0; j < 3; ++j) {
      den_f += std::exp(cosine(a[i], b[j]) / tau);
      den_b += std::exp(cosine(a[j], b[i]) / tau);
    }
    forward += -std::log(std::exp(cosine(a[i], b[i]) / tau) / den_f) / 3;
    backward += -std::log(std::exp(cosine(a[i], b[i]) / tau) / den_b) / 3;
  }
  EXPECT_NEAR(InfoNce(a, b, tau, false).item<double>(), forward, 1e-12);
  EXPECT_NEAR(InfoNce(a, b, tau, true).item<double>(), 0.5 * (forward + backward), 1e-12);
}

TEST(MidpgTest, InfoNceIsLowerForDependentInputs) {
  torch::manual_seed(6);
  const int64_t b = 64;
  torch::Tensor a = torch::randn({b, 8});
  const double independent = InfoNce(a, torch::randn({b, 8}), 0.1, false).item<double>();
  const double dependent = InfoNce(a, a + 0.1 * torch::randn({b, 8}), 0.1, false).item<double>();
  EXPECT_GT(independent, 0.5 * std::log(double(b)));
  EXPECT_LT(dependent, 0.1 * independent);
}

TEST(MidpgTest, MiTermDecreasesWhenTrainedAlone) {
  torch::manual_seed(8);
  ModelConfig c = SmallConfig();
  c.extra["mi"] = "infonce";
  const int64_t b = 32;
  MidpgModel model(c);
  model.train();
  ModelInput in = RandomInput(c, torch::randint(c.num_scenarios, {b}, torch::kLong));
  in.embeddings = in.embeddings.detach();
  torch::optim::Adam opt(model.parameters(), torch::optim::AdamOptions(1e-2));
  auto mi = [&] {
    ModelOutput out = model.Forward(in);
    EXPECT_EQ(out.aux_losses.size(), 1u);
    EXPECT_EQ(out.aux_losses[0].first, "mi");
    return out.aux_losses[0].second;
  };
  // C = 0 at init: psi(vec C) is the same for every instance, so L = log B.
  const double beta = model.options().beta;
  const double first = mi().item<double>();
  EXPECT_NEAR(first, beta * std::log(double(b)), 1e-4);
  for (int step = 0; step < 60; ++step) {
    opt.zero_grad();
    mi().backward();
    opt.step();
  }
  EXPECT_LT(mi().item<double>(), 0.5 * first);
}

TEST(MidpgTest, MiVariantsAndEvalMode) {
  torch::manual_seed(9);
  ModelConfig c = SmallConfig();
  ModelInput in = RandomInput(c, torch::tensor({0, 1, 2, 0}));
  {
    c.extra["mi"] = "cls";
    c.extra["beta"] = "0.5";
    MidpgModel model(c);
    ModelOutput out = model.Forward(in);
    ASSERT_EQ(out.aux_losses.size(), 1u);
    EXPECT_TRUE(std::isfinite(out.aux_losses[0].second.item<double>()));
    model.eval();
    EXPECT_TRUE(model.Forward(in).aux_losses.empty());
  }
  {
    c.extra["mi"] = "infonce";
    c.extra["beta"] = "1";
    c.extra["mi_batch"] = "3";  // InfoNCE over 3 of the 4 instances: log 3 at init
    MidpgModel model(c);
    EXPECT_NEAR(model.Forward(in).aux_losses.at(0).second.item<double>(), std::log(3.0), 1e-5);
  }
  {
    c.extra["mi"] = "none";
    MidpgModel model(c);
    EXPECT_TRUE(model.Forward(in).aux_losses.empty());
  }
}

TEST(MidpgTest, OptionsAblationsAndCounts) {
  ModelRegistry registry = BuiltinModels();
  ModelConfig c = SmallConfig();
  ASSERT_TRUE(registry.Create("midpg", c).ok());
  for (const std::string bad :
       {"no_shared=1,no_specific=1", "mi=foo", "rank=0", "z_fields=7", "backbone=xyz", "tau=0",
        "z_pool=max", "z_pool=none,dz=0", "core_scale=0", "path=scenario",
        "path=scenario,z_pool=mean"}) {
    ModelConfig b = c;
    const size_t comma = bad.find(',');
    auto put = [&](const std::string& kv) {
      b.extra[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    };
    put(bad.substr(0, comma));
    if (comma != std::string::npos) put(bad.substr(comma + 1));
    EXPECT_FALSE(registry.Create("midpg", b).ok()) << bad;
  }
  ModelConfig z = c;
  z.extra["z_fields"] = "0,2";
  torch::manual_seed(10);
  MidpgModel zm(z);
  ModelInput in = RandomInput(z, torch::tensor({1, 0}));
  torch::Tensor want = in.embeddings.index_select(1, torch::tensor({0, 2})).mean(1);
  EXPECT_TRUE(torch::allclose(zm.ScenarioInput(in).slice(1, zm.options().dz), want));

  // z_pool=none: z is the scenario embedding alone, so two instances of one
  // scenario get the same cores whatever their features.
  ModelConfig zn = c;
  zn.extra["z_pool"] = "none";
  zn.extra["core_init"] = "0.5";
  torch::manual_seed(11);
  MidpgModel none(zn);
  ModelInput two = RandomInput(zn, torch::tensor({2, 2}));
  torch::Tensor zs = none.ScenarioInput(two);
  EXPECT_EQ(zs.size(1), none.options().dz);
  std::vector<torch::Tensor> cores = none.Cores(zs);
  EXPECT_TRUE(torch::allclose(cores[0][0], cores[0][1]));
  EXPECT_GT(cores[0][0].abs().sum().item<double>(), 0.0);

  // core_scale multiplies the generated cores.
  ModelConfig cs = zn;
  cs.extra["core_scale"] = "3";
  torch::manual_seed(11);
  MidpgModel scaled(cs);
  EXPECT_TRUE(torch::allclose(scaled.Cores(zs)[0], 3 * cores[0]));

  MidpgModel full(c);
  ModelConfig ns = c;
  ns.extra["no_specific"] = "1";
  MidpgModel no_specific(ns);
  EXPECT_LT(CountParameters(no_specific), CountParameters(full));
  DnnModel dnn(c);
  EXPECT_GT(full.FlopsPerInstance(), dnn.FlopsPerInstance());
}

}  // namespace
}  // namespace msrec
