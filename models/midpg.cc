// MI-DPG (see midpg.h and docs/midpg.md).
#include "models/midpg.h"

#include <cmath>
#include <stdexcept>

#include "models/registry_parts.h"

namespace msrec {

namespace F = torch::nn::functional;

MidpgOptions MidpgOptions::FromConfig(const ModelConfig& config) {
  MidpgOptions o;
  o.backbone = config.ExtraString("backbone", o.backbone);
  o.dz = config.ExtraInt("dz", o.dz);
  o.z_fields = config.ExtraInts("z_fields", o.z_fields);
  o.aux_hidden = config.ExtraInts("aux_hidden", o.aux_hidden);
  o.rank = config.ExtraInt("rank", o.rank);
  o.core_init = config.ExtraDouble("core_init", o.core_init);
  o.factor_std =
      config.ExtraDouble("factor_std", 1.0 / std::sqrt(double(std::max<int64_t>(o.rank, 1))));
  o.modulate_output = config.ExtraInt("modulate_output", 1) != 0;
  o.shared = config.ExtraInt("no_shared", 0) == 0;
  o.specific = config.ExtraInt("no_specific", 0) == 0;
  o.materialize = config.ExtraInt("materialize", 0) != 0;
  o.mi = config.ExtraString("mi", o.mi);
  o.beta = config.ExtraDouble("beta", o.beta);
  o.mi_proj = config.ExtraInt("mi_proj", o.mi_proj);
  o.tau = config.ExtraDouble("tau", o.tau);
  o.mi_batch = config.ExtraInt("mi_batch", o.mi_batch);
  o.mi_symmetric = config.ExtraInt("mi_symmetric", 0) != 0;
  o.mi_detach_z = config.ExtraInt("mi_detach_z", 0) != 0;

  auto fail = [](const std::string& what) { throw std::invalid_argument("midpg: " + what); };
  if (o.dz < 0) fail("dz must be >= 0");
  if (o.rank < 1) fail("rank must be >= 1");
  if (!o.shared && !o.specific) fail("no_shared=1 and no_specific=1 leave no factors");
  if (o.core_init < 0 || o.factor_std < 0) fail("core_init and factor_std must be >= 0");
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
                                           double factor_std)
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
  if (specific) {
    p_specific_ =
        register_parameter("p_specific", torch::randn({num_scenarios, rank, in_dim_}, like) * std);
    q_specific_ =
        register_parameter("q_specific", torch::randn({num_scenarios, rank, out_dim_}, like) * std);
  }
}

torch::Tensor LinearModulationImpl::Selector(const torch::Tensor& scenario, int64_t num_scenarios,
                                             bool shared, bool specific,
                                             const torch::TensorOptions& options) {
  std::vector<torch::Tensor> columns;
  if (specific) columns.push_back(F::one_hot(scenario, num_scenarios).to(options));
  if (shared) columns.push_back(torch::ones({scenario.size(0), 1}, options));
  return torch::cat(columns, 1);
}

torch::Tensor LinearModulationImpl::Blocks(const torch::Tensor& specific,
                                           const torch::Tensor& shared) const {
  if (!specific.defined()) return shared.unsqueeze(0);
  if (!shared.defined()) return specific;
  return torch::cat({specific, shared.unsqueeze(0)}, 0);
}

torch::Tensor LinearModulationImpl::forward(const torch::Tensor& x, const torch::Tensor& core,
                                            const torch::Tensor& scenario,
                                            const torch::Tensor& selector, bool materialize) {
  if (materialize) return Materialized(x, core, scenario);
  const int64_t batch = x.size(0), m = num_blocks_;
  // Per-instance P^T: selector (B x m) times the blocks (m x r*din).
  torch::Tensor pt = selector.mm(Blocks(p_specific_, p_shared_).view({m, rank_ * in_dim_}));
  // Row (b, a) of xp is x_b (*) P_b[:, a]; one GEMM with W gives every (x (*) P[:,a]) W.
  torch::Tensor xp = (x.unsqueeze(1) * pt.view({batch, rank_, in_dim_}));
  torch::Tensor g = F::linear(xp.view({batch * rank_, in_dim_}), linear_->weight);
  // C Q^T = sum_blocks selector[b, block] C_b Q_block^T: spread C over the blocks
  // ((B*r) x (m*r)) and multiply by the stacked Q^T blocks ((m*r) x dout).
  torch::Tensor spread =
      (core.unsqueeze(2) * selector.view({batch, 1, m, 1})).view({batch * rank_, m * rank_});
  torch::Tensor cq = spread.mm(Blocks(q_specific_, q_shared_).view({m * rank_, out_dim_}));
  torch::Tensor modulation =
      (g.view({batch, rank_, out_dim_}) * cq.view({batch, rank_, out_dim_})).sum(1);
  return linear_->forward(x) + modulation;
}

torch::Tensor LinearModulationImpl::Materialized(const torch::Tensor& x, const torch::Tensor& core,
                                                 const torch::Tensor& scenario) {
  auto gather = [&](const torch::Tensor& shared, const torch::Tensor& specific) {
    if (!specific.defined()) return shared.t().unsqueeze(0);               // 1 x n x r
    torch::Tensor f = specific.index_select(0, scenario).transpose(1, 2);  // B x n x r
    return shared.defined() ? f + shared.t() : f;
  };
  torch::Tensor p = gather(p_shared_, p_specific_);  // B x din x r
  torch::Tensor q = gather(q_shared_, q_specific_);  // B x dout x r
  torch::Tensor omega = 1 + torch::matmul(torch::matmul(p, core), q.transpose(1, 2));
  torch::Tensor w = linear_->weight.t().unsqueeze(0) * omega;  // B x din x dout
  return torch::matmul(x.unsqueeze(1), w).squeeze(1) + linear_->bias;
}

int64_t LinearModulationImpl::Flops() const {
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
  const int64_t z_dim = o.dz + config.embedding_dim;
  int64_t aux_out = z_dim;
  if (!o.aux_hidden.empty()) {
    aux_ = register_module("aux", Mlp(z_dim, o.aux_hidden, 0, false, 0.0));
    aux_out = aux_->out_dim();
  }
  for (size_t l = 0; l < linears.size(); ++l) {
    modulations_.push_back(register_module(
        "modulation" + std::to_string(l), LinearModulation(linears[l], o.rank, config.num_scenarios,
                                                           o.shared, o.specific, o.factor_std)));
    auto head =
        register_module("head" + std::to_string(l), torch::nn::Linear(aux_out, o.rank * o.rank));
    torch::NoGradGuard no_grad;
    head->weight.normal_(0.0, o.core_init);
    head->bias.zero_();
    heads_.push_back(head);
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
  torch::Tensor fields = z_fields_.defined() ? input.embeddings.index_select(
                                                   1, z_fields_.to(input.embeddings.device()))
                                             : input.embeddings;
  torch::Tensor pooled = fields.mean(1);  // B x d
  if (!scenario_embedding_) return pooled;
  return torch::cat({scenario_embedding_->forward(input.scenario), pooled}, 1);
}

std::vector<torch::Tensor> MidpgModel::Cores(const torch::Tensor& z) {
  torch::Tensor h = aux_ ? aux_->forward(z) : z;
  std::vector<torch::Tensor> cores;
  for (auto& head : heads_) {
    cores.push_back(head->forward(h).view({-1, options_.rank, options_.rank}));
  }
  return cores;
}

torch::Tensor MidpgModel::ModulatedMlp(const torch::Tensor& flat,
                                       const std::vector<torch::Tensor>& cores,
                                       const torch::Tensor& scenario) {
  torch::Tensor x = flat;
  torch::Tensor selector = LinearModulationImpl::Selector(
      scenario, config_.num_scenarios, options_.shared, options_.specific, flat.options());
  size_t l = 0;
  for (auto& layer : *mlp_layers_) {
    const bool linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer.ptr()) != nullptr;
    if (linear && l < modulations_.size()) {
      x = modulations_[l]->forward(x, cores[l], scenario, selector, options_.materialize);
      ++l;
    } else {
      x = layer.forward(x);  // BatchNorm, ReLU, Dropout; the output Linear if !modulate_output
    }
  }
  return x;
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
  torch::Tensor z = ScenarioInput(input);
  std::vector<torch::Tensor> cores = Cores(z);
  torch::Tensor flat = FlattenInputs(input.embeddings, input.dense);
  ModelOutput out;
  out.logits = ModulatedMlp(flat, cores, input.scenario).squeeze(1);
  if (backbone_->NonMlpFlops() > 0) out.logits = out.logits + backbone_->NonMlpLogit(input, flat);
  const bool mi_on = options_.mi != "none" && options_.beta != 0;
  if (is_training() && mi_on && input.scenario.size(0) > 1) {
    out.aux_losses.emplace_back("mi", options_.beta * MiLoss(z, cores, input.scenario));
  }
  return out;
}

int64_t MidpgModel::FlopsPerInstance() const {
  const int64_t z_dim = options_.dz + config_.embedding_dim;
  const int64_t pooled =
      options_.z_fields.empty() ? config_.num_fields : int64_t(options_.z_fields.size());
  int64_t flops = pooled * config_.embedding_dim;  // the mean
  int64_t width = z_dim;
  for (int64_t h : options_.aux_hidden) {
    flops += 2 * width * h;
    width = h;
  }
  flops += int64_t(heads_.size()) * 2 * width * options_.rank * options_.rank;
  for (const auto& m : modulations_) flops += m->Flops();
  return flops + plain_output_flops_ + backbone_->NonMlpFlops();
}

void RegisterMidpg(ModelRegistry* registry) {
  registry->Register("midpg", [](const ModelConfig& c) { return std::make_shared<MidpgModel>(c); });
}

}  // namespace msrec
