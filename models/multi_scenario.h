// Multi-scenario models (MODELS.md, "Multi-scenario models and training modes")
// and the routing helpers the multi-scenario families share.
#pragma once

#include <memory>
#include <vector>

#include "models/backbone.h"
#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// The rows of a batch grouped by scenario, computed once per batch (one stable
// sort + one bincount) so that per-scenario parts run only on their own rows.
// Throws c10::Error when a scenario id is outside [0, num_scenarios).
class ScenarioRows {
 public:
  ScenarioRows(const torch::Tensor& scenario, int64_t num_scenarios);

  int64_t num_scenarios() const { return int64_t(rows_.size()); }
  int64_t batch_size() const { return order_.size(0); }
  // Indices (int64, ascending) of the rows of scenario k; empty if none.
  const torch::Tensor& rows(int64_t k) const { return rows_[k]; }
  bool empty(int64_t k) const { return rows_[k].size(0) == 0; }
  // x's rows of scenario k (x itself when every row is of scenario k).
  torch::Tensor Select(const torch::Tensor& x, int64_t k) const;
  ModelInput Select(const ModelInput& input, int64_t k) const;
  // Inverse of Select: parts[k] holds the rows(k).size(0) leading rows computed
  // for scenario k (ignored, may be undefined, when empty(k)); returns them as
  // one B x ... tensor in the batch's row order. Differentiable.
  torch::Tensor Scatter(const std::vector<torch::Tensor>& parts) const;

 private:
  torch::Tensor order_;    // row indices sorted by scenario (stable)
  torch::Tensor inverse_;  // inverse permutation of order_
  std::vector<torch::Tensor> rows_;
};

// MT-Backbone: shared embeddings, one tower per scenario; instance i is scored
// by tower s_i, and each tower runs only on its own scenario's rows. A tower is
// a full backbone instance: option `backbone` = dnn (default) | deepfm | dcn.
class MtBackboneModel : public Model {
 public:
  explicit MtBackboneModel(const ModelConfig& config);
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "mt_backbone"; }
  int64_t FlopsPerInstance() const override { return towers_[0]->FlopsPerInstance(); }

  // Logits of every tower for every instance: B x K (used by SSIM and tests).
  torch::Tensor AllTowerLogits(const ModelInput& input);
  // Every tower on every row (AllTowerLogits); no auxiliary losses.
  ModelOutput ForwardAllScenarios(const ModelInput& input, int num_scenarios) override;
  // Tower k scores scenario k's instances (SSIM routes rows to them).
  std::vector<std::shared_ptr<Backbone>> ScenarioTowers() const override { return towers_; }
  // Copies tower 0's parameters and buffers into every other tower.
  Status HandOverFirstScenario() override;

 private:
  std::vector<std::shared_ptr<Backbone>> towers_;  // registered as "tower<k>"
};


}  // namespace msrec
