#include "trainer/ssim_search.h"

#include <algorithm>
#include <cmath>

#include "common/file_util.h"
#include "common/timer.h"
#include "trainer/export.h"
#include "trainer/job_io.h"
#include "trainer/step_runner.h"
#include "trainer/train_loop.h"
#include "trainer/trainer.h"
#include "trainer/training_session.h"

namespace msrec {
namespace {

// The training options the search runs with: one epoch (shuffled as the
// options say) of the memory store, the backbone's optimizer from the settings.
TrainOptions SearchTrainOptions(const SsimSearchOptions& o) {
  TrainOptions t;
  t.train_files = o.train_files;
  t.model_dir = o.output_dir;
  t.scenario_map_file = o.scenario_map_file;
  t.epochs = 1;
  t.max_steps = o.max_steps;
  t.batch_size = o.settings.batch_size;
  t.shuffle_buffer = o.shuffle_buffer;
  t.reshuffle_each_epoch = o.reshuffle_each_epoch;
  t.learning_rate = o.settings.backbone_lr;
  t.weight_decay = o.settings.backbone_weight_decay;
  t.intra_op_threads = o.intra_op_threads;
  t.reader_threads = o.reader_threads;
  t.max_bad_rows = o.max_bad_rows;
  t.csv_multiline_quotes = o.csv_multiline_quotes;
  t.tensorboard_dir = o.tensorboard_dir;
  t.log_every = o.log_every;
  t.seed = o.seed;
  t.checkpoint = o.checkpoint;
  t.stop_requested = o.stop_requested;
  t.deterministic = o.deterministic;
  t.workers = o.workers;
  return t;
}

// Steps of one pass over the data (every worker agrees on the count).
Result<int64_t> CountSteps(TrainingSession& session) {
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<StepSource> source, session.OpenEpoch(1));
  Batch batch;
  int64_t steps = 0, rows = 0;
  while (true) {
    MSREC_ASSIGN_OR_RETURN(bool more, source->Next(&batch, &rows));
    if (!more) break;
    ++steps;
  }
  return steps;
}

// The search's settings as saved in ssim.txt, the schedule's length resolved.
Result<SsimSettings> ResolveSettings(TrainingSession& session, const SsimSearchOptions& options) {
  SsimSettings saved = options.settings;
  if (saved.steps_in_epoch <= 0) {
    Timer count_timer;
    MSREC_ASSIGN_OR_RETURN(saved.steps_in_epoch, CountSteps(session));
    LOG(INFO) << "ssim-search: " << saved.steps_in_epoch << " steps per epoch (counted in "
              << count_timer.Seconds() << " s)";
  }
  if (options.max_steps > 0) saved.steps_in_epoch = std::min(saved.steps_in_epoch, options.max_steps);
  return saved;
}

// A data-parallel search's rows live on the servers: worker 0 has them
// written next to the artefact and merged into its embeddings.bin.
Status GatherSearchRows(TrainingSession& session, int64_t step) {
  const WorkerGroup* workers = session.workers();
  if (workers == nullptr) return Status::OK();  // Finish persists the embedded store
  MSREC_RETURN_IF_ERROR(workers->comm->Barrier().WithContext("ssim-search: last pushes"));
  if (!session.chief()) return Status::OK();
  const std::string parts = session.dir().root() + "/search_rows";
  MSREC_RETURN_IF_ERROR(RemoveTree(parts));
  MSREC_RETURN_IF_ERROR(session.ps()->SaveCheckpoint(parts, step));
  MSREC_RETURN_IF_ERROR(MergeServerRows(parts, session.dir().embeddings("memory")));
  return RemoveTree(parts);
}

// Fills the epoch's shared fraction over every worker's rows.
Status Summarise(const SearchStats& stats, const WorkerGroup* workers, SsimSearchResult* r) {
  double sums[2] = {stats.shared_rows, static_cast<double>(stats.rows)};
  if (workers != nullptr) MSREC_RETURN_IF_ERROR(workers->comm->AllReduceSum(sums, 2));
  r->shared_fraction = sums[1] > 0 ? sums[0] / sums[1] : 0;
  r->last_shared_fraction = stats.last_shared;
  return Status::OK();
}

}  // namespace

Result<SsimSearchResult> SsimSearch(JobSpec spec, const SsimSearchOptions& options) {
  if (options.output_dir.empty()) return Status::InvalidArgument("no artefact directory (--output)");
  if (spec.model != "mt_backbone") {
    return Status::InvalidArgument("ssim-search trains MT-Backbone (--model mt_backbone, "
                                   "--model_opts backbone=dnn|deepfm|dcn), not " + spec.model);
  }
  if (options.settings.batch_size <= 0) return Status::InvalidArgument("batch size must be positive");
  spec.store = "memory";  // the selector reads its rows from embeddings.bin
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<TrainingSession> session,
                         TrainingSession::Open(std::move(spec), SearchTrainOptions(options)));
  const ModelDir& dir = session->dir();
  if (session->chief()) {
    // Before Start: a resumed search restores the trained state after this.
    MSREC_RETURN_IF_ERROR(SaveDenseParameters(session->model(), dir.initial_dense()));
  }
  MSREC_ASSIGN_OR_RETURN(const SsimSettings settings, ResolveSettings(*session, options));
  if (session->chief()) MSREC_RETURN_IF_ERROR(SaveSsimSettings(settings, dir.ssim_settings()));
  SearchStats stats;
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<StepRunner> step,
                         MakeSearchStep(*session, settings, settings.steps_in_epoch, &stats));
  MSREC_ASSIGN_OR_RETURN(const TrainingPosition start, session->Start());
  TrainLoop loop(*session, *step);
  MSREC_ASSIGN_OR_RETURN(const TrainResult trained, loop.Run(start));
  SsimSearchResult result;
  result.steps = trained.steps;
  result.samples = trained.samples;
  result.seconds = trained.train_seconds;
  result.stopped = trained.stopped;
  MSREC_RETURN_IF_ERROR(Summarise(stats, options.workers, &result));
  if (trained.stopped) return result;
  if (session->chief()) {
    MSREC_RETURN_IF_ERROR(SaveDenseParameters(*session->part("selector"), dir.selector()));
    SsimSettings learned = settings;
    learned.learned_share = result.shared_fraction;  // the retrain's default share
    MSREC_RETURN_IF_ERROR(SaveSsimSettings(learned, dir.ssim_settings()));
  }
  MSREC_RETURN_IF_ERROR(GatherSearchRows(*session, trained.steps));
  MSREC_RETURN_IF_ERROR(session->Finish());  // dense.pt and <output>/embeddings.bin
  return result;
}

Result<ShareSweepResult> ValidateShare(const JobSpec& spec, TrainOptions base,
                                       const std::string& artefact_dir,
                                       std::vector<double> candidates) {
  if (base.val_files.empty()) return Status::InvalidArgument("the share sweep needs --val");
  const WorkerGroup* workers = base.workers;
  const bool chief = workers == nullptr || workers->rank() == 0;
  if (workers != nullptr) {  // worker 0 commits the search's artefact first
    MSREC_RETURN_IF_ERROR(workers->comm->Barrier().WithContext("share sweep: the artefact"));
  }
  const ModelDir artefact(artefact_dir);
  MSREC_RETURN_IF_ERROR(artefact.Verify().WithContext("ssim-search artefact"));
  std::unique_ptr<ModelDir::WriterLock> lock;
  if (chief) {
    MSREC_ASSIGN_OR_RETURN(lock, artefact.LockForWriting());
  }
  MSREC_ASSIGN_OR_RETURN(SsimSettings settings, LoadSsimSettings(artefact.ssim_settings()));
  for (double& k : candidates) {
    if (k < 0) k = std::round(std::max(settings.learned_share, 0.0) * 1000) / 1000;
    if (k > 1) return Status::InvalidArgument("share " + std::to_string(k) + " is above 1");
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  ShareSweepResult result;
  base.test_files.clear();
  base.early_stopping_patience = 0;
  base.checkpoint = CheckpointOptions{};
  base.init_from.clear();
  base.metrics_file.clear();
  base.tensorboard_dir.clear();
  base.sharing.selector_dir = artefact_dir;
  base.sharing.random = false;
  base.sharing.shared_flags_files.clear();
  const std::string sweep_dir = artefact.root() + "/share_sweep";
  double best = -1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const double k = candidates[i];
    TrainOptions o = base;
    o.sharing.topk = k;
    o.model_dir = sweep_dir + "/k" + std::to_string(k);
    // Each retrain starts from fresh rows: its own table (a data-parallel
    // job's servers still hold the search's rows and the earlier retrains').
    JobSpec retrain = spec;
    retrain.table.name = spec.table.name + "_sweep" + std::to_string(i);
    LOG(INFO) << "share sweep: retraining " << o.epochs << " epoch(s) sharing the top " << k;
    MSREC_ASSIGN_OR_RETURN(const TrainResult trained, Train(retrain, o));
    if (trained.stopped) return Status::Unavailable("the share sweep was stopped by a signal");
    if (workers != nullptr) {
      // The job's servers outlive the retrain: its table leaves them once
      // every worker is done with it (one process's retrain had its own).
      MSREC_RETURN_IF_ERROR(workers->comm->Barrier().WithContext("share sweep: a retrain"));
      if (chief) MSREC_RETURN_IF_ERROR(workers->ps->DropTable(retrain.table.name));
    }
    // The metrics are gathered over the workers: every worker chooses alike.
    const double auc = trained.val.overall.auc;
    LOG(INFO) << "share sweep: top " << k << ": validation AUC " << auc;
    result.shares.push_back(k);
    result.val_auc.push_back(auc);
    if (auc > best) {  // ties keep the smaller share
      best = auc;
      result.chosen = k;
    }
  }
  if (workers != nullptr) {
    MSREC_RETURN_IF_ERROR(workers->comm->Barrier().WithContext("share sweep: last retrain"));
  }
  if (!chief) return result;
  MSREC_RETURN_IF_ERROR(RemoveTree(sweep_dir));
  std::string table = "share\tval_auc\n";
  for (size_t i = 0; i < result.shares.size(); ++i) {
    table += std::to_string(result.shares[i]) + "\t" + std::to_string(result.val_auc[i]) + "\n";
  }
  MSREC_RETURN_IF_ERROR(WriteFileDurably(artefact.root() + "/share_sweep.tsv", table));
  settings.validated_share = result.chosen;
  MSREC_RETURN_IF_ERROR(artefact.Uncommit());
  MSREC_RETURN_IF_ERROR(SaveSsimSettings(settings, artefact.ssim_settings()));
  MSREC_RETURN_IF_ERROR(artefact.Commit("memory"));
  return result;
}

}  // namespace msrec
