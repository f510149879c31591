// SSIM's search phase (docs/ssim.md): one epoch of MT-Backbone training with
// the selection network's straight-through sharing mask, run by the same
// TrainingSession and TrainLoop as training (read-ahead, checkpoints and
// --resume, data-parallel workers with parameter servers) with the search
// step (step_runner.h). It writes the selector artefact (ssim_artefact.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer/checkpoint.h"
#include "trainer/distributed.h"
#include "trainer/job_spec.h"
#include "trainer/ssim_artefact.h"
#include "trainer/train_options.h"

namespace msrec {

struct SsimSearchOptions {
  std::vector<std::string> train_files;  // the search epoch's data
  std::string output_dir;                // the artefact directory (created)
  std::string scenario_map_file;         // fixed scenario map; empty = built from train files
  SsimSettings settings;
  int64_t max_steps = 0;       // > 0: stop the epoch after this many steps
  int64_t shuffle_buffer = 0;  // rows shuffled together (TrainOptions::shuffle_buffer); 0: file
                               // order (the launcher passes --shuffle_buffer)
  bool reshuffle_each_epoch = true;  // TrainOptions::reshuffle_each_epoch (with false the
                                     // search's order is the retrain's every epoch)
  int intra_op_threads = 1;    // LibTorch intra-op threads
  int reader_threads = 1;      // parser threads
  int64_t max_bad_rows = 100;  // fail once more rows than this are bad
  bool csv_multiline_quotes = false;  // TrainOptions::csv_multiline_quotes
  std::string tensorboard_dir;        // TrainOptions::tensorboard_dir
  int64_t log_every = 50;      // progress line every N steps
  uint64_t seed = 2022;        // torch and embedding-initialisation seed
  CheckpointOptions checkpoint;  // periodic checkpoints and --resume (checkpoint.h)
  const std::atomic<bool>* stop_requested = nullptr;  // not owned (TrainOptions)
  bool deterministic = false;  // LibTorch's deterministic algorithms
  const WorkerGroup* workers = nullptr;  // data-parallel search (TrainOptions::workers):
                                         // the mask and the shared-instance loss are over
                                         // the global mini-batch (every worker's batch)
};

struct SsimSearchResult {
  int64_t steps = 0;
  int64_t samples = 0;
  double seconds = 0;               // the search loop only (counting and saving excluded)
  double shared_fraction = 0;       // mean g over the epoch (every worker's rows)
  double last_shared_fraction = 0;  // mean g of the last step (this worker's rows)
  bool stopped = false;             // ended by stop_requested (checkpointed; --resume)
};

// Runs the search epoch for `spec` (its model must be mt_backbone; the
// `backbone` option picks dnn, deepfm or dcn) and writes the artefact.
Result<SsimSearchResult> SsimSearch(JobSpec spec, const SsimSearchOptions& options);

// The share sweep ("sharing never hurts"): after the search, short retrains of
// `spec` from the artefact in `artefact_dir` at each share of `candidates`
// (a negative entry stands for the share the search learned), each with
// `base` (data, validation files, optimiser, seed; `base.epochs` epochs),
// scored by overall validation AUC. The best share is written to the
// artefact's ssim.txt as validated_share (the retrain's default) and the
// artefact is committed again; <artefact>/share_sweep.tsv lists every score.
// Share 0 is the MT-Backbone retrain itself, so on validation data the chosen
// share is never worse than not sharing. In a data-parallel job
// (base.workers set) every worker calls it; each retrain trains through the
// job's servers on a table of its own (<table>_sweep<i>: fresh rows; the
// servers keep those tables until the job ends) and worker 0 writes the
// artefact.
struct ShareSweepResult {
  std::vector<double> shares;
  std::vector<double> val_auc;
  double chosen = -1;
};
Result<ShareSweepResult> ValidateShare(const JobSpec& spec, TrainOptions base,
                                       const std::string& artefact_dir,
                                       std::vector<double> candidates);

}  // namespace msrec
