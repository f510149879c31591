// DeepFM (MODELS.md, "Backbones"): first-order term + FM second-order term +
// DNN, summed into one logit.
#pragma once

#include "models/backbone.h"

namespace msrec {

// First order: the sparse store holds only d-dim embeddings (no per-feature
// scalar weight), so the first-order term is a Linear(F*d + num_dense -> 1)
// over the flattened input: a learned linear projection of every field's
// embedding plus the dense features.
// Second order: 0.5 * sum_d((sum_f E_f)^2 - sum_f E_f^2) over the B x F x d
// embeddings (all pairwise field interactions). Deep part: mlp().
class DeepFmModel : public Backbone {
 public:
  explicit DeepFmModel(const ModelConfig& config);
  std::string name() const override { return "deepfm"; }
  int64_t FlopsPerInstance() const override;

  // first-order + FM terms.
  torch::Tensor NonMlpLogit(const ModelInput& input, const torch::Tensor& flat) override;
  Mlp& mlp() override { return mlp_; }
  int64_t NonMlpFlops() const override;

 private:
  ModelConfig config_;
  torch::nn::Linear first_order_{nullptr};
  Mlp mlp_{nullptr};
};

}  // namespace msrec
