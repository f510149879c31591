// DCN (MODELS.md, "Backbones"): a cross network in parallel with a DNN,
// concatenated into a linear head.
#pragma once

#include <vector>

#include "models/backbone.h"

namespace msrec {

// x0 = concat(flattened embeddings, dense), width D. Cross layer l:
//   v2 (default, option dcn_version=2): x_{l+1} = x0 * (W_l x_l + b_l) + x_l, W_l full-rank D x D;
//   v1 (dcn_version=1):                 x_{l+1} = x0 * (w_l . x_l) + b_l + x_l, w_l a D-vector.
// Options: cross_layers (default 3), dcn_version (default 2).
// The head Linear(concat(x_L, DNN's last hidden layer) -> 1) is split into a
// bias-free Linear(x_L -> 1) (NonMlpLogit) plus the Mlp's final Linear (which
// carries the bias): the same function, so mlp() is an ordinary deep part.
class DcnModel : public Backbone {
 public:
  explicit DcnModel(const ModelConfig& config);
  std::string name() const override { return "dcn"; }
  int64_t FlopsPerInstance() const override;

  // The cross network's head term w_c . x_L.
  torch::Tensor NonMlpLogit(const ModelInput& input, const torch::Tensor& flat) override;
  Mlp& mlp() override { return mlp_; }
  int64_t NonMlpFlops() const override;

 private:
  ModelConfig config_;
  int64_t version_;
  std::vector<torch::nn::Linear> cross_;   // v2: D -> D; v1: D -> 1 (bias unused)
  std::vector<torch::Tensor> cross_bias_;  // v1 only: b_l, D
  torch::nn::Linear cross_head_{nullptr};
  Mlp mlp_{nullptr};
};

}  // namespace msrec
