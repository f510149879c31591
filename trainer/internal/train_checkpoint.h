// The trainer's side of checkpoints (checkpoint.h has the format) and of early
// stopping: what a worker saves and restores, and the barriers that make every
// rank's part belong to the same global step.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "parameter_server/ps_client.h"
#include "trainer/checkpoint.h"
#include "trainer/distributed.h"
#include "trainer/metrics.h"
#include "trainer/model_dir.h"

namespace msrec {

// A trained dense module and its optimizer. A session's first part is the
// model ("dense": dense.pt and optimizer.pt in a checkpoint); others (SSIM's
// selector) are saved as <name>.pt and <name>_optimizer.pt.
struct DensePart {
  std::string name;
  std::shared_ptr<torch::nn::Module> module;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
};

// Thread safety: one training thread.
class TrainCheckpointer {
 public:
  // Nothing is owned. `ps` serves the rows (the embedded server or the
  // remote servers of `workers`): its servers write and load their parts.
  TrainCheckpointer(const CheckpointOptions& options, const WorkerGroup* workers,
                    std::vector<DensePart>* parts, PsClient* ps);

  bool enabled() const { return !options_.dir.empty(); }
  bool due(int64_t step) const {
    return enabled() && options_.every_steps > 0 && step % options_.every_steps == 0;
  }
  bool at_epoch_end() const { return enabled() && options_.at_epoch_end; }

  // Saves a checkpoint of `position` (collective over the workers: call it
  // on every worker at the same step). Worker 0 writes the files, the servers
  // their dumps; the manifest goes last; older checkpoints are pruned.
  Status Save(const TrainingPosition& position);

  // With options.resume: restores every dense part and its optimizer, the
  // RNG and every row from the newest complete checkpoint and returns its
  // position (step 0: nothing to resume).
  Result<TrainingPosition> Restore();

  const std::string& last_path() const { return last_path_; }

 private:
  Status Barrier(const char* what);
  Status SaveFiles(const std::string& path, const TrainingPosition& position,
                   CheckpointInfo* info);
  Status WritePartial(const std::string& path, const TrainingPosition& position,
                      CheckpointInfo* info);

  CheckpointOptions options_;
  const WorkerGroup* workers_;
  std::vector<DensePart>* parts_;
  PsClient* ps_;
  std::string last_path_;
};

// Early stopping on validation AUC. With patience > 0 it snapshots the dense
// model and every embedding row (the servers' checkpoint, embedded or
// remote) whenever validation AUC improves and restores that snapshot at the
// end; with patience 0 the last epoch is kept. Collective over the workers of
// a data-parallel job (every worker sees the same metrics, so every worker
// takes the same decision).
class BestEpochKeeper {
 public:
  BestEpochKeeper(int patience, const ModelDir& dir, Model* model, PsClient* ps,
                  const WorkerGroup* workers);

  // Records epoch `epoch`'s validation metrics (after `step` steps) if they
  // are the best so far (or always without patience). True: stop training.
  Result<bool> EndOfEpoch(int epoch, const EvalMetrics& val, int64_t step);
  // An epoch without validation: it is the one kept.
  void EndOfEpochWithoutValidation(int epoch) { best_epoch_ = epoch; }

  // The kept epoch (0: none yet) and its validation metrics.
  int best_epoch() const { return best_epoch_; }
  const EvalMetrics& best_val() const { return best_val_; }

  // Restores the snapshot of the best epoch (if one was taken) into the model
  // and the servers' rows, and deletes it. Pushes continue after `step`.
  Status RestoreBest(int64_t step);

 private:
  bool chief() const { return workers_ == nullptr || workers_->rank() == 0; }
  Status Barrier(const char* what);

  const int patience_;
  const std::string dense_path_, rows_dir_;
  Model* model_;
  PsClient* ps_;
  const WorkerGroup* workers_;
  int best_epoch_ = 0;
  EvalMetrics best_val_;
};

}  // namespace msrec
