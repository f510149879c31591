#include "models/ssim.h"

#include <algorithm>
#include <cmath>

#include "models/backbone.h"
#include "models/multi_scenario.h"

namespace msrec {
namespace {

// sign forward, hardtanh(grad) backward.
class SteSignFunction : public torch::autograd::Function<SteSignFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* /*ctx*/, torch::Tensor x) {
    return torch::sign(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* /*ctx*/,
                                                 torch::autograd::variable_list grad) {
    return {torch::clamp(grad[0], -1.0, 1.0)};
  }
};

// The towers of an MT-Backbone when every row's logit depends on that row
// alone in the model's current mode (training: no batch norm, no dropout);
// empty otherwise.
std::vector<std::shared_ptr<Backbone>> RowWiseTowers(Model& model, int num_scenarios) {
  std::vector<std::shared_ptr<Backbone>> towers = model.ScenarioTowers();
  if (towers.size() != size_t(num_scenarios)) return {};
  if (model.is_training()) {
    for (const auto& tower : towers) {
      for (const auto& m : tower->modules()) {
        if (m->as<torch::nn::BatchNorm1d>() != nullptr || m->as<torch::nn::Dropout>() != nullptr)
          return {};
      }
    }
  }
  return towers;
}

ModelInput SelectRows(const ModelInput& input, const torch::Tensor& rows) {
  ModelInput out;
  out.embeddings = input.embeddings.index_select(0, rows);
  out.dense = input.dense.defined() ? input.dense.index_select(0, rows) : input.dense;
  out.scenario = input.scenario.index_select(0, rows);
  return out;
}

// Tower logits (B) with gradient on the rows where `need` (B bool) is set;
// the other rows hold their values without gradient (`all_values`) or 0.
torch::Tensor TowerColumn(Backbone& tower, const ModelInput& input, const torch::Tensor& need,
                          bool all_values) {
  const int64_t batch = need.size(0);
  const int64_t needed = need.sum().item<int64_t>();
  if (needed == batch) return tower.Forward(input).logits;
  torch::Tensor column;
  if (all_values) {
    torch::NoGradGuard no_grad;
    if (needed == 0) return tower.Forward(input).logits;
    torch::Tensor rest = torch::nonzero(need.logical_not()).squeeze(1);
    torch::Tensor part = tower.Forward(SelectRows(input, rest)).logits;
    column = torch::zeros({batch}, part.options()).index_copy_(0, rest, part);
  } else {
    column = torch::zeros({batch}, input.embeddings.options());
    if (needed == 0) return column;
  }
  torch::Tensor rows = torch::nonzero(need).squeeze(1);
  return column.index_copy(0, rows, tower.Forward(SelectRows(input, rows)).logits);
}

}  // namespace

ModelOutput SharedInstanceForward(Model& model, const ModelInput& input, const torch::Tensor& g,
                                  int num_scenarios, bool all_values) {
  const std::vector<std::shared_ptr<Backbone>> towers = RowWiseTowers(model, num_scenarios);
  if (towers.empty()) return model.ForwardAllScenarios(input, num_scenarios);
  const torch::Tensor shared = g.detach() > 0.5;
  std::vector<torch::Tensor> columns;
  for (int k = 0; k < num_scenarios; ++k) {
    columns.push_back(
        TowerColumn(*towers[k], input, shared.logical_or(input.scenario == k), all_values));
  }
  ModelOutput out;
  out.logits = torch::stack(columns, 1);
  return out;
}

SelectionNetwork::SelectionNetwork(int64_t num_fields, int64_t embedding_dim,
                                   const std::vector<int64_t>& hidden, int64_t num_scenarios)
    : num_scenarios_(num_scenarios),
      mlp_(register_module("mlp", Mlp(num_fields * embedding_dim, hidden, num_scenarios,
                                      /*batch_norm=*/false, /*dropout=*/0.0))) {}

torch::Tensor SelectionNetwork::AllHeads(const torch::Tensor& embeddings) {
  return mlp_->forward(embeddings.flatten(1));
}

ModelOutput SelectionNetwork::Forward(const ModelInput& input) {
  ModelOutput out;
  out.logits = AllHeads(input.embeddings).gather(1, input.scenario.unsqueeze(1)).squeeze(1);
  return out;
}

torch::Tensor StraightThroughSign(const torch::Tensor& x) { return SteSignFunction::apply(x); }

torch::Tensor SharingMask(const torch::Tensor& scores, double temperature, double eps) {
  return StraightThroughSign(torch::relu(torch::sigmoid(temperature * scores) - eps));
}

double TemperatureAt(int64_t step, int64_t steps_in_epoch, double t_final) {
  if (steps_in_epoch <= 1) return 1.0;
  const double last = double(steps_in_epoch - 1);
  const double s = std::min(std::max(double(step), 0.0), last);
  return std::pow(t_final, s / last);
}

torch::Tensor SsimLoss(const torch::Tensor& all_logits, const torch::Tensor& labels,
                       const torch::Tensor& scenario, const torch::Tensor& g) {
  torch::Tensor targets = labels.unsqueeze(1).expand_as(all_logits);
  torch::Tensor l =
      torch::binary_cross_entropy_with_logits(all_logits, targets, {}, {}, at::Reduction::None);
  torch::Tensor own = l.gather(1, scenario.unsqueeze(1)).squeeze(1);
  torch::Tensor shared = l.mean(1);
  // As the authors' code (SSIM3trainer.py: own loss x torch.eq(smask, 0)): the
  // own-path weight has the value 1 - g but no gradient, so the selector learns
  // from mean_k l_k (and the mask loss) only, not from mean_k l_k - l_own.
  return ((1 - g).detach() * own + g * shared).mean();
}

bool ParseMaskLossForm(const std::string& name, MaskLossForm* form) {
  if (name == "linear")
    *form = MaskLossForm::kLinear;
  else if (name == "log")
    *form = MaskLossForm::kLog;
  else if (name == "none")
    *form = MaskLossForm::kNone;
  else
    return false;
  return true;
}

const char* MaskLossFormName(MaskLossForm form) {
  switch (form) {
    case MaskLossForm::kLinear:
      return "linear";
    case MaskLossForm::kLog:
      return "log";
    case MaskLossForm::kNone:
      return "none";
  }
  return "?";
}

torch::Tensor MaskLoss(const torch::Tensor& g, MaskLossForm form) {
  switch (form) {
    case MaskLossForm::kLinear:
      return std::exp(1.0) * (1 - g).mean();
    case MaskLossForm::kLog:
      return -torch::log(torch::clamp_min(g, 1e-7)).mean();
    case MaskLossForm::kNone:
      break;
  }
  return torch::zeros({}, g.options());
}

int64_t SharedCount(int64_t batch, double k) {
  const long long n = std::llround(k * double(batch));
  return std::min<int64_t>(std::max<int64_t>(n, 0), batch);
}

torch::Tensor TopKShareMask(const torch::Tensor& scores, double k, const ScoreGather& gather) {
  torch::NoGradGuard no_grad;
  torch::Tensor local = scores.detach().to(torch::kFloat32).contiguous();
  int64_t offset = 0;
  torch::Tensor global = gather ? gather(local, &offset) : local;
  const int64_t total = global.size(0);
  TORCH_CHECK(offset >= 0 && offset + local.size(0) <= total, "gather: bad offset ", offset);
  // A stable descending sort keeps equal scores in index order.
  torch::Tensor order = std::get<1>(torch::sort(global, /*stable=*/true, /*dim=*/0,
                                                /*descending=*/true));
  torch::Tensor selected = torch::zeros({total}, torch::kFloat32);
  selected.index_fill_(0, order.narrow(0, 0, SharedCount(total, k)), 1.0f);
  return selected.narrow(0, offset, local.size(0)).clone();
}

}  // namespace msrec
