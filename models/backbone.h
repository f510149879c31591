// The Backbone interface: a single-network model (DNN, DeepFM, DCN) split into
// a deep part (an Mlp over concat(flattened embeddings, dense) ending in one
// logit) and a non-MLP part (first-order + FM terms, cross network) whose
// logit is added. Multi-scenario models build per-scenario towers from it
// (mt_backbone's `backbone` option), and wrappers such as MI-DPG may run their
// own version of mlp()'s linear layers and add NonMlpLogit.
#pragma once

#include <memory>
#include <string>

#include "models/layers.h"
#include "models/model.h"

namespace msrec {

class Backbone : public Model {
 public:
  // Logit of the non-MLP part: B (all zeros for DNN). `flat` must be
  // FlattenInputs(input.embeddings, input.dense).
  virtual torch::Tensor NonMlpLogit(const ModelInput& input, const torch::Tensor& flat) = 0;

  // The deep part: Linear -> [BatchNorm] -> ReLU -> [Dropout] per hidden size
  // (ModelConfig::hidden), then Linear -> 1, over FlattenInputs(...). Owned by
  // this backbone.
  virtual Mlp& mlp() = 0;

  // Forward FLOPs of one instance through NonMlpLogit (FlopsPerInstance()
  // is this plus mlp()'s).
  virtual int64_t NonMlpFlops() const = 0;

  // logits = NonMlpLogit(input, flat) + mlp()(flat).
  ModelOutput Forward(const ModelInput& input) override;
};

// Creates backbone `kind` ("dnn", "deepfm" or "dcn") for `config`; throws
// std::invalid_argument for another kind (the registry reports it).
std::shared_ptr<Backbone> MakeBackbone(const std::string& kind, const ModelConfig& config);

}  // namespace msrec
