// MI-DPG (see midpg.h and docs/midpg.md).
#include "models/midpg.h"

#include <cmath>
#include <stdexcept>

#include "models/internal/registry_parts.h"

namespace msrec {

namespace F = torch::nn::functional;

MidpgOptions MidpgOptions::FromConfig(const ModelConfig& config) {
  MidpgOptions o;
  o.backbone = config.ExtraString("backbone", o.backbone);
  o.dz = config.ExtraInt("dz", o.dz);
  o.z_fields = config.ExtraInts("z_fields", o.z_fields);
  const std::string z_pool = config.ExtraString("z_pool", "mean");
  if (z_pool == "mean") {
    o.z_pool = ZPool::kMean;
  } else if (z_pool == "concat") {
    o.z_pool = ZPool::kConcat;
  } else if (z_pool == "none") {
    o.z_pool = ZPool::kNone;
  } else {
    throw std::invalid_argument("midpg: z_pool must be mean, concat or none, not '" + z_pool +
                                "'");
  }
  o.aux_hidden = config.ExtraInts("aux_hidden", o.aux_hidden);
  o.rank = config.ExtraInt("rank", o.rank);
  o.core_init = config.ExtraDouble("core_init", o.core_init);
  o.core_scale = config.ExtraDouble("core_scale", o.core_scale);
  o.factor_std =
      config.ExtraDouble("factor_std", 1.0 / std::sqrt(double(std::max<int64_t>(o.rank, 1))));
  o.unit_factor = config.ExtraInt("unit_factor", o.unit_factor ? 1 : 0) != 0;
  o.modulate_output = config.ExtraInt("modulate_output", 1) != 0;
  o.scenario_bias = config.ExtraInt("scenario_bias", o.scenario_bias ? 1 : 0) != 0;
  o.input_gate = config.ExtraInt("input_gate", o.input_gate ? 1 : 0) != 0;
  o.scenario_linear = config.ExtraInt("scenario_linear", o.scenario_linear ? 1 : 0) != 0;
  o.scenario_head = config.ExtraInt("scenario_head", o.scenario_head ? 1 : 0) != 0;
  o.shared = config.ExtraInt("no_shared", 0) == 0;
  o.specific = config.ExtraInt("no_specific", 0) == 0;
  const std::string path = config.ExtraString("path", "auto");
  if (path == "auto") {
    o.path = ModulationPath::kAuto;
  } else if (path == "input") {
    o.path = ModulationPath::kInput;
  } else if (path == "weight") {
    o.path = ModulationPath::kWeight;
  } else if (path == "output") {
    o.path = ModulationPath::kOutput;
  } else if (path == "scenario") {
    o.path = ModulationPath::kScenario;
  } else {
    throw std::invalid_argument(
        "midpg: path must be auto, input, weight, output or scenario, not '" + path + "'");
  }
  if (config.ExtraInt("materialize", 0) != 0) o.path = ModulationPath::kMaterialized;
  o.mi = config.ExtraString("mi", o.mi);
  o.beta = config.ExtraDouble("beta", o.beta);
  o.mi_proj = config.ExtraInt("mi_proj", o.mi_proj);
  o.tau = config.ExtraDouble("tau", o.tau);
  o.mi_batch = config.ExtraInt("mi_batch", o.mi_batch);
  o.mi_symmetric = config.ExtraInt("mi_symmetric", 0) != 0;
  o.mi_detach_z = config.ExtraInt("mi_detach_z", 0) != 0;

  auto fail = [](const std::string& what) { throw std::invalid_argument("midpg: " + what); };
  if (o.dz < 0) fail("dz must be >= 0");
  if (o.z_pool == ZPool::kNone && o.dz == 0) fail("z_pool=none needs dz > 0: z would be empty");
  if (o.path == ModulationPath::kScenario && (o.z_pool != ZPool::kNone || !o.specific)) {
    fail("path=scenario needs z_pool=none and scenario-specific factors");
  }
  if (o.rank < 1) fail("rank must be >= 1");
  if (!o.shared && !o.specific) fail("no_shared=1 and no_specific=1 leave no factors");
  if (o.core_init < 0 || o.factor_std < 0) fail("core_init and factor_std must be >= 0");
  if (!(o.core_scale > 0)) fail("core_scale must be > 0");
  if (o.mi != "infonce" && o.mi != "cls" && o.mi != "none") {
    fail("mi must be infonce, cls or none, not '" + o.mi + "'");
  }
  if (o.tau <= 0) fail("tau must be > 0");
  if (o.mi_proj < 1) fail("mi_proj must be >= 1");
  if (o.mi_batch < 0 || o.mi_batch == 1) fail("mi_batch must be 0 (whole batch) or >= 2");
  for (int64_t f : o.z_fields) {
    if (f < 0 || f >= config.num_fields) {
      fail("z_fields: field " + std::to_string(f) + " is not in [0, " +
           std::to_string(config.num_fields) + ")");
    }
  }
  return o;
}

torch::Tensor InfoNce(const torch::Tensor& a, const torch::Tensor& b, double tau, bool symmetric) {
  const auto normalize = F::NormalizeFuncOptions().dim(1).eps(1e-8);
  torch::Tensor sim = F::normalize(a, normalize).mm(F::normalize(b, normalize).t()) / tau;
  torch::Tensor target = torch::arange(a.size(0), a.options().dtype(torch::kLong));
  torch::Tensor loss = F::cross_entropy(sim, target);
  if (symmetric) loss = 0.5 * (loss + F::cross_entropy(sim.t(), target));
  return loss;
}

// ---------------------------------------------------------------- LinearModulation

LinearModulationImpl::LinearModulationImpl(torch::nn::Linear linear, int64_t rank,
                                           int64_t num_scenarios, bool shared, bool specific,
                                           double factor_std, bool unit_factor)
    : linear_(std::move(linear)),
      in_dim_(linear_->weight.size(1)),
      out_dim_(linear_->weight.size(0)),
      rank_(rank),
      num_blocks_((specific ? num_scenarios : 0) + (shared ? 1 : 0)) {
  const auto like = linear_->weight.options();
  // P + P_k has std factor_std whichever factors exist.
  const double std = factor_std / std::sqrt(double(int(shared) + int(specific)));
  if (shared) {
    p_shared_ = register_parameter("p_shared", torch::randn({rank, in_dim_}, like) * std);
    q_shared_ = register_parameter("q_shared", torch::randn({rank, out_dim_}, like) * std);
  }
  // Scenario k's factors live in submodule "specific<k>" (p: r x din, q: r x dout),
  // the naming msrec uses for per-scenario parameters.
  for (int64_t k = 0; specific && k < num_scenarios; ++k) {
    auto part =
        register_module("specific" + std::to_string(k), std::make_shared<torch::nn::Module>());
    p_specific_.push_back(part->register_parameter("p", torch::randn({rank, in_dim_}, like) * std));
    q_specific_.push_back(
        part->register_parameter("q", torch::randn({rank, out_dim_}, like) * std));
  }
  if (unit_factor) {
    // Row 0 of P + P_k and Q + Q_k: the constant factor_std, held by the shared
    // factors (the specific ones start at 0 there), or by the specific ones alone.
    torch::NoGradGuard no_grad;
    auto set_row0 = [&](const torch::Tensor& shared_part, const std::vector<torch::Tensor>& parts) {
      if (shared_part.defined()) {
        shared_part[0].fill_(factor_std);
        for (const auto& t : parts) t[0].zero_();
      } else {
        for (const auto& t : parts) t[0].fill_(factor_std);
      }
    };
    set_row0(p_shared_, p_specific_);
    set_row0(q_shared_, q_specific_);
  }
}

LinearModulationImpl::Factors LinearModulationImpl::Stacked() const {
  Factors f{p_shared_, q_shared_, {}, {}};
  if (!p_specific_.empty()) {
    f.p_specific = torch::stack(p_specific_);
    f.q_specific = torch::stack(q_specific_);
  }
  return f;
}

FactorRouting LinearModulationImpl::Route(const torch::Tensor& scenario, int64_t num_scenarios,
                                          bool shared, bool specific, bool sorted,
                                          const torch::TensorOptions& options) {
  FactorRouting routing;
  routing.scenario = scenario;
  std::vector<torch::Tensor> columns;
  if (specific) columns.push_back(F::one_hot(scenario, num_scenarios).to(options));
  if (shared) columns.push_back(torch::ones({scenario.size(0), 1}, options));
  routing.selector = torch::cat(columns, 1);
  if (!specific) {
    routing.segment_sizes = {scenario.size(0)};
  } else if (sorted) {
    torch::Tensor counts = torch::bincount(scenario.cpu(), {}, num_scenarios);
    routing.segment_sizes.assign(counts.data_ptr<int64_t>(),
                                 counts.data_ptr<int64_t>() + num_scenarios);
  }
  return routing;
}

torch::Tensor LinearModulationImpl::Blocks(const torch::Tensor& specific,
                                           const torch::Tensor& shared) const {
  if (!specific.defined()) return shared.unsqueeze(0);
  if (!shared.defined()) return specific;
  return torch::cat({specific, shared.unsqueeze(0)}, 0);
}

torch::Tensor LinearModulationImpl::forward(const torch::Tensor& x, const torch::Tensor& core,
                                            const FactorRouting& routing, ModulationPath path,
                                            const torch::Tensor& scenario_core) {
  const Factors f = Stacked();
  if (path == ModulationPath::kMaterialized) return Materialized(x, core, routing.scenario, f);
  const bool per_scenario = scenario_core.defined() && !p_specific_.empty() &&
                            routing.segment_sizes.size() == p_specific_.size();
  TORCH_CHECK(path != ModulationPath::kScenario || per_scenario,
              "the scenario path needs per-scenario cores and rows sorted by scenario");
  if (path == ModulationPath::kAuto && per_scenario) path = ModulationPath::kScenario;
  if (path == ModulationPath::kScenario) return ScenarioPath(x, scenario_core, routing, f);
  const bool sorted = !routing.segment_sizes.empty();
  if (path == ModulationPath::kAuto) {
    int64_t present = 0;
    for (int64_t n : routing.segment_sizes) present += n > 0;
    if (sorted && rank_ * in_dim_ <= (rank_ + 1) * out_dim_) {
      path = ModulationPath::kOutput;
    } else {
      const bool weight = sorted && present * out_dim_ <= x.size(0);
      path = weight ? ModulationPath::kWeight : ModulationPath::kInput;
    }
  }
  if (path == ModulationPath::kOutput) return OutputPath(x, core, routing, f);
  torch::Tensor cq = CoreTimesQ(core, routing, f);
  return path == ModulationPath::kWeight ? WeightPath(x, cq, routing, f)
                                         : InputPath(x, cq, routing, f);
}

torch::Tensor LinearModulationImpl::CoreTimesQ(const torch::Tensor& core,
                                               const FactorRouting& routing,
                                               const Factors& f) const {
  // C Q^T = sum_blocks selector[b, block] C_b Q_block^T: spread C over the blocks
  // ((B*r) x (m*r)) and multiply by the stacked Q^T blocks ((m*r) x dout).
  const int64_t batch = core.size(0), m = num_blocks_;
  torch::Tensor spread = (core.unsqueeze(2) * routing.selector.view({batch, 1, m, 1}))
                             .view({batch * rank_, m * rank_});
  return spread.mm(Blocks(f.q_specific, f.q_shared).view({m * rank_, out_dim_}))
      .view({batch, rank_, out_dim_});
}

torch::Tensor LinearModulationImpl::InputPath(const torch::Tensor& x, const torch::Tensor& cq,
                                              const FactorRouting& routing, const Factors& f) {
  const int64_t batch = x.size(0), m = num_blocks_;
  // Per-instance P^T: selector (B x m) times the blocks (m x r*din).
  torch::Tensor pt =
      routing.selector.mm(Blocks(f.p_specific, f.p_shared).view({m, rank_ * in_dim_}));
  // Row (b, a) of xp is x_b (*) P_b[:, a]; one GEMM with W gives every (x (*) P[:,a]) W.
  torch::Tensor xp = x.unsqueeze(1) * pt.view({batch, rank_, in_dim_});
  torch::Tensor g = F::linear(xp.view({batch * rank_, in_dim_}), linear_->weight);
  return linear_->forward(x) + (g.view({batch, rank_, out_dim_}) * cq).sum(1);
}

std::vector<torch::Tensor> LinearModulationImpl::SegmentFactors(
    const std::vector<torch::Tensor>& specific, const torch::Tensor& shared) const {
  if (specific.empty()) return {shared};
  std::vector<torch::Tensor> factors = specific;
  if (shared.defined()) {
    for (auto& factor : factors) factor = factor + shared;
  }
  return factors;
}

torch::Tensor LinearModulationImpl::WeightPath(const torch::Tensor& x, const torch::Tensor& cq,
                                               const FactorRouting& routing, const Factors& f) {
  TORCH_CHECK(!routing.segment_sizes.empty(), "the weight path needs rows sorted by scenario");
  const torch::Tensor& w = linear_->weight;  // dout x din
  const std::vector<torch::Tensor> factors = SegmentFactors(p_specific_, f.p_shared);  // r x din
  // split, not narrow: split's backward is one concatenation, while each
  // narrow's backward fills a batch-sized tensor of zeros.
  const std::vector<torch::Tensor> xs = x.split_with_sizes(routing.segment_sizes);
  const std::vector<torch::Tensor> cqs = cq.split_with_sizes(routing.segment_sizes);
  std::vector<torch::Tensor> parts;
  for (size_t k = 0; k < xs.size(); ++k) {
    const int64_t rows = xs[k].size(0);
    if (rows == 0) continue;
    // [diag(P[:,1]) W; ...; diag(P[:,r]) W] in Linear's layout: (r*dout) x din.
    torch::Tensor folded = (factors[k].unsqueeze(1) * w.unsqueeze(0)).view({-1, in_dim_});
    torch::Tensor g = F::linear(xs[k], folded).view({rows, rank_, out_dim_});
    // Summed per segment, so only B x dout results are concatenated.
    parts.push_back((g * cqs[k]).sum(1));
  }
  return linear_->forward(x) + (parts.size() == 1 ? parts[0] : torch::cat(parts, 0));
}

torch::Tensor LinearModulationImpl::OutputPath(const torch::Tensor& x, const torch::Tensor& core,
                                               const FactorRouting& routing, const Factors& f) {
  TORCH_CHECK(!routing.segment_sizes.empty(), "the output path needs rows sorted by scenario");
  const std::vector<torch::Tensor> p = SegmentFactors(p_specific_, f.p_shared);  // r x din
  const std::vector<torch::Tensor> q = SegmentFactors(q_specific_, f.q_shared);  // r x dout
  const torch::Tensor wt = linear_->weight.t();                                  // din x dout
  const std::vector<torch::Tensor> xs = x.split_with_sizes(routing.segment_sizes);
  const std::vector<torch::Tensor> cores = core.split_with_sizes(routing.segment_sizes);
  std::vector<torch::Tensor> parts;
  for (size_t k = 0; k < xs.size(); ++k) {
    const int64_t rows = xs[k].size(0);
    if (rows == 0) continue;
    // Block b of an instance's input is x (*) (P C)[:,b], (P C)[:,b] = sum_a C[a,b] P[:,a].
    // One 2-D GEMM of the (rows*r) x r stacked C^T: a batched matmul of r x r
    // matrices would loop over the instances in its backward.
    torch::Tensor pc = cores[k].transpose(1, 2).reshape({rows * rank_, rank_}).mm(p[k]);
    torch::Tensor u =
        (xs[k].unsqueeze(1) * pc.view({rows, rank_, in_dim_})).view({rows, rank_ * in_dim_});
    // Block b of the weights is W diag(Q[:,b]): (r*din) x dout.
    torch::Tensor folded =
        (wt.unsqueeze(0) * q[k].unsqueeze(1)).reshape({rank_ * in_dim_, out_dim_});
    parts.push_back(u.mm(folded));
  }
  return linear_->forward(x) + (parts.size() == 1 ? parts[0] : torch::cat(parts, 0));
}

torch::Tensor LinearModulationImpl::ScenarioPath(const torch::Tensor& x,
                                                 const torch::Tensor& scenario_core,
                                                 const FactorRouting& routing, const Factors& f) {
  const std::vector<torch::Tensor> p = SegmentFactors(p_specific_, f.p_shared);  // r x din
  const std::vector<torch::Tensor> q = SegmentFactors(q_specific_, f.q_shared);  // r x dout
  const std::vector<torch::Tensor> xs = x.split_with_sizes(routing.segment_sizes);
  std::vector<torch::Tensor> parts;
  for (size_t k = 0; k < xs.size(); ++k) {
    if (xs[k].size(0) == 0) continue;
    // Omega_k - 1 = P_k C_k Q_k^T, in Linear's layout (dout x din): Q_k^T C_k^T P_k.
    torch::Tensor m = q[k].t().mm(scenario_core[k].t()).mm(p[k]);
    parts.push_back(F::linear(xs[k], linear_->weight * (1 + m), linear_->bias));
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

torch::Tensor LinearModulationImpl::Materialized(const torch::Tensor& x, const torch::Tensor& core,
                                                 const torch::Tensor& scenario, const Factors& f) {
  auto gather = [&](const torch::Tensor& shared, const torch::Tensor& specific) {
    if (!specific.defined()) return shared.t().unsqueeze(0);               // 1 x n x r
    torch::Tensor f = specific.index_select(0, scenario).transpose(1, 2);  // B x n x r
    return shared.defined() ? f + shared.t() : f;
  };
  torch::Tensor p = gather(f.p_shared, f.p_specific);  // B x din x r
  torch::Tensor q = gather(f.q_shared, f.q_specific);  // B x dout x r
  torch::Tensor omega = 1 + torch::matmul(torch::matmul(p, core), q.transpose(1, 2));
  torch::Tensor w = linear_->weight.t().unsqueeze(0) * omega;  // B x din x dout
  return torch::matmul(x.unsqueeze(1), w).squeeze(1) + linear_->bias;
}

int64_t LinearModulationImpl::Flops(bool per_scenario) const {
  if (per_scenario) return 2 * in_dim_ * out_dim_;
  // x W + b; P from the selector; x (*) P; the (B*r) GEMM; spreading C; C Q^T;
  // the weighted sum.
  const int64_t m = num_blocks_;
  return 2 * in_dim_ * out_dim_ + 2 * m * rank_ * in_dim_ + rank_ * in_dim_ +
         2 * rank_ * in_dim_ * out_dim_ + m * rank_ * rank_ + 2 * m * rank_ * rank_ * out_dim_ +
         2 * rank_ * out_dim_;
}

// ---------------------------------------------------------------- MidpgModel

MidpgModel::MidpgModel(const ModelConfig& config)
    : config_(config), options_(MidpgOptions::FromConfig(config)) {
  const MidpgOptions& o = options_;
  backbone_ = register_module("backbone", MakeBackbone(o.backbone, config));
  for (const auto& child : backbone_->mlp()->named_children()) {
    auto seq = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(child.value());
    if (seq) mlp_layers_ = torch::nn::Sequential(seq);
  }
  if (!mlp_layers_) throw std::invalid_argument("midpg: the backbone's Mlp has no Sequential");
  std::vector<torch::nn::Linear> linears;
  for (auto& layer : *mlp_layers_) {
    if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer.ptr())) {
      linears.emplace_back(linear);
    }
  }
  const int64_t last_hidden = linears.back()->weight.size(1);  // the output Linear's input
  if (!o.modulate_output) {
    plain_output_flops_ = 2 * linears.back()->weight.numel();
    linears.pop_back();
  }
  if (linears.empty()) throw std::invalid_argument("midpg: nothing to modulate");

  if (!o.z_fields.empty()) z_fields_ = torch::tensor(o.z_fields, torch::kLong);
  if (o.dz > 0) {
    scenario_embedding_ =
        register_module("scenario_embedding", torch::nn::Embedding(config.num_scenarios, o.dz));
  }
  const int64_t z_dim = o.ZDim(config.num_fields, config.embedding_dim);
  int64_t aux_out = z_dim;
  if (!o.aux_hidden.empty()) {
    aux_ = register_module("aux", Mlp(z_dim, o.aux_hidden, 0, false, 0.0));
    aux_out = aux_->out_dim();
  }
  for (size_t l = 0; l < linears.size(); ++l) {
    modulations_.push_back(register_module(
        "modulation" + std::to_string(l), LinearModulation(linears[l], o.rank, config.num_scenarios,
                                                           o.shared, o.specific, o.factor_std,
                                                           o.unit_factor)));
    auto head =
        register_module("head" + std::to_string(l), torch::nn::Linear(aux_out, o.rank * o.rank));
    torch::NoGradGuard no_grad;
    head->weight.normal_(0.0, o.core_init);
    head->bias.zero_();
    heads_.push_back(head);
    if (o.scenario_bias) {
      auto bias = register_module("bias" + std::to_string(l),
                                  torch::nn::Embedding(config.num_scenarios, linears[l]->weight.size(0)));
      torch::NoGradGuard no_grad;
      bias->weight.zero_();
      biases_.push_back(bias);
    }
  }
  if (o.scenario_linear) {
    linear_ = register_module(
        "scenario_linear", torch::nn::Embedding(config.num_scenarios, linears[0]->weight.size(1)));
    torch::NoGradGuard no_grad;
    linear_->weight.zero_();
  }
  if (o.scenario_head) {
    head_ = register_module("scenario_head",
                            torch::nn::Embedding(config.num_scenarios, last_hidden));
    torch::NoGradGuard no_grad;
    head_->weight.zero_();
  }
  if (o.input_gate) {
    gate_ = register_module(
        "gate", torch::nn::Linear(z_dim, config.num_fields * config.embedding_dim));
    torch::NoGradGuard no_grad;
    gate_->weight.zero_();
    gate_->bias.zero_();
  }

  const int64_t core_dim = int64_t(heads_.size()) * o.rank * o.rank;
  if (o.mi == "infonce") {
    phi_ =
        register_module("phi", Mlp(z_dim, std::vector<int64_t>{o.mi_proj}, o.mi_proj, false, 0.0));
    psi_ = register_module("psi",
                           Mlp(core_dim, std::vector<int64_t>{o.mi_proj}, o.mi_proj, false, 0.0));
  } else if (o.mi == "cls") {
    classifier_ = register_module("classifier", torch::nn::Linear(core_dim, config.num_scenarios));
  }
}

torch::Tensor MidpgModel::ScenarioInput(const ModelInput& input) {
  if (options_.z_pool == ZPool::kNone) return scenario_embedding_->forward(input.scenario);
  torch::Tensor fields = z_fields_.defined() ? input.embeddings.index_select(
                                                   1, z_fields_.to(input.embeddings.device()))
                                             : input.embeddings;
  torch::Tensor pooled = options_.z_pool == ZPool::kConcat ? fields.flatten(1) : fields.mean(1);
  if (!scenario_embedding_) return pooled;
  return torch::cat({scenario_embedding_->forward(input.scenario), pooled}, 1);
}

std::vector<torch::Tensor> MidpgModel::Cores(const torch::Tensor& z) {
  torch::Tensor h = aux_ ? aux_->forward(z) : z;
  std::vector<torch::Tensor> cores;
  for (auto& head : heads_) {
    torch::Tensor core = head->forward(h).view({-1, options_.rank, options_.rank});
    cores.push_back(options_.core_scale == 1.0 ? core : core * options_.core_scale);
  }
  return cores;
}

torch::Tensor MidpgModel::ModulatedMlp(const torch::Tensor& flat,
                                       const std::vector<torch::Tensor>& cores,
                                       const std::vector<torch::Tensor>& scenario_cores,
                                       const FactorRouting& routing) {
  torch::Tensor x = flat;
  size_t l = 0, index = 0;
  const size_t last = mlp_layers_->size() - 1;  // the output Linear
  torch::Tensor head_logit;
  for (auto& layer : *mlp_layers_) {
    if (index++ == last && !head_.is_empty()) {
      head_logit = (x * head_->forward(routing.scenario)).sum(1, /*keepdim=*/true);
    }
    const bool linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer.ptr()) != nullptr;
    if (linear && l < modulations_.size()) {
      x = modulations_[l]->forward(x, cores[l], routing, options_.path,
                                   scenario_cores.empty() ? torch::Tensor() : scenario_cores[l]);
      if (!biases_.empty()) x = x + biases_[l]->forward(routing.scenario);
      ++l;
    } else {
      x = layer.forward(x);  // BatchNorm, ReLU, Dropout; the output Linear if !modulate_output
    }
  }
  return head_logit.defined() ? x + head_logit : x;
}

torch::Tensor MidpgModel::MiLoss(const torch::Tensor& z, const std::vector<torch::Tensor>& cores,
                                 const torch::Tensor& scenario) {
  std::vector<torch::Tensor> flat;
  for (const auto& c : cores) flat.push_back(c.flatten(1));
  torch::Tensor c = torch::cat(flat, 1);  // B x L*r*r
  if (options_.mi == "cls") return F::cross_entropy(classifier_->forward(c), scenario);
  torch::Tensor zz = options_.mi_detach_z ? z.detach() : z;
  if (options_.mi_batch > 0 && z.size(0) > options_.mi_batch) {
    torch::Tensor rows =
        torch::randperm(z.size(0), scenario.options()).slice(0, 0, options_.mi_batch);
    zz = zz.index_select(0, rows);
    c = c.index_select(0, rows);
  }
  return InfoNce(phi_->forward(zz), psi_->forward(c), options_.tau, options_.mi_symmetric);
}

ModelOutput MidpgModel::Forward(const ModelInput& input) {
  // Rows sorted by scenario (for ModulationPath::kWeight); every other step is
  // per row or, like the MI term, invariant to the order. Logits are put back.
  const bool sort = options_.specific && config_.num_scenarios > 1;
  ModelInput in = input;
  torch::Tensor order;
  if (sort) {
    order = std::get<1>(input.scenario.sort());
    in.embeddings = input.embeddings.index_select(0, order);
    if (input.dense.defined() && input.dense.size(1) > 0)
      in.dense = input.dense.index_select(0, order);
    in.scenario = input.scenario.index_select(0, order);
  }
  torch::Tensor z = ScenarioInput(in);
  std::vector<torch::Tensor> cores, scenario_cores;
  if (options_.z_pool == ZPool::kNone) {
    // z is the scenario embedding: the K scenarios' cores, then each instance's
    // (for the MI term and the per-instance paths).
    scenario_cores = Cores(scenario_embedding_->weight);
    for (const auto& c : scenario_cores) cores.push_back(c.index_select(0, in.scenario));
  } else {
    cores = Cores(z);
  }
  if (gate_) {
    in.embeddings = in.embeddings * (2 * torch::sigmoid(gate_->forward(z))).view_as(in.embeddings);
  }
  torch::Tensor flat = FlattenInputs(in.embeddings, in.dense);
  FactorRouting routing =
      LinearModulationImpl::Route(in.scenario, config_.num_scenarios, options_.shared,
                                  options_.specific, /*sorted=*/true, flat.options());
  torch::Tensor logits = ModulatedMlp(flat, cores, scenario_cores, routing).squeeze(1);
  if (linear_) logits = logits + (linear_->forward(in.scenario) * flat).sum(1);
  if (backbone_->NonMlpFlops() > 0) logits = logits + backbone_->NonMlpLogit(in, flat);
  ModelOutput out;
  out.logits = sort ? torch::zeros_like(logits).index_copy(0, order, logits) : logits;
  const bool mi_on = options_.mi != "none" && options_.beta != 0;
  if (is_training() && mi_on && in.scenario.size(0) > 1) {
    out.aux_losses.emplace_back("mi", options_.beta * MiLoss(z, cores, in.scenario));
  }
  return out;
}

int64_t MidpgModel::FlopsPerInstance() const {
  const int64_t z_dim = options_.ZDim(config_.num_fields, config_.embedding_dim);
  const int64_t pooled =
      options_.z_fields.empty() ? config_.num_fields : int64_t(options_.z_fields.size());
  int64_t flops = options_.z_pool == ZPool::kMean ? pooled * config_.embedding_dim : 0;  // the mean
  int64_t width = z_dim;
  for (int64_t h : options_.aux_hidden) {
    flops += 2 * width * h;
    width = h;
  }
  flops += int64_t(heads_.size()) * 2 * width * options_.rank * options_.rank;
  // z_pool=none: the auxiliary network and the heads run once per scenario and
  // batch (not counted per instance), and the modulated layers take the scenario
  // path where it applies.
  if (options_.z_pool == ZPool::kNone) flops = 0;
  const bool scenario_path = options_.z_pool == ZPool::kNone && options_.specific &&
                             (options_.path == ModulationPath::kAuto ||
                              options_.path == ModulationPath::kScenario);
  for (const auto& m : modulations_) flops += m->Flops(scenario_path);
  if (linear_) flops += 2 * linear_->weight.size(1);
  if (gate_) flops += 2 * z_dim * gate_->weight.size(0) + 3 * gate_->weight.size(0);
  return flops + plain_output_flops_ + backbone_->NonMlpFlops();
}

void RegisterMidpg(ModelRegistry* registry) {
  registry->Register("midpg", [](const ModelConfig& c) { return std::make_shared<MidpgModel>(c); });
}

}  // namespace msrec
