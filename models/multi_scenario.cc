// Multi-scenario models.
#include "models/multi_scenario.h"

#include "models/registry_parts.h"

namespace msrec {

torch::Tensor RouteByScenario(std::vector<Mlp>& towers, const torch::Tensor& x,
                              const torch::Tensor& scenario) {
  const int64_t batch = x.size(0);
  torch::Tensor logits = torch::zeros({batch}, x.options());
  for (size_t k = 0; k < towers.size(); ++k) {
    torch::Tensor idx = (scenario == int64_t(k)).nonzero().squeeze(1);
    if (idx.numel() == 0) continue;
    torch::Tensor yk = towers[k]->forward(x.index_select(0, idx)).squeeze(1);
    logits = logits.index_put({idx}, yk);
  }
  return logits;
}

MtBackboneModel::MtBackboneModel(const ModelConfig& config) {
  flops_ = MlpFlops(config.input_dim(), config.hidden, 1);
  for (int k = 0; k < config.num_scenarios; ++k) {
    towers_.push_back(register_module(
        "tower" + std::to_string(k),
        Mlp(config.input_dim(), config.hidden, 1, config.batch_norm, config.dropout)));
  }
}

ModelOutput MtBackboneModel::Forward(const ModelInput& input) {
  ModelOutput out;
  out.logits = RouteByScenario(towers_, FlattenInputs(input.embeddings, input.dense), input.scenario);
  return out;
}

torch::Tensor MtBackboneModel::AllTowerLogits(const ModelInput& input) {
  torch::Tensor x = FlattenInputs(input.embeddings, input.dense);
  std::vector<torch::Tensor> cols;
  for (auto& tower : towers_) cols.push_back(tower->forward(x));
  return torch::cat(cols, 1);
}

void RegisterMultiScenarioModels(ModelRegistry* registry) {
  registry->Register("mt_backbone",
                     [](const ModelConfig& c) { return std::make_shared<MtBackboneModel>(c); });
}

}  // namespace msrec
