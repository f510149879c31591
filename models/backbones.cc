// Single-network backbones.
#include "models/backbones.h"

#include "models/registry_parts.h"

namespace msrec {

DnnModel::DnnModel(const ModelConfig& config) {
  mlp_ = register_module(
      "mlp", Mlp(config.input_dim(), config.hidden, 1, config.batch_norm, config.dropout));
  flops_ = MlpFlops(config.input_dim(), config.hidden, 1);
}

ModelOutput DnnModel::Forward(const ModelInput& input) {
  ModelOutput out;
  out.logits = mlp_->forward(FlattenInputs(input.embeddings, input.dense)).squeeze(1);
  return out;
}

void RegisterBackbones(ModelRegistry* registry) {
  registry->Register("dnn", [](const ModelConfig& c) { return std::make_shared<DnnModel>(c); });
}

}  // namespace msrec
