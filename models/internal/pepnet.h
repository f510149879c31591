// PEPNet (MODELS.md, "Multi-scenario models"): an embedding-personalised
// network (EPNet) and parameter-personalised towers (PPNet).
#pragma once

#include <memory>
#include <vector>

#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// Gate unit g(x) = 2 * sigmoid(W2 relu(W1 x)): values in (0, 2), ~1 at init.
class GateUnitImpl : public torch::nn::Module {
 public:
  GateUnitImpl(int64_t in_dim, int64_t hidden, int64_t out_dim);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t flops() const { return flops_; }

 private:
  torch::nn::Linear w1_{nullptr}, w2_{nullptr};
  int64_t flops_;
};
TORCH_MODULE(GateUnit);

// With E the B x F x d embeddings (flattened: e), sg() stop-gradient:
//   EPNet: O_ep = g_ep([scenario embedding ; sg(e)]) (*) e, one gate value per
//          embedding element (F*d outputs).
//   PPNet: scenario k's tower is Linear -> [BatchNorm] -> ReLU -> (*) g_kl ->
//          [Dropout] for every hidden size l of ModelConfig::hidden, then
//          Linear -> 1, over concat(flatten(O_ep), dense); the gate input is
//          [sg(e) ; flatten(O_ep)] (O_ep not stop-gradient, as MODELS.md
//          specifies). Instance i uses tower s_i, run on scenario s_i's rows.
// So e receives gradient only through O_ep's product, never through a gate's
// sg(e) input. Parameters: "scenario_emb", "ep_gate", "tower<k>" (with its
// gates). Options: scenario_emb_dim (default 16), gate_hidden (default 64).
class PepnetModel : public Model {
 public:
  explicit PepnetModel(const ModelConfig& config);
  // ForwardFromEpnet(input, EpnetOutput(input)).
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "pepnet"; }
  int64_t FlopsPerInstance() const override { return flops_; }

  // O_ep: B x F x d.
  torch::Tensor EpnetOutput(const ModelInput& input);
  // The towers given O_ep (any B x F x d tensor; tests pass a detached leaf).
  ModelOutput ForwardFromEpnet(const ModelInput& input, const torch::Tensor& epnet_output);

 private:
  class Tower;
  torch::nn::Embedding scenario_emb_{nullptr};
  GateUnit ep_gate_{nullptr};
  std::vector<std::shared_ptr<Tower>> towers_;
  int64_t flops_ = 0;
};

}  // namespace msrec
