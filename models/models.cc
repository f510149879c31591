// Backbones, multi-scenario models and the built-in registry.
#include <sstream>

#include "models/backbones.h"
#include "models/multi_scenario.h"

namespace msrec {

DnnModel::DnnModel(const ModelConfig& config) {
  mlp_ = register_module(
      "mlp", Mlp(config.input_dim(), config.hidden, 1, config.batch_norm, config.dropout));
}

ModelOutput DnnModel::Forward(const ModelInput& input) {
  ModelOutput out;
  out.logits = mlp_->forward(FlattenInputs(input.embeddings, input.dense)).squeeze(1);
  return out;
}

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

void ModelRegistry::Register(const std::string& name, ModelFactory factory) {
  factories_[name] = std::move(factory);
}

Result<std::shared_ptr<Model>> ModelRegistry::Create(const std::string& name,
                                                     const ModelConfig& config) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    std::ostringstream names;
    for (const auto& kv : factories_) names << " " << kv.first;
    return Status::NotFound("unknown model '" + name + "'; registered:" + names.str());
  }
  if (config.num_fields <= 0 || config.embedding_dim <= 0 || config.num_scenarios <= 0) {
    return Status::InvalidArgument("model '" + name + "' needs num_fields, embedding_dim and " +
                                   "num_scenarios > 0");
  }
  try {
    return it->second(config);
  } catch (const c10::Error& e) {
    return Status::InvalidArgument("creating model '" + name + "': " + e.what_without_backtrace());
  }
}

std::vector<std::string> ModelRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& kv : factories_) names.push_back(kv.first);
  return names;
}

ModelRegistry BuiltinModels() {
  ModelRegistry registry;
  registry.Register("dnn", [](const ModelConfig& c) { return std::make_shared<DnnModel>(c); });
  registry.Register("mt_backbone",
                    [](const ModelConfig& c) { return std::make_shared<MtBackboneModel>(c); });
  return registry;
}

}  // namespace msrec
