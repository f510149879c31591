// Single-network backbones (MODELS.md, "Backbones").
#pragma once

#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// DNN: MLP over concat(flattened embeddings, dense) -> one logit. Ignores the scenario.
class DnnModel : public Model {
 public:
  explicit DnnModel(const ModelConfig& config);
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "dnn"; }
  int64_t FlopsPerInstance() const override { return flops_; }

 private:
  Mlp mlp_{nullptr};
  int64_t flops_ = 0;
};

}  // namespace msrec
