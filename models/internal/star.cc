// STAR.
#include "models/internal/star.h"

#include <cmath>
#include <stdexcept>

#include "models/multi_scenario.h"

namespace msrec {

StarModel::StarModel(const ModelConfig& config) {
  const int64_t num_scenarios = config.num_scenarios;
  const int64_t dim = config.input_dim();
  const int64_t emb_dim = config.ExtraInt("scenario_emb_dim", 16);
  const std::vector<int64_t> aux_hidden = config.ExtraInts("aux_hidden", {64});
  momentum_ = config.ExtraDouble("pn_momentum", 0.1);
  eps_ = config.ExtraDouble("pn_eps", 1e-5);
  dropout_ = config.dropout;
  if (emb_dim <= 0) throw std::invalid_argument("scenario_emb_dim must be > 0");

  auto shared = register_module("shared", std::make_shared<torch::nn::Module>());
  gamma_ = shared->register_parameter("pn_gamma", torch::ones({dim}));
  beta_ = shared->register_parameter("pn_beta", torch::zeros({dim}));
  std::vector<int64_t> sizes = {dim};
  sizes.insert(sizes.end(), config.hidden.begin(), config.hidden.end());
  sizes.push_back(1);
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double bound = 1.0 / std::sqrt(double(sizes[l]));  // torch::nn::Linear's default
    w_.push_back(shared->register_parameter(
        "w" + std::to_string(l), torch::empty({sizes[l], sizes[l + 1]}).uniform_(-bound, bound)));
    b_.push_back(shared->register_parameter("b" + std::to_string(l),
                                            torch::empty({sizes[l + 1]}).uniform_(-bound, bound)));
  }
  w_k_.resize(num_scenarios);
  b_k_.resize(num_scenarios);
  for (int64_t k = 0; k < num_scenarios; ++k) {
    auto scenario =
        register_module("scenario" + std::to_string(k), std::make_shared<torch::nn::Module>());
    gamma_k_.push_back(scenario->register_parameter("pn_gamma", torch::ones({dim})));
    beta_k_.push_back(scenario->register_parameter("pn_beta", torch::zeros({dim})));
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      w_k_[k].push_back(scenario->register_parameter("w" + std::to_string(l),
                                                     torch::ones({sizes[l], sizes[l + 1]})));
      b_k_[k].push_back(
          scenario->register_parameter("b" + std::to_string(l), torch::zeros({sizes[l + 1]})));
    }
  }
  running_mean_ = register_buffer("running_mean", torch::zeros({num_scenarios, dim}));
  running_var_ = register_buffer("running_var", torch::ones({num_scenarios, dim}));
  scenario_emb_ = register_module("scenario_emb", torch::nn::Embedding(num_scenarios, emb_dim));
  aux_ = register_module("aux", Mlp(emb_dim, aux_hidden, 1, false, 0.0));
  flops_ = 6 * dim + MlpFlops(dim, config.hidden, 1) + MlpFlops(emb_dim, aux_hidden, 1);
}

torch::Tensor StarModel::PartitionedNorm(const torch::Tensor& x, int64_t k) {
  torch::Tensor mean, var;
  if (is_training() && x.size(0) > 1) {
    mean = x.mean(0);
    var = x.var(0, /*unbiased=*/false);
    torch::NoGradGuard no_grad;
    running_mean_[k].mul_(1 - momentum_).add_(momentum_ * mean.detach());
    running_var_[k].mul_(1 - momentum_).add_(momentum_ * x.detach().var(0, /*unbiased=*/true));
  } else {
    mean = running_mean_[k];
    var = running_var_[k];
  }
  torch::Tensor scale = gamma_ * gamma_k_[k] * torch::rsqrt(var + eps_);
  return (x - mean) * scale + (beta_ + beta_k_[k]);
}

torch::Tensor StarModel::StarLayers(torch::Tensor h, int64_t k) {
  const size_t layers = w_.size();
  for (size_t l = 0; l < layers; ++l) {
    h = torch::addmm(b_[l] + b_k_[k][l], h, w_[l] * w_k_[k][l]);
    if (l + 1 < layers) {
      h = torch::relu(h);
      if (dropout_ > 0) h = torch::dropout(h, dropout_, is_training());
    }
  }
  return h.squeeze(1);
}

ModelOutput StarModel::Forward(const ModelInput& input) {
  torch::Tensor x = FlattenInputs(input.embeddings, input.dense);
  ScenarioRows rows(input.scenario, int64_t(w_k_.size()));
  std::vector<torch::Tensor> parts(w_k_.size());
  for (int64_t k = 0; k < rows.num_scenarios(); ++k) {
    if (!rows.empty(k)) parts[k] = StarLayers(PartitionedNorm(rows.Select(x, k), k), k);
  }
  // The auxiliary network depends on the scenario only: run it on the K
  // embeddings and gather.
  torch::Tensor aux = aux_->forward(scenario_emb_->weight).squeeze(1);
  ModelOutput out;
  out.logits = rows.Scatter(parts) + aux.index_select(0, input.scenario);
  return out;
}

}  // namespace msrec
