#include "trainer/train_checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include "common/file_util.h"
#include "common/timer.h"
#include "trainer/job_io.h"

namespace msrec {
namespace {

Status SaveTorchState(torch::optim::Optimizer& optimizer, const std::string& dir) {
  try {
    torch::save(optimizer, dir + "/optimizer.pt");
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    torch::save(gen.get_state(), dir + "/rng.pt");
  } catch (const c10::Error& e) {
    return Status::IoError("saving the optimizer/RNG state in " + dir + ": " +
                           e.what_without_backtrace());
  }
  return Status::OK();
}

Status LoadTorchState(torch::optim::Optimizer& optimizer, const std::string& dir) {
  try {
    torch::load(optimizer, dir + "/optimizer.pt");
    torch::Tensor state;
    torch::load(state, dir + "/rng.pt");
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  } catch (const c10::Error& e) {
    return Status::Corruption("loading the optimizer/RNG state of " + dir + ": " +
                              e.what_without_backtrace());
  }
  return Status::OK();
}

}  // namespace

TrainCheckpointer::TrainCheckpointer(const CheckpointOptions& options, const WorkerGroup* workers,
                                     Model* model, torch::optim::Optimizer* optimizer,
                                     PsClient* ps)
    : options_(options), workers_(workers), model_(model), optimizer_(optimizer), ps_(ps) {}

Status TrainCheckpointer::Barrier(const char* what) {
  if (workers_ == nullptr) return Status::OK();
  return workers_->comm->Barrier().WithContext(what);
}

Status TrainCheckpointer::Save(const TrainingPosition& position) {
  Timer timer;
  const std::string path = CheckpointPath(options_.dir, position.step);
  // Every worker has pushed step `step` (and nobody pushes step + 1 until the
  // rows are dumped: the second barrier).
  MSREC_RETURN_IF_ERROR(Barrier("checkpoint: waiting for every worker"));
  const bool chief = workers_ == nullptr || workers_->rank() == 0;
  Status status;
  CheckpointInfo info;
  if (chief) {
    status = [&]() -> Status {
      MSREC_RETURN_IF_ERROR(RemoveTree(path));  // a leftover of a crashed attempt
      MSREC_RETURN_IF_ERROR(MakeDirs(path));
      MSREC_RETURN_IF_ERROR(SaveDenseParameters(*model_, path + "/dense.pt"));
      MSREC_RETURN_IF_ERROR(SaveTorchState(*optimizer_, path));
      // TTL eviction runs here, at checkpoint time, so a checkpoint never
      // carries expired rows (no-op for tables without ttl_steps).
      MSREC_RETURN_IF_ERROR(ps_->EvictExpired(position.step));
      MSREC_RETURN_IF_ERROR(ps_->SaveCheckpoint(path, position.step));
      MSREC_ASSIGN_OR_RETURN(info, WriteManifest(path, position));
      return PruneCheckpoints(options_.dir, options_.keep);
    }();
  }
  MSREC_RETURN_IF_ERROR(Barrier("checkpoint: waiting for worker 0 to write it"));
  MSREC_RETURN_IF_ERROR(status.WithContext("writing checkpoint " + path));
  last_path_ = path;
  if (chief) {
    LOG(INFO) << "checkpoint " << path << " (step " << position.step << "): "
              << info.bytes / 1048576.0 << " MiB in " << timer.Seconds() << " s";
  }
  return Status::OK();
}

Result<TrainingPosition> TrainCheckpointer::Restore() {
  TrainingPosition none;
  if (!enabled() || !options_.resume) return none;
  MSREC_ASSIGN_OR_RETURN(std::optional<CheckpointInfo> found,
                         FindResumePoint(options_.dir, options_.skip_corrupt));
  if (!found.has_value()) {
    LOG(INFO) << "--resume: no complete checkpoint in " << options_.dir << ", starting afresh";
    return none;
  }
  const std::string& path = found->path;
  MSREC_RETURN_IF_ERROR(LoadDenseParameters(model_, path + "/dense.pt"));
  MSREC_RETURN_IF_ERROR(LoadTorchState(*optimizer_, path));
  if (workers_ == nullptr || workers_->rank() == 0) {
    MSREC_RETURN_IF_ERROR(ps_->LoadCheckpoint(path, found->position.step));
  }
  MSREC_RETURN_IF_ERROR(Barrier("resume: waiting for the servers to load the rows"));
  last_path_ = path;
  LOG(INFO) << "resumed from " << path << ": step " << found->position.step << ", epoch "
            << found->position.epoch << " after " << found->position.epoch_steps << " steps";
  return found->position;
}

}  // namespace msrec
