// STAR (MODELS.md, "Multi-scenario models"): partitioned normalisation,
// star-topology fully connected layers and an auxiliary scenario network.
#pragma once

#include <vector>

#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// For instance i of scenario k, with x = concat(flattened embeddings, dense):
//   PN:   z = (gamma * gamma_k) * (x - mu) / sqrt(var + eps) + (beta + beta_k).
//         Training: mu, var are the batch statistics of scenario k's rows in the
//         batch (a scenario with a single row in the batch uses its running
//         statistics), and they update scenario k's running statistics
//         (momentum pn_momentum, unbiased variance). Evaluation (eval()): scenario
//         k's running statistics.
//   FCN:  for every layer (hidden sizes ModelConfig::hidden, then -> 1):
//         h = h (W (*) W_k) + (b + b_k), ReLU and dropout after hidden layers;
//         W_k starts at ones and b_k at zeros, so every scenario starts equal.
//   aux:  logit += MLP_aux(e_k), e_k a learned scenario embedding.
// ModelConfig::batch_norm is ignored (PN normalises the input).
// Parameter names: per-scenario ones live under "scenario<k>." (PN scale and
// shift, W_k, b_k); shared ones under "shared.", "scenario_emb", "aux".
// Options: scenario_emb_dim (default 16), aux_hidden (default "64"),
// pn_momentum (default 0.1), pn_eps (default 1e-5).
class StarModel : public Model {
 public:
  explicit StarModel(const ModelConfig& config);
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "star"; }
  int64_t FlopsPerInstance() const override { return flops_; }

 private:
  torch::Tensor PartitionedNorm(const torch::Tensor& x, int64_t k);
  torch::Tensor StarLayers(torch::Tensor h, int64_t k);

  double momentum_, eps_, dropout_;
  int64_t flops_ = 0;
  std::vector<torch::Tensor> w_, b_;                   // shared layer weights (in x out) and biases
  std::vector<std::vector<torch::Tensor>> w_k_, b_k_;  // [scenario][layer]
  torch::Tensor gamma_, beta_;                         // shared PN scale and shift, D
  std::vector<torch::Tensor> gamma_k_, beta_k_;        // per-scenario PN scale and shift, D
  torch::Tensor running_mean_, running_var_;           // buffers, K x D
  torch::nn::Embedding scenario_emb_{nullptr};
  Mlp aux_{nullptr};
};

}  // namespace msrec
