// TrainLoop: the epochs of a training job. Per epoch it opens the session's
// StepSource; per step it finishes the pull of the step's rows, reads the
// next batch and starts its pull (read-ahead: the servers fetch those rows
// while this step computes), runs the StepRunner, pushes the sparse gradients,
// logs progress and checkpoints when due. After an epoch: the step's epoch
// end (finetune's hand-over), the epoch's checkpoint, validation and early
// stopping. At the end: the kept epoch is restored and the test files scored.
// A stop request ends the epoch after the step in progress and checkpoints.
#pragma once

#include <memory>

#include "common/status.h"
#include "common/timer.h"
#include "trainer/step_runner.h"
#include "trainer/internal/train_checkpoint.h"
#include "trainer/train_options.h"
#include "trainer/training_session.h"

namespace msrec {

// Thread safety: one training thread.
class TrainLoop {
 public:
  // Neither is owned; both must outlive the loop.
  TrainLoop(TrainingSession& session, StepRunner& step);

  // Trains from `start` (TrainingSession::Start) to the end of the last epoch,
  // --max_steps, early stopping or a stop request.
  Result<TrainResult> Run(const TrainingPosition& start);

 private:
  Result<int64_t> RunEpoch(int epoch, int64_t skip_steps, StepSource& source, bool* done);
  Result<bool> ReadAhead(StepSource& source, int64_t for_step);
  Status AfterStep(int epoch, int64_t step, int64_t epoch_steps, int64_t rows,
                   const torch::Tensor& loss, StepSource& source);
  Status EndEpoch(int epoch, int64_t epoch_steps, StepSource& source, bool* done);
  Status Validate(int epoch, bool* done);
  Status LogEvaluation(const std::string& split, const EvalMetrics& metrics);
  Result<TrainResult> Stopped(int epoch, int64_t epoch_steps);
  bool MaxStepsReached(int64_t step) const;
  // One more step of the epoch, on `batch` (the epoch's row and empty-step counts).
  void CountStep(const Batch& batch, int64_t* epoch_steps);

  TrainingSession& session_;
  StepRunner& step_;
  const TrainOptions& options_;
  BestEpochKeeper keeper_;
  TrainResult result_;
  ProgressWindow progress_;
  Timer timer_;
  // The batch read ahead and its rows' pull.
  Batch next_batch_;
  int64_t next_rows_ = 0;
  PendingLookup next_lookup_;
  int64_t epoch_trained_rows_ = 0;  // this worker's rows trained in the current epoch
  int64_t epoch_empty_steps_ = 0;   // its zero-weight steps (slice done) in the epoch
};

}  // namespace msrec
