// Multi-scenario models.
#include "models/multi_scenario.h"

#include "models/internal/moe.h"
#include "models/internal/pepnet.h"
#include "models/internal/registry_parts.h"
#include "models/internal/star.h"

namespace msrec {

ScenarioRows::ScenarioRows(const torch::Tensor& scenario, int64_t num_scenarios) {
  const int64_t batch = scenario.size(0);
  order_ = std::get<1>(torch::sort(scenario, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  torch::Tensor counts = torch::bincount(scenario, {}, num_scenarios).to(torch::kCPU);
  TORCH_CHECK(counts.size(0) == num_scenarios, "scenario id out of range: expected ids in [0, ",
              num_scenarios, ")");
  const int64_t* count = counts.data_ptr<int64_t>();
  int64_t start = 0;
  for (int64_t k = 0; k < num_scenarios; ++k) {
    rows_.push_back(order_.narrow(0, start, count[k]));
    start += count[k];
  }
  inverse_ = torch::empty_like(order_).scatter_(0, order_, torch::arange(batch, order_.options()));
}

torch::Tensor ScenarioRows::Select(const torch::Tensor& x, int64_t k) const {
  if (rows_[k].size(0) == batch_size()) return x;
  return x.index_select(0, rows_[k]);
}

ModelInput ScenarioRows::Select(const ModelInput& input, int64_t k) const {
  ModelInput out;
  out.embeddings = Select(input.embeddings, k);
  out.dense = input.dense.defined() ? Select(input.dense, k) : input.dense;
  out.scenario = Select(input.scenario, k);
  return out;
}

torch::Tensor ScenarioRows::Scatter(const std::vector<torch::Tensor>& parts) const {
  std::vector<torch::Tensor> present;
  for (int64_t k = 0; k < num_scenarios(); ++k) {
    if (!empty(k)) present.push_back(parts[k]);
  }
  if (present.empty()) return torch::empty({0});  // empty batch
  if (present.size() == 1) return present[0];     // one scenario: already in row order
  return torch::cat(present, 0).index_select(0, inverse_);
}

MtBackboneModel::MtBackboneModel(const ModelConfig& config) {
  const std::string backbone = config.ExtraString("backbone", "dnn");
  for (int k = 0; k < config.num_scenarios; ++k) {
    towers_.push_back(register_module("tower" + std::to_string(k), MakeBackbone(backbone, config)));
  }
}

Status MtBackboneModel::HandOverFirstScenario() {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = towers_[0]->parameters();
  const std::vector<torch::Tensor> buffers = towers_[0]->buffers();
  for (size_t k = 1; k < towers_.size(); ++k) {
    const std::vector<torch::Tensor> to_params = towers_[k]->parameters();
    const std::vector<torch::Tensor> to_buffers = towers_[k]->buffers();
    for (size_t i = 0; i < params.size(); ++i) to_params[i].copy_(params[i]);
    for (size_t i = 0; i < buffers.size(); ++i) to_buffers[i].copy_(buffers[i]);
  }
  return Status::OK();
}

ModelOutput MtBackboneModel::Forward(const ModelInput& input) {
  ScenarioRows rows(input.scenario, int64_t(towers_.size()));
  std::vector<torch::Tensor> parts(towers_.size());
  for (size_t k = 0; k < towers_.size(); ++k) {
    if (!rows.empty(k)) parts[k] = towers_[k]->Forward(rows.Select(input, k)).logits;
  }
  ModelOutput out;
  out.logits = rows.Scatter(parts);
  return out;
}

torch::Tensor MtBackboneModel::AllTowerLogits(const ModelInput& input) {
  std::vector<torch::Tensor> cols;
  for (auto& tower : towers_) cols.push_back(tower->Forward(input).logits);
  return torch::stack(cols, 1);
}

ModelOutput MtBackboneModel::ForwardAllScenarios(const ModelInput& input, int num_scenarios) {
  CHECK_EQ(num_scenarios, int(towers_.size())) << "model built for another scenario count";
  ModelOutput out;
  out.logits = AllTowerLogits(input);
  return out;
}

void RegisterMultiScenarioModels(ModelRegistry* registry) {
  registry->Register("mt_backbone",
                     [](const ModelConfig& c) { return std::make_shared<MtBackboneModel>(c); });
  registry->Register("star", [](const ModelConfig& c) { return std::make_shared<StarModel>(c); });
  registry->Register("mmoe", [](const ModelConfig& c) { return std::make_shared<MmoeModel>(c); });
  registry->Register("ple", [](const ModelConfig& c) { return std::make_shared<PleModel>(c); });
  registry->Register("hmoe", [](const ModelConfig& c) { return std::make_shared<HmoeModel>(c); });
  registry->Register("pepnet",
                     [](const ModelConfig& c) { return std::make_shared<PepnetModel>(c); });
}

}  // namespace msrec
