// Multi-scenario models (MODELS.md, "Multi-scenario models and training modes").
#pragma once

#include <vector>

#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// MT-Backbone: shared embeddings, one MLP tower per scenario; instance i is
// scored by tower s_i. Each tower runs only on its own scenario's rows.
class MtBackboneModel : public Model {
 public:
  explicit MtBackboneModel(const ModelConfig& config);
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "mt_backbone"; }
  int64_t FlopsPerInstance() const override { return flops_; }

  // Logits of every tower for every instance: B x K (used by SSIM and tests).
  torch::Tensor AllTowerLogits(const ModelInput& input);

 private:
  std::vector<Mlp> towers_;
  int64_t flops_ = 0;
};

// Runs `towers[k]` on the rows of `x` whose scenario is k and scatters the
// B outputs (each tower's output must be B_k x 1) back in row order.
torch::Tensor RouteByScenario(std::vector<Mlp>& towers, const torch::Tensor& x,
                              const torch::Tensor& scenario);

}  // namespace msrec
