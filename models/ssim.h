// SSIM, scenario shared instance modelling (MODELS.md, "SSIM"; docs/ssim.md):
// the selection network, the straight-through sharing mask, the temperature
// schedule, the shared-instance loss and the top-K sharing rule. The search
// loop and the retrain-time sharing policies live in trainer/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// The selection network: an MLP over the flattened embeddings of all fields of
// instance i (dense features are not used) with one output head per scenario;
// Forward's logits are the scores m_i = head s_i (B). Registered modules:
// "mlp" (Linear/ReLU layers, then Linear -> K).
class SelectionNetwork : public Model {
 public:
  // `hidden`: hidden sizes (default {256, 128, 64}); no batch norm, no dropout.
  SelectionNetwork(int64_t num_fields, int64_t embedding_dim, const std::vector<int64_t>& hidden,
                   int64_t num_scenarios);
  // logits = m_i, the head of the instance's own scenario.
  ModelOutput Forward(const ModelInput& input) override;
  // Every head for every instance: B x K.
  torch::Tensor AllHeads(const torch::Tensor& embeddings);
  std::string name() const override { return "ssim_selector"; }

 private:
  int64_t num_scenarios_;
  Mlp mlp_;
};

// Forward: sign(x) (x >= 0 here, so 0 or 1; sign(0) = 0). Backward: the
// incoming gradient clipped to [-1, 1] (hardtanh), the straight-through
// estimator of the authors' code.
torch::Tensor StraightThroughSign(const torch::Tensor& x);

// g = StraightThroughSign(relu(sigmoid(t * scores) - eps)): 1 where
// sigmoid(t * m) > eps, else 0; differentiable in `scores` through the STE.
torch::Tensor SharingMask(const torch::Tensor& scores, double temperature, double eps);

// The annealed temperature of 0-based batch `step` of an epoch of
// `steps_in_epoch` batches: t_final^(step / (steps_in_epoch - 1)); 1 at the
// first step, t_final at the last (and after it: step is clamped). With one
// step per epoch (or fewer) it is 1.
double TemperatureAt(int64_t step, int64_t steps_in_epoch, double t_final);

// Per-instance shared-instance loss averaged over the batch:
//   mean_i [(1 - g_i) * l(all_logits[i, s_i]) + g_i * mean_k l(all_logits[i, k])]
// with l the binary cross-entropy with logits. all_logits: B x K; labels: B
// float; scenario: B int64 in [0, K); g: B float (0/1, may carry gradient).
// The weight (1 - g_i) is detached (the authors' torch.eq(smask, 0)): the
// gradient to g_i is mean_k l(all_logits[i, k]) / B.
torch::Tensor SsimLoss(const torch::Tensor& all_logits, const torch::Tensor& labels,
                       const torch::Tensor& scenario, const torch::Tensor& g);

// The B x K path logits that SsimLoss(logits, labels, input.scenario, g)
// needs from `model`, with the model's auxiliary losses. Entries (i, k) with
// g_i = 0 and k != s_i have SsimLoss weight 0 and may come without gradient:
// with `all_values` they hold their true values (the search needs them: the
// selector's gradient through g_i is mean_k l(i, k) - l(i, s_i)), otherwise
// they may be 0. g: B, 0/1 (its values are read; any gradient it carries is
// not followed here).
// MT-Backbone whose towers are row-wise in training (no batch norm, no
// dropout) runs tower k with gradient only on the rows with g_i = 1 or
// s_i = k and, with `all_values`, once more without gradient on the rest, so
// an unshared instance costs its own tower's backward only; loss and
// gradients equal ForwardAllScenarios's up to floating-point summation order.
// Other models run ForwardAllScenarios(input, num_scenarios) (every entry
// with gradient).
ModelOutput SharedInstanceForward(Model& model, const ModelInput& input, const torch::Tensor& g,
                                  int num_scenarios, bool all_values);

// The mask loss that pushes towards sharing.
enum class MaskLossForm {
  kLinear,  // "linear": e * mean(1 - g) (the authors' KL(1 || g); e = Euler's number)
  kLog,     // "log": mean(-log(max(g, 1e-7))) (the authors' other implementation)
  kNone,    // "none": 0 (the SSIM-NK ablation)
};
bool ParseMaskLossForm(const std::string& name, MaskLossForm* form);
const char* MaskLossFormName(MaskLossForm form);
// Unweighted mask loss of `g` (a scalar; 0 for kNone).
torch::Tensor MaskLoss(const torch::Tensor& g, MaskLossForm form);

// Gathers the scores of the global mini-batch: given this worker's scores
// (B), returns every worker's scores concatenated (G >= B) and sets
// `*offset` to the position of this worker's first row in them. Data-parallel
// trainers plug an all-gather in here; one process uses none (identity).
using ScoreGather = std::function<torch::Tensor(const torch::Tensor& local, int64_t* offset)>;

// Number of shared instances of a global mini-batch of `batch` rows:
// round(k * batch), rounding halves away from zero, clamped to [0, batch].
int64_t SharedCount(int64_t batch, double k);

// The top-K sharing rule of retraining: over the global mini-batch (see
// ScoreGather; null = this batch only) the SharedCount(G, k) highest scores
// are shared; ties go to the lower global index. Returns this worker's rows
// of the mask: B float, 1 = shared. No gradient.
torch::Tensor TopKShareMask(const torch::Tensor& scores, double k,
                            const ScoreGather& gather = nullptr);

}  // namespace msrec
