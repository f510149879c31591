// StepRunner: what one training step does with a batch whose rows the loop
// has pulled (forward, loss, backward through TrainingSession::Backward). The
// TrainLoop (train_loop.h) owns everything around it: reading, read-ahead of
// the next batch's rows, the push, progress, checkpoints, evaluation.
//
//   MakeTrainStep   the train modes (mt, all_shared, st, finetune) and SSIM's
//                   retrain (options.sharing: selector, flags file or random)
//   MakeSearchStep  SSIM's search: MT-Backbone and the selection network
//                   trained together under the straight-through mask
#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "common/status.h"
#include "trainer/data/batch.h"
#include "trainer/embedding_bridge.h"
#include "trainer/ssim_artefact.h"

namespace msrec {

class TrainingSession;

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // Before epoch `epoch`'s first step.
  virtual Status BeginEpoch(int /*epoch*/) { return Status::OK(); }
  // Trains on `batch` (its rows in `lookup`) at global step `step` and
  // returns the loss (a scalar the loop reads after the push). An empty
  // batch (a data-parallel worker whose slice is done) must still join every
  // collective the other workers' steps run (TrainingSession::Backward with
  // an undefined loss) and returns an undefined loss.
  virtual Result<torch::Tensor> Run(const Batch& batch, const EmbeddingLookup& lookup,
                                    int64_t step) = 0;
  // After epoch `epoch`'s last step, before its checkpoint and evaluation.
  virtual Status EndEpoch(int /*epoch*/) { return Status::OK(); }
  // Extra words for the progress line (e.g. the search's temperature).
  virtual std::string ProgressNote() const { return {}; }
};

// The step of `session`'s train mode; with a sharing source in its options,
// SSIM's retrain step (the shared instances train every scenario's tower). A
// selector also restarts an mt_backbone of its shapes from the selector's
// pre-search state. Call before session.Start().
Result<std::unique_ptr<StepRunner>> MakeTrainStep(TrainingSession& session);

// What the search step saw over this worker's steps.
struct SearchStats {
  double shared_rows = 0;   // sum over steps of mean(g) x rows
  int64_t rows = 0;         // rows trained on
  double last_shared = 0;   // mean(g) of the last step
};

// SSIM's search step: creates the selection network (a dense part "selector"
// of `session`, Adam at settings.selector_lr) and trains it with the model
// (an mt_backbone) on loss = SsimLoss + mask_lambda * MaskLoss under the
// temperature schedule of `steps_in_epoch` global steps. `stats` (not owned)
// is updated every step. Call before session.Start().
Result<std::unique_ptr<StepRunner>> MakeSearchStep(TrainingSession& session,
                                                   const SsimSettings& settings,
                                                   int64_t steps_in_epoch, SearchStats* stats);

}  // namespace msrec
