#include <gtest/gtest.h>

#include "models/multi_scenario.h"
#include "models/model.h"

namespace msrec {
namespace {

ModelConfig SmallConfig() {
  ModelConfig c;
  c.num_fields = 3;
  c.embedding_dim = 4;
  c.num_dense = 2;
  c.num_scenarios = 3;
  c.hidden = {8, 4};
  return c;
}

ModelInput RandomInput(int64_t b, const ModelConfig& c, torch::Tensor scenario) {
  ModelInput in;
  in.embeddings = torch::randn({b, c.num_fields, c.embedding_dim});
  in.dense = torch::randn({b, c.num_dense});
  in.scenario = scenario;
  return in;
}

TEST(ModelTest, RegistryCreatesEveryModelWithRightShapes) {
  torch::manual_seed(1);
  ModelRegistry registry = BuiltinModels();
  for (const std::string& name : registry.Names()) {
    auto model = registry.Create(name, SmallConfig());
    ASSERT_TRUE(model.ok()) << name << ": " << model.status().ToString();
    ModelOutput out = (*model)->Forward(RandomInput(5, SmallConfig(), torch::tensor({0, 1, 2, 1, 0})));
    EXPECT_EQ(out.logits.sizes(), torch::IntArrayRef({5})) << name;
  }
  EXPECT_FALSE(registry.Create("nope", SmallConfig()).ok());
}

TEST(ModelTest, MtBackboneRoutesEachInstanceToItsTower) {
  torch::manual_seed(2);
  MtBackboneModel model(SmallConfig());
  ModelInput in = RandomInput(6, SmallConfig(), torch::tensor({2, 0, 1, 1, 0, 2}));
  torch::Tensor logits = model.Forward(in).logits;
  torch::Tensor all = model.AllTowerLogits(in);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_FLOAT_EQ(logits[i].item<float>(), all[i][in.scenario[i].item<int64_t>()].item<float>());
  }
}

TEST(ModelTest, MtBackboneAbsentScenarioGetsNoGradient) {
  torch::manual_seed(3);
  MtBackboneModel model(SmallConfig());
  ModelInput in = RandomInput(4, SmallConfig(), torch::tensor({0, 2, 0, 2}));
  model.Forward(in).logits.sum().backward();
  for (const auto& p : model.named_parameters()) {
    const bool tower1 = p.key().rfind("tower1.", 0) == 0;
    const bool has_grad = p.value().grad().defined() && p.value().grad().abs().sum().item<float>() > 0;
    if (tower1) {
      EXPECT_FALSE(has_grad) << p.key();
    } else if (p.key().find("weight") != std::string::npos) {
      EXPECT_TRUE(has_grad) << p.key();
    }
  }
}

}  // namespace
}  // namespace msrec
