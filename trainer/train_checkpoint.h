// The trainer's side of checkpoints (checkpoint.h has the format): what a
// worker saves and restores, and the barriers that make every rank's part
// belong to the same global step.
#pragma once

#include <string>

#include "models/model.h"
#include "parameter_server/ps_client.h"
#include "parameter_server/table_config.h"
#include "trainer/checkpoint.h"
#include "trainer/distributed.h"

namespace msrec {

// Thread safety: one training thread.
class TrainCheckpointer {
 public:
  // Nothing is owned. `ps` serves the rows (the embedded server or the
  // remote servers of `workers`): its servers write and load their parts.
  TrainCheckpointer(const CheckpointOptions& options, const WorkerGroup* workers, Model* model,
                    torch::optim::Optimizer* optimizer, PsClient* ps);

  bool enabled() const { return !options_.dir.empty(); }
  bool due(int64_t step) const {
    return enabled() && options_.every_steps > 0 && step % options_.every_steps == 0;
  }
  bool at_epoch_end() const { return enabled() && options_.at_epoch_end; }

  // Saves a checkpoint of `position` (collective over the workers: call it
  // on every worker at the same step). Worker 0 writes the files, the servers
  // their dumps; the manifest goes last; older checkpoints are pruned.
  Status Save(const TrainingPosition& position);

  // With options.resume: restores the dense parameters, the optimizer, the
  // RNG and every row from the newest complete checkpoint and returns its
  // position (step 0: nothing to resume).
  Result<TrainingPosition> Restore();

  const std::string& last_path() const { return last_path_; }

 private:
  Status Barrier(const char* what);

  CheckpointOptions options_;
  const WorkerGroup* workers_;
  Model* model_;
  torch::optim::Optimizer* optimizer_;
  PsClient* ps_;
  std::string last_path_;
};

}  // namespace msrec
