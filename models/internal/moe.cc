// MMoE, PLE and HMoE.
#include "models/internal/moe.h"

#include <cmath>
#include <stdexcept>

#include "models/multi_scenario.h"

namespace msrec {
namespace {

std::vector<int64_t> ExpertHidden(const ModelConfig& config) {
  std::vector<int64_t> hidden = config.ExtraInts("expert_hidden", {64});
  if (hidden.empty()) throw std::invalid_argument("expert_hidden must not be empty");
  return hidden;
}

Mlp MakeTower(const ModelConfig& config, int64_t in_dim) {
  return Mlp(in_dim, config.ExtraInts("tower_hidden", config.hidden), 1, config.batch_norm,
             config.dropout);
}

int64_t TowerFlops(const ModelConfig& config, int64_t in_dim) {
  return MlpFlops(in_dim, config.ExtraInts("tower_hidden", config.hidden), 1);
}

int64_t PositiveOption(const ModelConfig& config, const std::string& key, int64_t fallback) {
  const int64_t v = config.ExtraInt(key, fallback);
  if (v <= 0) throw std::invalid_argument(key + " must be > 0");
  return v;
}

}  // namespace

ExpertBankImpl::ExpertBankImpl(int64_t in_dim, int64_t num, const std::vector<int64_t>& hidden)
    : num_(num), out_dim_(hidden.back()) {
  first_ = register_module("first", torch::nn::Linear(in_dim, num * hidden[0]));
  flops_ = 2 * in_dim * num * hidden[0];
  for (size_t l = 1; l < hidden.size(); ++l) {
    const double bound = 1.0 / std::sqrt(double(hidden[l - 1]));
    w_.push_back(
        register_parameter("w" + std::to_string(l),
                           torch::empty({num, hidden[l - 1], hidden[l]}).uniform_(-bound, bound)));
    b_.push_back(register_parameter("b" + std::to_string(l),
                                    torch::empty({num, 1, hidden[l]}).uniform_(-bound, bound)));
    flops_ += 2 * num * hidden[l - 1] * hidden[l];
  }
}

torch::Tensor ExpertBankImpl::forward(const torch::Tensor& x) {
  const int64_t batch = x.size(0);
  torch::Tensor h = torch::relu(first_->forward(x)).view({batch, num_, -1});
  if (w_.empty()) return h;
  h = h.transpose(0, 1);  // num x B x h
  for (size_t l = 0; l < w_.size(); ++l) h = torch::relu(torch::baddbmm(b_[l], h, w_[l]));
  return h.transpose(0, 1);
}

torch::Tensor MixExperts(const torch::Tensor& gate_logits, const torch::Tensor& experts) {
  return torch::softmax(gate_logits, 1).unsqueeze(1).bmm(experts).squeeze(1);
}

// ---------------------------------------------------------------- MMoE

MmoeModel::MmoeModel(const ModelConfig& config) {
  const int64_t dim = config.input_dim();
  const int64_t num = PositiveOption(config, "num_experts", 8);
  experts_ = register_module("experts", ExpertBank(dim, num, ExpertHidden(config)));
  for (int k = 0; k < config.num_scenarios; ++k) {
    const std::string id = std::to_string(k);
    gates_.push_back(register_module("gate" + id, torch::nn::Linear(dim, num)));
    towers_.push_back(register_module("tower" + id, MakeTower(config, experts_->out_dim())));
  }
  flops_ = experts_->flops() + 2 * dim * num + 2 * num * experts_->out_dim() +
           TowerFlops(config, experts_->out_dim());
}

ModelOutput MmoeModel::Forward(const ModelInput& input) {
  torch::Tensor x = FlattenInputs(input.embeddings, input.dense);
  torch::Tensor experts = experts_->forward(x);
  ScenarioRows rows(input.scenario, int64_t(towers_.size()));
  std::vector<torch::Tensor> parts(towers_.size());
  for (size_t k = 0; k < towers_.size(); ++k) {
    if (rows.empty(k)) continue;
    torch::Tensor mixed =
        MixExperts(gates_[k]->forward(rows.Select(x, k)), rows.Select(experts, k));
    parts[k] = towers_[k]->forward(mixed).squeeze(1);
  }
  ModelOutput out;
  out.logits = rows.Scatter(parts);
  return out;
}

// ---------------------------------------------------------------- PLE

PleModel::PleModel(const ModelConfig& config) {
  const int64_t num_levels = PositiveOption(config, "ple_levels", 2);
  const int64_t num_specific = PositiveOption(config, "num_specific_experts", 2);
  const int64_t num_shared = PositiveOption(config, "num_shared_experts", 1);
  const std::vector<int64_t> hidden = ExpertHidden(config);
  const int64_t num_scenarios = config.num_scenarios;
  int64_t in_dim = config.input_dim();
  for (int64_t l = 0; l < num_levels; ++l) {
    auto level_module =
        register_module("level" + std::to_string(l), std::make_shared<torch::nn::Module>());
    Level level;
    const bool last = l + 1 == num_levels;
    for (int64_t k = 0; k < num_scenarios; ++k) {
      const std::string id = std::to_string(k);
      level.specific.push_back(
          level_module->register_module("specific" + id, ExpertBank(in_dim, num_specific, hidden)));
      level.gates.push_back(level_module->register_module(
          "gate" + id, torch::nn::Linear(in_dim, num_specific + num_shared)));
    }
    level.shared = level_module->register_module("shared", ExpertBank(in_dim, num_shared, hidden));
    const int64_t h = level.shared->out_dim();
    const int64_t per_path = 2 * in_dim * (num_specific + num_shared) +
                             2 * (num_specific + num_shared) * h + level.specific[0]->flops();
    if (last) {
      flops_ += per_path + level.shared->flops();
    } else {
      const int64_t all = num_scenarios * num_specific + num_shared;
      level.shared_gate =
          level_module->register_module("shared_gate", torch::nn::Linear(in_dim, all));
      flops_ += num_scenarios * per_path + level.shared->flops() + 2 * in_dim * all + 2 * all * h;
    }
    levels_.push_back(std::move(level));
    in_dim = h;
  }
  for (int64_t k = 0; k < num_scenarios; ++k) {
    towers_.push_back(register_module("tower" + std::to_string(k), MakeTower(config, in_dim)));
  }
  flops_ += TowerFlops(config, in_dim);
}

ModelOutput PleModel::Forward(const ModelInput& input) {
  const int64_t num_scenarios = int64_t(towers_.size());
  torch::Tensor x = FlattenInputs(input.embeddings, input.dense);
  std::vector<torch::Tensor> paths(num_scenarios, x);  // scenario k's input, every row
  torch::Tensor shared_in = x;
  // Every level but the last, on every row.
  for (size_t l = 0; l + 1 < levels_.size(); ++l) {
    Level& level = levels_[l];
    torch::Tensor shared = level.shared->forward(shared_in);
    std::vector<torch::Tensor> all;
    for (int64_t k = 0; k < num_scenarios; ++k) {
      torch::Tensor specific = level.specific[k]->forward(paths[k]);
      all.push_back(specific);
      paths[k] = MixExperts(level.gates[k]->forward(paths[k]), torch::cat({specific, shared}, 1));
    }
    all.push_back(shared);
    shared_in = MixExperts(level.shared_gate->forward(shared_in), torch::cat(all, 1));
  }
  // The last level and the towers, on each scenario's rows.
  Level& level = levels_.back();
  ScenarioRows rows(input.scenario, num_scenarios);
  std::vector<torch::Tensor> parts(num_scenarios);
  for (int64_t k = 0; k < num_scenarios; ++k) {
    if (rows.empty(k)) continue;
    torch::Tensor path = rows.Select(paths[k], k);
    torch::Tensor experts = torch::cat(
        {level.specific[k]->forward(path), level.shared->forward(rows.Select(shared_in, k))}, 1);
    parts[k] = towers_[k]->forward(MixExperts(level.gates[k]->forward(path), experts)).squeeze(1);
  }
  ModelOutput out;
  out.logits = rows.Scatter(parts);
  return out;
}

// ---------------------------------------------------------------- HMoE

HmoeModel::HmoeModel(const ModelConfig& config) {
  const int64_t dim = config.input_dim();
  const int64_t num = PositiveOption(config, "num_experts", 8);
  const std::vector<int64_t> bottom_hidden = config.ExtraInts("bottom_hidden", {256});
  bottom_ =
      register_module("bottom", Mlp(dim, bottom_hidden, 0, config.batch_norm, config.dropout));
  const int64_t h = bottom_->out_dim();
  experts_ = register_module("experts", ExpertBank(h, num, ExpertHidden(config)));
  const int64_t num_scenarios = config.num_scenarios;
  for (int64_t k = 0; k < num_scenarios; ++k) {
    const std::string id = std::to_string(k);
    gates_.push_back(register_module("gate" + id, torch::nn::Linear(h, num)));
    towers_.push_back(register_module("tower" + id, MakeTower(config, experts_->out_dim())));
    mix_.push_back(register_module("mix" + id, torch::nn::Linear(h, num_scenarios)));
  }
  flops_ = MlpFlops(dim, bottom_hidden, 0) + experts_->flops() +
           num_scenarios * (2 * h * num + 2 * num * experts_->out_dim() +
                            TowerFlops(config, experts_->out_dim())) +
           2 * h * num_scenarios + 2 * num_scenarios;
}

ModelOutput HmoeModel::Forward(const ModelInput& input) {
  const int64_t num_scenarios = int64_t(towers_.size());
  torch::Tensor h = bottom_->forward(FlattenInputs(input.embeddings, input.dense));
  torch::Tensor experts = experts_->forward(h);
  std::vector<torch::Tensor> scores;  // t_j on every row
  for (int64_t j = 0; j < num_scenarios; ++j) {
    scores.push_back(towers_[j]->forward(MixExperts(gates_[j]->forward(h), experts)));
  }
  torch::Tensor t = torch::cat(scores, 1);  // B x K
  ScenarioRows rows(input.scenario, num_scenarios);
  std::vector<torch::Tensor> weights(num_scenarios);
  for (int64_t k = 0; k < num_scenarios; ++k) {
    if (!rows.empty(k)) weights[k] = torch::softmax(mix_[k]->forward(rows.Select(h, k)), 1);
  }
  torch::Tensor own = torch::one_hot(input.scenario, num_scenarios).to(torch::kBool);
  torch::Tensor t_mixed = torch::where(own, t, t.detach());
  ModelOutput out;
  out.logits = (rows.Scatter(weights) * t_mixed).sum(1);
  return out;
}

}  // namespace msrec
