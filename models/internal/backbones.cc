// Single-network backbones.
#include "models/internal/backbones.h"

#include <stdexcept>

#include "models/internal/dcn.h"
#include "models/internal/deepfm.h"
#include "models/internal/registry_parts.h"

namespace msrec {

ModelOutput Backbone::Forward(const ModelInput& input) {
  torch::Tensor flat = FlattenInputs(input.embeddings, input.dense);
  ModelOutput out;
  out.logits = mlp()->forward(flat).squeeze(1);
  if (NonMlpFlops() > 0) out.logits = out.logits + NonMlpLogit(input, flat);
  return out;
}

std::shared_ptr<Backbone> MakeBackbone(const std::string& kind, const ModelConfig& config) {
  if (kind == "dnn") return std::make_shared<DnnModel>(config);
  if (kind == "deepfm") return std::make_shared<DeepFmModel>(config);
  if (kind == "dcn") return std::make_shared<DcnModel>(config);
  throw std::invalid_argument("unknown backbone '" + kind + "' (expected dnn, deepfm or dcn)");
}

DnnModel::DnnModel(const ModelConfig& config) {
  mlp_ = register_module(
      "mlp", Mlp(config.input_dim(), config.hidden, 1, config.batch_norm, config.dropout));
  flops_ = MlpFlops(config.input_dim(), config.hidden, 1);
}

torch::Tensor DnnModel::NonMlpLogit(const ModelInput& input, const torch::Tensor& flat) {
  return torch::zeros({flat.size(0)}, flat.options());
}

void RegisterBackbones(ModelRegistry* registry) {
  for (const char* kind : {"dnn", "deepfm", "dcn"}) {
    const std::string name = kind;
    registry->Register(name, [name](const ModelConfig& c) { return MakeBackbone(name, c); });
  }
}

}  // namespace msrec
