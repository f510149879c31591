// DeepFM.
#include "models/internal/deepfm.h"

namespace msrec {

DeepFmModel::DeepFmModel(const ModelConfig& config) : config_(config) {
  first_order_ = register_module("first_order", torch::nn::Linear(config.input_dim(), 1));
  mlp_ = register_module(
      "mlp", Mlp(config.input_dim(), config.hidden, 1, config.batch_norm, config.dropout));
}

torch::Tensor DeepFmModel::NonMlpLogit(const ModelInput& input, const torch::Tensor& flat) {
  const torch::Tensor& e = input.embeddings;  // B x F x d
  torch::Tensor square_of_sum = e.sum(1).square();
  torch::Tensor sum_of_squares = e.square().sum(1);
  torch::Tensor fm = 0.5 * (square_of_sum - sum_of_squares).sum(1);
  return first_order_->forward(flat).squeeze(1) + fm;
}

int64_t DeepFmModel::NonMlpFlops() const {
  const int64_t fd = int64_t(config_.num_fields) * config_.embedding_dim;
  return 2 * config_.input_dim() + 3 * fd + 2 * config_.embedding_dim;
}

int64_t DeepFmModel::FlopsPerInstance() const {
  return NonMlpFlops() + MlpFlops(config_.input_dim(), config_.hidden, 1);
}

}  // namespace msrec
