// PEPNet.
#include "models/internal/pepnet.h"

#include <stdexcept>

#include "models/multi_scenario.h"

namespace msrec {

GateUnitImpl::GateUnitImpl(int64_t in_dim, int64_t hidden, int64_t out_dim) {
  w1_ = register_module("w1", torch::nn::Linear(in_dim, hidden));
  w2_ = register_module("w2", torch::nn::Linear(hidden, out_dim));
  flops_ = 2 * in_dim * hidden + 2 * hidden * out_dim;
}

torch::Tensor GateUnitImpl::forward(const torch::Tensor& x) {
  return 2 * torch::sigmoid(w2_->forward(torch::relu(w1_->forward(x))));
}

// One scenario's PPNet tower: hidden layers each scaled by its own gate.
class PepnetModel::Tower : public torch::nn::Module {
 public:
  Tower(const ModelConfig& config, int64_t gate_in, int64_t gate_hidden) {
    int64_t width = config.input_dim();
    for (size_t l = 0; l < config.hidden.size(); ++l) {
      const std::string id = std::to_string(l);
      const int64_t h = config.hidden[l];
      linear_.push_back(register_module("linear" + id, torch::nn::Linear(width, h)));
      if (config.batch_norm)
        norm_.push_back(register_module("norm" + id, torch::nn::BatchNorm1d(h)));
      gate_.push_back(register_module("gate" + id, GateUnit(gate_in, gate_hidden, h)));
      flops += 2 * width * h + gate_.back()->flops();
      width = h;
    }
    out_ = register_module("out", torch::nn::Linear(width, 1));
    flops += 2 * width;
    dropout_ = config.dropout;
  }

  // x: B x D main input, gate_in: B x gate_in -> B logits.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& gate_in) {
    for (size_t l = 0; l < linear_.size(); ++l) {
      x = linear_[l]->forward(x);
      if (!norm_.empty()) x = norm_[l]->forward(x);
      x = torch::relu(x) * gate_[l]->forward(gate_in);
      if (dropout_ > 0) x = torch::dropout(x, dropout_, is_training());
    }
    return out_->forward(x).squeeze(1);
  }

  int64_t flops = 0;

 private:
  std::vector<torch::nn::Linear> linear_;
  std::vector<torch::nn::BatchNorm1d> norm_;
  std::vector<GateUnit> gate_;
  torch::nn::Linear out_{nullptr};
  double dropout_ = 0;
};

PepnetModel::PepnetModel(const ModelConfig& config) {
  const int64_t emb_dim = config.ExtraInt("scenario_emb_dim", 16);
  const int64_t gate_hidden = config.ExtraInt("gate_hidden", 64);
  if (emb_dim <= 0 || gate_hidden <= 0) {
    throw std::invalid_argument("scenario_emb_dim and gate_hidden must be > 0");
  }
  const int64_t fd = int64_t(config.num_fields) * config.embedding_dim;
  scenario_emb_ =
      register_module("scenario_emb", torch::nn::Embedding(config.num_scenarios, emb_dim));
  ep_gate_ = register_module("ep_gate", GateUnit(emb_dim + fd, gate_hidden, fd));
  for (int k = 0; k < config.num_scenarios; ++k) {
    towers_.push_back(register_module("tower" + std::to_string(k),
                                      std::make_shared<Tower>(config, 2 * fd, gate_hidden)));
  }
  flops_ = ep_gate_->flops() + fd + towers_[0]->flops;
}

torch::Tensor PepnetModel::EpnetOutput(const ModelInput& input) {
  const torch::Tensor& e = input.embeddings;
  torch::Tensor gate_in =
      torch::cat({scenario_emb_->forward(input.scenario), e.flatten(1).detach()}, 1);
  return ep_gate_->forward(gate_in).view_as(e) * e;
}

ModelOutput PepnetModel::ForwardFromEpnet(const ModelInput& input,
                                          const torch::Tensor& epnet_output) {
  torch::Tensor x = FlattenInputs(epnet_output, input.dense);
  torch::Tensor gate_in =
      torch::cat({input.embeddings.flatten(1).detach(), epnet_output.flatten(1)}, 1);
  ScenarioRows rows(input.scenario, int64_t(towers_.size()));
  std::vector<torch::Tensor> parts(towers_.size());
  for (size_t k = 0; k < towers_.size(); ++k) {
    if (!rows.empty(k)) parts[k] = towers_[k]->forward(rows.Select(x, k), rows.Select(gate_in, k));
  }
  ModelOutput out;
  out.logits = rows.Scatter(parts);
  return out;
}

ModelOutput PepnetModel::Forward(const ModelInput& input) {
  return ForwardFromEpnet(input, EpnetOutput(input));
}

}  // namespace msrec
