// DCN (v1 and v2 cross networks).
#include "models/internal/dcn.h"

#include <stdexcept>

namespace msrec {

DcnModel::DcnModel(const ModelConfig& config) : config_(config) {
  version_ = config.ExtraInt("dcn_version", 2);
  const int64_t layers = config.ExtraInt("cross_layers", 3);
  if (version_ != 1 && version_ != 2) throw std::invalid_argument("dcn_version must be 1 or 2");
  if (layers < 0) throw std::invalid_argument("cross_layers must be >= 0");
  const int64_t dim = config.input_dim();
  for (int64_t l = 0; l < layers; ++l) {
    const std::string id = std::to_string(l);
    if (version_ == 2) {
      cross_.push_back(register_module("cross" + id, torch::nn::Linear(dim, dim)));
    } else {
      cross_.push_back(register_module(
          "cross" + id, torch::nn::Linear(torch::nn::LinearOptions(dim, 1).bias(false))));
      cross_bias_.push_back(register_parameter("cross_bias" + id, torch::zeros({dim})));
    }
  }
  cross_head_ = register_module("cross_head",
                                torch::nn::Linear(torch::nn::LinearOptions(dim, 1).bias(false)));
  mlp_ = register_module("mlp", Mlp(dim, config.hidden, 1, config.batch_norm, config.dropout));
}

torch::Tensor DcnModel::NonMlpLogit(const ModelInput& input, const torch::Tensor& flat) {
  torch::Tensor x = flat;
  for (size_t l = 0; l < cross_.size(); ++l) {
    if (version_ == 2) {
      x = flat * cross_[l]->forward(x) + x;
    } else {
      x = flat * cross_[l]->forward(x) + cross_bias_[l] + x;
    }
  }
  return cross_head_->forward(x).squeeze(1);
}

int64_t DcnModel::NonMlpFlops() const {
  const int64_t dim = config_.input_dim();
  const int64_t per_layer = version_ == 2 ? 2 * dim * dim + 3 * dim : 2 * dim + 3 * dim;
  return int64_t(cross_.size()) * per_layer + 2 * dim;
}

int64_t DcnModel::FlopsPerInstance() const {
  return NonMlpFlops() + MlpFlops(config_.input_dim(), config_.hidden, 1);
}

}  // namespace msrec
