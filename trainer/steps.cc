// The StepRunners (step_runner.h).
#include <cstdio>

#include "trainer/sharing.h"
#include "trainer/step_runner.h"
#include "trainer/training_session.h"

namespace msrec {
namespace {

// The task loss of one training batch (plus the model's auxiliary losses):
// own-path BCE; with SSIM's per-instance `shared` mask (0/1, undefined when
// off) shared instances train every scenario's path; kAllShared trains every
// path for every instance (MT-Backbone-S).
torch::Tensor StepLoss(Model& model, const ModelInput& input, const torch::Tensor& labels,
                       const torch::Tensor& shared, TrainMode mode, int num_scenarios) {
  ModelOutput out;
  torch::Tensor loss;
  if (shared.defined() && shared.sum().item<double>() > 0) {
    // Every path of the shared rows, the own path of the others.
    out = SharedInstanceForward(model, input, shared, num_scenarios, /*all_values=*/false);
    loss = SsimLoss(out.logits, labels, input.scenario, shared);
  } else if (mode == TrainMode::kAllShared) {
    out = model.ForwardAllScenarios(input, num_scenarios);
    // The mean over instances and paths.
    loss = torch::binary_cross_entropy_with_logits(out.logits,
                                                   labels.unsqueeze(1).expand_as(out.logits));
  } else {
    out = model.Forward(input);
    loss = torch::binary_cross_entropy_with_logits(out.logits, labels);
  }
  for (auto& aux : out.aux_losses) loss = loss + aux.second;
  return loss;
}

// A data-parallel worker's step with an empty batch (its slice is done):
// no forward, its zero gradients join the all-reduce and every optimizer
// steps as on the other workers. Returns no loss.
Result<torch::Tensor> ZeroWeightStep(TrainingSession& session) {
  MSREC_RETURN_IF_ERROR(session.Backward(torch::Tensor()));
  return torch::Tensor();
}

// The train modes: mt, all_shared, st (scenario-private rows: the bridge's
// keys) and finetune (scenario 0's path on every instance in the shared
// epochs, then handed over to every scenario).
class PlainStep : public StepRunner {
 public:
  explicit PlainStep(TrainingSession& session) : session_(session) {}

  Status BeginEpoch(int epoch) override {
    const TrainOptions& o = session_.options();
    shared_phase_ = o.train_mode == TrainMode::kFinetune && epoch <= o.finetune_shared_epochs;
    return Status::OK();
  }

  Result<torch::Tensor> Run(const Batch& batch, const EmbeddingLookup& lookup,
                            int64_t step) override {
    MSREC_ASSIGN_OR_RETURN(torch::Tensor shared, SharedMask(batch));  // collective with workers
    if (batch.size == 0) return ZeroWeightStep(session_);
    try {
      ModelInput input = BatchInput(batch, lookup.embeddings);
      if (shared_phase_) input.scenario = torch::zeros_like(input.scenario);
      const JobSpec& spec = session_.spec();
      torch::Tensor loss = StepLoss(session_.model(), input,
                                    BatchLabels(batch, spec.label_index).to(session_.device()),
                                    shared, session_.options().train_mode,
                                    spec.model_config.num_scenarios);
      MSREC_RETURN_IF_ERROR(session_.Backward(loss));
      return loss;
    } catch (const c10::Error& e) {
      return Status::Internal("training step " + std::to_string(step) + " failed: " +
                              e.what_without_backtrace());
    }
  }

  Status EndEpoch(int /*epoch*/) override {
    return shared_phase_ ? session_.model().HandOverFirstScenario() : Status::OK();
  }

 protected:
  // SSIM's per-instance shared flags (B, 0/1); undefined: none.
  virtual Result<torch::Tensor> SharedMask(const Batch& /*batch*/) { return torch::Tensor(); }

  TrainingSession& session_;
  bool shared_phase_ = false;
};

// SSIM's retrain: the policy's shared instances train every scenario's tower.
class SsimRetrainStep : public PlainStep {
 public:
  SsimRetrainStep(TrainingSession& session, std::unique_ptr<SharingPolicy> policy)
      : PlainStep(session), policy_(std::move(policy)) {}

 protected:
  Result<torch::Tensor> SharedMask(const Batch& batch) override {
    // Policies score on the host (the frozen selector reads its own rows).
    MSREC_ASSIGN_OR_RETURN(torch::Tensor g, policy_->SharedMask(batch));
    return g.to(session_.device());
  }

 private:
  std::unique_ptr<SharingPolicy> policy_;
};

// SSIM's search: MT-Backbone and the selection network under the
// straight-through mask g = SharingMask(selector, t, eps).
class SsimSearchStep : public StepRunner {
 public:
  SsimSearchStep(TrainingSession& session, std::shared_ptr<SelectionNetwork> selector,
                 const SsimSettings& settings, int64_t steps_in_epoch, SearchStats* stats)
      : session_(session),
        selector_(std::move(selector)),
        settings_(settings),
        steps_in_epoch_(steps_in_epoch),
        stats_(stats) {}

  Status BeginEpoch(int /*epoch*/) override {
    selector_->train();
    return Status::OK();
  }

  Result<torch::Tensor> Run(const Batch& batch, const EmbeddingLookup& lookup,
                            int64_t step) override {
    temperature_ = TemperatureAt(step - 1, steps_in_epoch_, settings_.t_final);
    if (batch.size == 0) return ZeroWeightStep(session_);
    const int num_scenarios = session_.spec().model_config.num_scenarios;
    try {
      ModelInput input = BatchInput(batch, lookup.embeddings);
      torch::Tensor labels =
          BatchLabels(batch, session_.spec().label_index).to(session_.device());
      torch::Tensor g =
          SharingMask(selector_->Forward(input).logits, temperature_, settings_.eps);
      // Every tower's logit of every row (the selector's gradient needs them),
      // with gradient only where the loss weights it (g_i = 1 or own tower).
      torch::Tensor all = SharedInstanceForward(session_.model(), input, g, num_scenarios,
                                                /*all_values=*/true)
                              .logits;
      torch::Tensor loss = SsimLoss(all, labels, input.scenario, g);
      if (settings_.mask_loss != MaskLossForm::kNone) {
        loss = loss + settings_.mask_lambda * MaskLoss(g, settings_.mask_loss);
      }
      MSREC_RETURN_IF_ERROR(session_.Backward(loss));
      stats_->last_shared = g.mean().item<double>();
      stats_->shared_rows += stats_->last_shared * batch.size;
      stats_->rows += batch.size;
      return loss;
    } catch (const c10::Error& e) {
      return Status::Internal("search step " + std::to_string(step) + " failed: " +
                              e.what_without_backtrace());
    }
  }

  std::string ProgressNote() const override {
    char note[64];
    std::snprintf(note, sizeof(note), "t %.1f shared %.3f", temperature_, stats_->last_shared);
    return note;
  }

 private:
  TrainingSession& session_;
  std::shared_ptr<SelectionNetwork> selector_;
  const SsimSettings settings_;
  const int64_t steps_in_epoch_;
  SearchStats* stats_;
  double temperature_ = 1;
};

}  // namespace

Result<std::unique_ptr<StepRunner>> MakeTrainStep(TrainingSession& session) {
  const TrainOptions& options = session.options();
  if (options.sharing.sources() == 0) return std::unique_ptr<StepRunner>(new PlainStep(session));
  if (options.train_mode != TrainMode::kMultiTask) {
    return Status::InvalidArgument("SSIM sharing (--ssim_selector, --shared_flags, --ssim_random) "
                                   "needs --train_mode mt");
  }
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<SharingPolicy> policy,
                         MakeSharingPolicy(options.sharing, session.scenario_map().values()));
  if (session.workers() != nullptr) policy->set_communicator(session.workers()->comm);
  bool restored = false;
  const JobSpec& spec = session.spec();
  MSREC_RETURN_IF_ERROR(RestoreInitialBackbone(options.sharing.selector_dir, spec.model,
                                               spec.model_config, &session.model(), &restored));
  if (restored) LOG(INFO) << "backbone restarts from the selector's pre-search state";
  return std::unique_ptr<StepRunner>(new SsimRetrainStep(session, std::move(policy)));
}

Result<std::unique_ptr<StepRunner>> MakeSearchStep(TrainingSession& session,
                                                   const SsimSettings& settings,
                                                   int64_t steps_in_epoch, SearchStats* stats) {
  const ModelConfig& c = session.spec().model_config;
  if (session.model().ScenarioTowers().size() != size_t(c.num_scenarios)) {
    return Status::InvalidArgument("the SSIM search needs a model with one tower per scenario "
                                   "(mt_backbone), not " + session.spec().model);
  }
  std::shared_ptr<SelectionNetwork> selector;
  session.Initialise([&] {
    selector = std::make_shared<SelectionNetwork>(c.num_fields, session.spec().table.dim,
                                                  settings.selector_hidden, c.num_scenarios);
  });
  selector->to(session.device());  // before its optimizer is built
  session.AddDensePart("selector", selector, settings.selector_lr, /*weight_decay=*/0.0);
  return std::unique_ptr<StepRunner>(
      new SsimSearchStep(session, std::move(selector), settings, steps_in_epoch, stats));
}

}  // namespace msrec
