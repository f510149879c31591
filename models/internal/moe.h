// Mixture-of-experts multi-scenario models (MODELS.md, "Multi-scenario
// models"): MMoE, PLE and HMoE, and the expert bank they share.
//
// Common options (ModelConfig::extra):
//   expert_hidden  hidden sizes of every expert (Linear -> ReLU each), default "64"
//   tower_hidden   hidden sizes of every scenario tower (an Mlp ending in one
//                  logit), default ModelConfig::hidden
// ModelConfig::batch_norm and dropout apply to the towers (and HMoE's bottom)
// only; experts are Linear -> ReLU.
#pragma once

#include <vector>

#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// `num` independent experts with the same shape, evaluated together: the first
// layer is one GEMM for all experts, deeper layers one batched GEMM.
class ExpertBankImpl : public torch::nn::Module {
 public:
  ExpertBankImpl(int64_t in_dim, int64_t num, const std::vector<int64_t>& hidden);
  // x: B x in_dim -> B x num x out_dim().
  torch::Tensor forward(const torch::Tensor& x);
  int64_t num() const { return num_; }
  int64_t out_dim() const { return out_dim_; }
  // Forward FLOPs for one instance (all experts).
  int64_t flops() const { return flops_; }

 private:
  int64_t num_, out_dim_, flops_;
  torch::nn::Linear first_{nullptr};  // in_dim -> num * hidden[0]
  std::vector<torch::Tensor> w_, b_;  // deeper layers: num x h_{l-1} x h_l, num x 1 x h_l
};
TORCH_MODULE(ExpertBank);

// Weighted sum of experts: softmax(gate_logits) (B x E) mixes experts (B x E x h)
// into B x h.
torch::Tensor MixExperts(const torch::Tensor& gate_logits, const torch::Tensor& experts);

// MMoE: shared experts over x = concat(flattened embeddings, dense); scenario k
// has a softmax gate (Linear x -> num_experts) and a tower; instance i is
// scored by gate and tower s_i, computed on scenario s_i's rows only.
// Parameters: "experts", "gate<k>", "tower<k>". Option: num_experts (default 8).
class MmoeModel : public Model {
 public:
  explicit MmoeModel(const ModelConfig& config);
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "mmoe"; }
  int64_t FlopsPerInstance() const override { return flops_; }

 private:
  ExpertBank experts_{nullptr};
  std::vector<torch::nn::Linear> gates_;
  std::vector<Mlp> towers_;
  int64_t flops_ = 0;
};

// PLE (progressive layered extraction) for scenarios. Level l has, for every
// scenario k, num_specific_experts experts "level<l>.specific<k>" and a gate
// "level<l>.gate<k>" over [specific_k ; shared] experts, plus num_shared_experts
// shared experts "level<l>.shared". Every level but the last also has a shared
// gate over all the level's experts, which feeds the next level's shared
// experts; scenario k's gate output feeds the next level's scenario-k experts
// and gate. Level 0 reads x = concat(flattened embeddings, dense) everywhere.
// The last level and the towers "tower<k>" run on scenario k's rows only;
// earlier levels run on every row (the shared gate needs every expert).
// Options: ple_levels (default 2), num_specific_experts (default 2),
// num_shared_experts (default 1).
class PleModel : public Model {
 public:
  explicit PleModel(const ModelConfig& config);
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "ple"; }
  int64_t FlopsPerInstance() const override { return flops_; }

 private:
  struct Level {
    std::vector<ExpertBank> specific;  // per scenario
    ExpertBank shared{nullptr};
    std::vector<torch::nn::Linear> gates;    // per scenario
    torch::nn::Linear shared_gate{nullptr};  // absent at the last level
  };
  std::vector<Level> levels_;
  std::vector<Mlp> towers_;
  int64_t flops_ = 0;
};

// HMoE: a shared bottom MLP h = bottom(x) (hidden sizes bottom_hidden, default
// "256") feeds num_experts (default 8) experts; scenario k's softmax gate
// "gate<k>" mixes them for tower "tower<k>", which gives the score t_k (a
// logit). Every tower runs on every row. The prediction for scenario k is
//   logit = sum_j w_kj t_j,  w_k = softmax(mix<k>(h)) (a K-way dense layer),
// with t_j stop-gradient for j != k: tower j and gate j learn only from
// scenario j's instances. The mixing weights run on scenario k's rows only.
class HmoeModel : public Model {
 public:
  explicit HmoeModel(const ModelConfig& config);
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "hmoe"; }
  int64_t FlopsPerInstance() const override { return flops_; }

 private:
  Mlp bottom_{nullptr};
  ExpertBank experts_{nullptr};
  std::vector<torch::nn::Linear> gates_;
  std::vector<Mlp> towers_;
  std::vector<torch::nn::Linear> mix_;
  int64_t flops_ = 0;
};

}  // namespace msrec
