// Single-network backbones (MODELS.md, "Backbones"). DeepFM and DCN live in
// deepfm.h and dcn.h; all three implement the Backbone interface (backbone.h).
#pragma once

#include "models/backbone.h"
#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// DNN: MLP over concat(flattened embeddings, dense) -> one logit. Ignores the scenario.
class DnnModel : public Backbone {
 public:
  explicit DnnModel(const ModelConfig& config);
  std::string name() const override { return "dnn"; }
  int64_t FlopsPerInstance() const override { return flops_; }

  torch::Tensor NonMlpLogit(const ModelInput& input, const torch::Tensor& flat) override;
  Mlp& mlp() override { return mlp_; }
  int64_t NonMlpFlops() const override { return 0; }

 private:
  Mlp mlp_{nullptr};
  int64_t flops_ = 0;
};

}  // namespace msrec
