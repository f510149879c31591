// MI-DPG: decomposable parameter generation with mutual information
// (MODELS.md, "MI-DPG"; docs/midpg.md). The paper published an abstract only;
// this is msrec's reconstruction and every choice of ours is an option below.
//
// Every linear layer l of the backbone's MLP (y = x W_l + b_l, W_l: din x dout)
// becomes y = x (W_l (*) Omega_l(i)) + b_l with the instance-wise weighting
//   Omega_l(i) = 1 + P C_l(z_i) Q^T,  P = P_l + P_l,s_i,  Q = Q_l + Q_l,s_i,
// where C_l(z_i) (r x r) comes from an auxiliary network over the scenario-aware
// input z_i, and P_l, Q_l are shared and P_lk, Q_lk scenario-specific low-rank
// factors. Omega is never materialised (unless asked, for tests/benchmarks).
#pragma once

#include <string>
#include <vector>

#include "models/backbone.h"
#include "models/layers.h"
#include "models/model.h"

namespace msrec {

// How the modulated layers evaluate x (W (*) Omega):
//   kInput:  sum_a ((x (*) P[:,a]) W) (*) (C Q^T)[a,:] with one GEMM of the
//            stacked (B*r) x din inputs x (*) P[:,a] by W;
//   kWeight: the same sum with P folded into the weights: rows sorted by
//            scenario, each scenario's rows times [W; diag(P_k[:,a]) W]_a in one
//            GEMM, so no B x r x din tensor exists (cheaper while the present
//            scenarios' folded weights, S x (r+1) x din x dout, are smaller
//            than the batch's B x r x din);
//   kOutput: Q folded into the weights instead, by
//            x (W (*) P C Q^T) = sum_b (x (*) (P C)[:,b]) (W diag(Q[:,b])):
//            rows sorted by scenario, each scenario's B_k x (r*din) inputs
//            x (*) (P C)[:,b] times its (r*din) x dout folded weights in one
//            GEMM whose inner dimension does the sum, so the per-instance work
//            outside GEMMs is B x r x din (the other paths: B x r x dout);
//   kScenario: when the cores depend on the scenario only (z_pool=none) and
//            rows are sorted by scenario: each present scenario's modulated
//            weights W (*) (1 + P_k C_k Q_k^T) are built once per batch and its
//            rows multiplied by them in one GEMM, so the layer costs about the
//            plain one per instance;
//   kAuto:   kScenario where it applies; else per layer, kOutput when rows are
//            sorted and r * din <= (r+1) * dout (less per-instance elementwise
//            work), else kWeight when (present scenarios) * dout <= B, else kInput;
//   kMaterialized: builds every instance's din x dout Omega (a reference for
//            tests and benchmarks, far slower).
enum class ModulationPath { kAuto, kInput, kWeight, kOutput, kScenario, kMaterialized };
enum class ZPool { kMean, kConcat, kNone };

// MI-DPG's options, read from ModelConfig::extra (--model_opts "key=value;...").
struct MidpgOptions {
  // Backbone whose MLP is modulated: "dnn", "deepfm" or "dcn" ("backbone").
  std::string backbone = "dnn";
  // Width of the learned scenario embedding in z_i ("dz"; 0 = none).
  int64_t dz = 16;
  // Fields whose embeddings are averaged into z_i ("z_fields", comma-separated
  // indices in [0, F)); empty = all fields.
  std::vector<int64_t> z_fields;
  // How those embeddings enter z_i ("z_pool"): averaged ("mean", d dims), side
  // by side ("concat", one d-wide block per field) or not at all ("none": z_i is
  // the scenario embedding alone, so the cores are per scenario, not per instance).
  ZPool z_pool = ZPool::kMean;
  // Width of z_i: dz plus the pooled embeddings.
  int64_t ZDim(int64_t num_fields, int64_t embedding_dim) const {
    const int64_t fields = z_fields.empty() ? num_fields : int64_t(z_fields.size());
    switch (z_pool) {
      case ZPool::kNone:
        return dz;
      case ZPool::kConcat:
        return dz + fields * embedding_dim;
      case ZPool::kMean:
        break;
    }
    return dz + embedding_dim;
  }
  // Hidden sizes of the auxiliary network MLP(z) ("aux_hidden"; empty = the
  // heads read z directly).
  std::vector<int64_t> aux_hidden = {64};
  // r: rank of the factors and size of each core C_l ("rank").
  int64_t rank = 4;
  // Std of the normal init of the core heads' weights ("core_init"). The heads'
  // bias is always zero, so 0 (default) makes C = 0 and Omega = 1 exactly at
  // init: the model starts as the plain backbone.
  double core_init = 0.0;
  // C = core_scale * head(h) ("core_scale", 1). Under Adam a parameter moves by
  // about the learning rate per step whatever its gradient's scale, so this
  // multiplies the speed at which the generated cores can move.
  double core_scale = 1.0;
  // Std of P + P_k and Q + Q_k at init ("factor_std"; default 1/sqrt(rank), so
  // that P C Q^T has entries of the order of C's). When both shared and specific
  // factors exist each gets std factor_std/sqrt(2).
  double factor_std = 0.5;
  // The first of the r factor vectors of P + P_k and of Q + Q_k starts as the
  // constant factor_std instead of random ("unit_factor", 0). Then C's first
  // row and column scale W's rows (input units) and columns (output units),
  // the gates PEPNet learns, from the first step; random factors have to learn
  // a constant direction first.
  bool unit_factor = false;
  // Whether the final hidden -> 1 layer is modulated too ("modulate_output", 1).
  bool modulate_output = true;
  // A learned per-scenario bias added to every modulated layer's output
  // ("scenario_bias", 1): K x dout per layer, zero at init.
  bool scenario_bias = true;
  // A gate on the input embeddings generated from z ("input_gate", 0): the
  // embeddings are scaled elementwise by 2 sigmoid(G z_i) (G zero at init, so
  // the gate starts at 1), modulating the input of the whole backbone.
  bool input_gate = false;
  // A learned per-scenario linear term over the backbone's input added to the
  // logit ("scenario_linear", 0): K x din, zero at init (a scenario-specific
  // wide part beside the modulated deep part).
  bool scenario_linear = false;
  // A learned per-scenario linear read-out of the MLP's last hidden layer added
  // to the logit ("scenario_head", 0): K x (last hidden size), zero at init
  // (MT-Backbone's per-scenario output layer, beside the modulated shared one).
  bool scenario_head = false;
  // Shared factors P_l, Q_l ("no_shared=1" removes them).
  bool shared = true;
  // Scenario-specific factors P_lk, Q_lk ("no_specific=1" removes them).
  bool specific = true;
  // How x (W (*) Omega) is evaluated (see ModulationPath): "path" = auto
  // (default), input, weight, output or scenario (z_pool=none only);
  // "materialize=1" selects kMaterialized (same
  // values, far slower: tests and benchmarks only).
  ModulationPath path = ModulationPath::kAuto;
  // MI term: "cls" (default: a scenario-classification bound on I(s; C)),
  // "infonce" (a bound on I(z; C)) or "none". Defaults chosen on validation
  // data (docs/midpg.md, "Defaults").
  std::string mi = "cls";
  // Weight of the MI term in the loss ("beta").
  double beta = 0.1;
  // Width of the InfoNCE projections phi, psi: Linear-ReLU-Linear ("mi_proj").
  int64_t mi_proj = 32;
  // InfoNCE temperature ("tau").
  double tau = 0.1;
  // InfoNCE uses a random subset of at most this many instances of the batch
  // (positives and in-batch negatives); 0 = the whole batch ("mi_batch"). Its
  // cost is quadratic in this number.
  int64_t mi_batch = 256;
  // InfoNCE averaged over both directions z->C and C->z ("mi_symmetric", 0).
  bool mi_symmetric = false;
  // Stops the MI term's gradient into z, i.e. into the embeddings and the
  // scenario embedding ("mi_detach_z", 0).
  bool mi_detach_z = false;

  // Reads the options; throws std::invalid_argument on a bad value.
  static MidpgOptions FromConfig(const ModelConfig& config);
};

// InfoNCE with in-batch negatives: the mean over i of
//   -log( exp(cos(a_i, b_i)/tau) / sum_j exp(cos(a_i, b_j)/tau) ),
// averaged with the b->a direction when `symmetric`. a, b: B x D, B >= 1.
torch::Tensor InfoNce(const torch::Tensor& a, const torch::Tensor& b, double tau, bool symmetric);

// A batch's layout for the modulated layers, built once per batch.
struct FactorRouting {
  torch::Tensor scenario;  // B int64
  // B x (K if specific factors, + 1 if shared): one-hot of the scenario, then a
  // column of ones. Selects and sums each instance's factor blocks by GEMM.
  torch::Tensor selector;
  // When the rows are sorted by scenario: the row count of every scenario
  // (specific factors), or {B} (shared factors only). Empty: rows unsorted,
  // kWeight unavailable.
  std::vector<int64_t> segment_sizes;
};

// The modulation of one linear layer din -> dout of a backbone's MLP: it turns
// y = x W + b into y = x (W (*) Omega) + b, Omega = 1 + P C Q^T. It holds the
// factors; the Linear itself stays owned (and registered) by the backbone.
// Factors are stored transposed (r x din, r x dout).
class LinearModulationImpl : public torch::nn::Module {
 public:
  LinearModulationImpl(torch::nn::Linear linear, int64_t rank, int64_t num_scenarios, bool shared,
                       bool specific, double factor_std, bool unit_factor);
  // Builds the routing of `scenario` for these factor settings; `sorted`: the
  // rows are sorted by scenario (fills segment_sizes).
  static FactorRouting Route(const torch::Tensor& scenario, int64_t num_scenarios, bool shared,
                             bool specific, bool sorted, const torch::TensorOptions& options);
  // x: B x din, core: B x r x r (C of each instance). Returns B x dout. No path
  // materialises a per-instance matrix except kMaterialized; C Q^T is one GEMM of
  // C spread over the selector's blocks by the stacked Q blocks.
  // `scenario_core` (K x r x r, optional): the cores of the K scenarios when they
  // depend on the scenario only, which enables kScenario.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& core,
                        const FactorRouting& routing, ModulationPath path,
                        const torch::Tensor& scenario_core = torch::Tensor());
  // Forward flops per instance of the kInput path (the plain layer included), or
  // of kScenario (`per_scenario`: the plain layer's; its per-batch weights not
  // counted).
  int64_t Flops(bool per_scenario = false) const;

 private:
  // The factors of one forward pass; specific ones stacked (K x r x n).
  struct Factors {
    torch::Tensor p_shared, q_shared, p_specific, q_specific;
  };
  Factors Stacked() const;
  // The factor blocks stacked: (K specific, then shared) x r x n.
  torch::Tensor Blocks(const torch::Tensor& specific, const torch::Tensor& shared) const;
  // (C Q^T) of every instance: B x r x dout.
  torch::Tensor CoreTimesQ(const torch::Tensor& core, const FactorRouting& routing,
                           const Factors& f) const;
  torch::Tensor InputPath(const torch::Tensor& x, const torch::Tensor& cq,
                          const FactorRouting& routing, const Factors& f);
  torch::Tensor WeightPath(const torch::Tensor& x, const torch::Tensor& cq,
                           const FactorRouting& routing, const Factors& f);
  torch::Tensor OutputPath(const torch::Tensor& x, const torch::Tensor& core,
                           const FactorRouting& routing, const Factors& f);
  torch::Tensor ScenarioPath(const torch::Tensor& x, const torch::Tensor& scenario_core,
                             const FactorRouting& routing, const Factors& f);
  // Each scenario's P^T or Q^T (r x n): specific + shared, or the shared one.
  std::vector<torch::Tensor> SegmentFactors(const std::vector<torch::Tensor>& specific,
                                            const torch::Tensor& shared) const;
  torch::Tensor Materialized(const torch::Tensor& x, const torch::Tensor& core,
                             const torch::Tensor& scenario, const Factors& f);

  torch::nn::Linear linear_;  // not registered here: a parameter of the backbone
  int64_t in_dim_, out_dim_, rank_, num_blocks_;
  torch::Tensor p_shared_, q_shared_;  // r x din, r x dout (undefined if no_shared)
  // Scenario k's r x din, r x dout, registered as "specific<k>.p", "specific<k>.q"
  // (empty if no_specific).
  std::vector<torch::Tensor> p_specific_, q_specific_;
};
TORCH_MODULE(LinearModulation);

// MI-DPG around a backbone (DNN, DeepFM, DCN): the backbone's MLP
// (Linear -> [BatchNorm] -> ReLU -> [Dropout] ..., Linear -> 1) runs with every
// Linear modulated, and the backbone's non-MLP logit is added unchanged. The
// backbone is a submodule ("backbone"): its weights are MI-DPG's W_l, b_l.
// The MI term is computed in training mode only (eval returns no aux losses).
class MidpgModel : public Model {
 public:
  explicit MidpgModel(const ModelConfig& config);
  ModelOutput Forward(const ModelInput& input) override;
  std::string name() const override { return "midpg"; }
  // Inference flops: backbone with modulated MLP, auxiliary network and heads,
  // z (not the MI projections, which run in training only).
  int64_t FlopsPerInstance() const override;

  const MidpgOptions& options() const { return options_; }
  // Switches the evaluation path (all give the same values).
  void set_path(ModulationPath path) { options_.path = path; }
  // The wrapped backbone; its own Forward is the unmodulated model.
  Backbone& backbone() { return *backbone_; }

  // z_i: B x ZDim (dz + d with the default z_pool=mean).
  torch::Tensor ScenarioInput(const ModelInput& input);
  // C_l(z_i) for every modulated layer: each B x r x r.
  std::vector<torch::Tensor> Cores(const torch::Tensor& z);

 private:
  // The backbone's MLP over `flat` with modulated Linears. B x 1.
  // `scenario_cores`: per layer K x r x r, or empty (cores per instance).
  torch::Tensor ModulatedMlp(const torch::Tensor& flat, const std::vector<torch::Tensor>& cores,
                             const std::vector<torch::Tensor>& scenario_cores,
                             const FactorRouting& routing);
  // beta-free MI term for z (B x (dz+d)) and the cores; `scenario` for mi=cls.
  torch::Tensor MiLoss(const torch::Tensor& z, const std::vector<torch::Tensor>& cores,
                       const torch::Tensor& scenario);

  ModelConfig config_;
  MidpgOptions options_;
  std::shared_ptr<Backbone> backbone_;
  torch::nn::Sequential mlp_layers_{nullptr};  // the backbone's MLP, walked layer by layer
  torch::Tensor z_fields_;                     // int64 field indices; undefined = all fields
  torch::nn::Embedding scenario_embedding_{nullptr};
  Mlp aux_{nullptr};
  std::vector<torch::nn::Linear> heads_;       // one per modulated Linear
  std::vector<LinearModulation> modulations_;  // input to output
  std::vector<torch::nn::Embedding> biases_;   // scenario_bias: one K x dout per modulation
  torch::nn::Linear gate_{nullptr};            // input_gate: z -> F*d
  torch::nn::Embedding linear_{nullptr};       // scenario_linear: K x din
  torch::nn::Embedding head_{nullptr};         // scenario_head: K x (last hidden size)
  Mlp phi_{nullptr}, psi_{nullptr};            // mi=infonce
  torch::nn::Linear classifier_{nullptr};      // mi=cls
  int64_t plain_output_flops_ = 0;             // the output Linear when !modulate_output
};

}  // namespace msrec
