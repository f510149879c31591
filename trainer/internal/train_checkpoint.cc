#include "trainer/internal/train_checkpoint.h"

#include <sstream>

#include <ATen/CPUGeneratorImpl.h>

#include "common/file_util.h"
#include "common/timer.h"
#include "trainer/job_io.h"

namespace msrec {
namespace {

// A part's files in a checkpoint: dense.pt + optimizer.pt for the model,
// <name>.pt + <name>_optimizer.pt for the others.
std::string ModuleFile(const DensePart& part, size_t index) {
  return index == 0 ? "/dense.pt" : "/" + part.name + ".pt";
}
std::string OptimizerFile(const DensePart& part, size_t index) {
  return index == 0 ? "/optimizer.pt" : "/" + part.name + "_optimizer.pt";
}

// Serialized in memory and written by WriteFileDurably (see SaveDenseParameters).
Status SaveTorchState(const std::vector<DensePart>& parts, const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;  // path, bytes
  try {
    for (size_t i = 0; i < parts.size(); ++i) {
      std::ostringstream bytes;
      torch::save(*parts[i].optimizer, bytes);
      files.emplace_back(dir + OptimizerFile(parts[i], i), bytes.str());
    }
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    std::ostringstream bytes;
    torch::save(gen.get_state(), bytes);
    files.emplace_back(dir + "/rng.pt", bytes.str());
  } catch (const c10::Error& e) {
    return Status::IoError("saving the optimizer/RNG state in " + dir + ": " +
                           e.what_without_backtrace());
  }
  for (const auto& [path, bytes] : files) MSREC_RETURN_IF_ERROR(WriteFileDurably(path, bytes));
  return Status::OK();
}

Status LoadTorchState(std::vector<DensePart>& parts, const std::string& dir) {
  try {
    for (size_t i = 0; i < parts.size(); ++i) {
      torch::load(*parts[i].optimizer, dir + OptimizerFile(parts[i], i));
    }
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
                                     std::vector<DensePart>* parts, PsClient* ps)
    : options_(options), workers_(workers), parts_(parts), ps_(ps) {}

Status TrainCheckpointer::Barrier(const char* what) {
  if (workers_ == nullptr) return Status::OK();
  return workers_->comm->Barrier().WithContext(what);
}

// Writes the checkpoint into <path>.partial and then puts it in place of
// `path` atomically (a complete checkpoint of the same step, rewritten when an
// epoch end lands on --checkpoint_every_steps, is swapped out, never deleted
// first): at every moment ckpt-<step> is absent or complete.
Status TrainCheckpointer::SaveFiles(const std::string& final_path, const TrainingPosition& position,
                                    CheckpointInfo* info) {
  const std::string path = final_path + ".partial";
  MSREC_RETURN_IF_ERROR(RemoveTree(path));  // a leftover of a crashed attempt
  MSREC_RETURN_IF_ERROR(MakeDirs(path));
  const Status written = WritePartial(path, position, info);
  if (!written.ok()) {
    (void)RemoveTree(path);  // a failed write (a full disk) leaves nothing behind
    return written;
  }
  info->path = final_path;
  MSREC_RETURN_IF_ERROR(ReplaceDirectory(path, final_path));
  return PruneCheckpoints(options_.dir, options_.keep);
}

Status TrainCheckpointer::WritePartial(const std::string& path, const TrainingPosition& position,
                                       CheckpointInfo* info) {
  for (size_t i = 0; i < parts_->size(); ++i) {
    const DensePart& part = (*parts_)[i];
    MSREC_RETURN_IF_ERROR(SaveDenseParameters(*part.module, path + ModuleFile(part, i)));
  }
  MSREC_RETURN_IF_ERROR(SaveTorchState(*parts_, path));
  // TTL eviction runs here, at checkpoint time, so a checkpoint never
  // carries expired rows (no-op for tables without ttl_steps).
  MSREC_RETURN_IF_ERROR(ps_->EvictExpired(position.step));
  MSREC_RETURN_IF_ERROR(ps_->SaveCheckpoint(path, position.step));
  MSREC_ASSIGN_OR_RETURN(*info, WriteManifest(path, position));
  return Status::OK();
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
  if (chief) status = SaveFiles(path, position, &info);
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
  for (size_t i = 0; i < parts_->size(); ++i) {
    DensePart& part = (*parts_)[i];
    MSREC_RETURN_IF_ERROR(LoadDenseParameters(part.module.get(), path + ModuleFile(part, i)));
  }
  MSREC_RETURN_IF_ERROR(LoadTorchState(*parts_, path));
  if (workers_ == nullptr || workers_->rank() == 0) {
    MSREC_RETURN_IF_ERROR(ps_->LoadCheckpoint(path, found->position.step));
  }
  MSREC_RETURN_IF_ERROR(Barrier("resume: waiting for the servers to load the rows"));
  last_path_ = path;
  LOG(INFO) << "resumed from " << path << ": step " << found->position.step << ", epoch "
            << found->position.epoch << " after " << found->position.epoch_steps << " steps";
  return found->position;
}

BestEpochKeeper::BestEpochKeeper(int patience, const ModelDir& dir, Model* model, PsClient* ps,
                                 const WorkerGroup* workers)
    : patience_(patience),
      dense_path_(dir.best_dense()),
      rows_dir_(dir.best_rows()),
      model_(model),
      ps_(ps),
      workers_(workers) {
  best_val_.overall.auc = -1;
}

Status BestEpochKeeper::Barrier(const char* what) {
  return workers_ == nullptr ? Status::OK() : workers_->comm->Barrier().WithContext(what);
}

Result<bool> BestEpochKeeper::EndOfEpoch(int epoch, const EvalMetrics& val, int64_t step) {
  if (patience_ <= 0 || !(val.overall.auc <= best_val_.overall.auc)) {
    best_val_ = val;
    best_epoch_ = epoch;
    if (patience_ > 0) {
      if (chief()) {
        MSREC_RETURN_IF_ERROR(SaveDenseParameters(*model_, dense_path_));
        MSREC_RETURN_IF_ERROR(RemoveTree(rows_dir_));
        MSREC_RETURN_IF_ERROR(ps_->SaveCheckpoint(rows_dir_, step));
      }
      MSREC_RETURN_IF_ERROR(Barrier("early stopping: saving the best epoch"));
    }
    return false;
  }
  if (epoch - best_epoch_ < patience_) return false;
  LOG(INFO) << "early stopping after epoch " << epoch << ": best validation AUC "
            << best_val_.overall.auc << " at epoch " << best_epoch_;
  return true;
}

Status BestEpochKeeper::RestoreBest(int64_t step) {
  if (patience_ <= 0 || best_epoch_ <= 0) return Status::OK();
  LOG(INFO) << "restoring the model of epoch " << best_epoch_;
  if (chief()) MSREC_RETURN_IF_ERROR(ps_->LoadCheckpoint(rows_dir_, step));
  MSREC_RETURN_IF_ERROR(LoadDenseParameters(model_, dense_path_));
  MSREC_RETURN_IF_ERROR(Barrier("early stopping: restoring the best epoch"));
  if (chief()) {
    std::remove(dense_path_.c_str());
    MSREC_RETURN_IF_ERROR(RemoveTree(rows_dir_));
  }
  return Status::OK();
}

}  // namespace msrec
