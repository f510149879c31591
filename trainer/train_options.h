// The options of a training job (TrainOptions) and what it reports
// (TrainResult): read by the session, the loop and the steps, filled by
// launch/ from flags.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "parameter_server/ps_service.h"
#include "trainer/checkpoint.h"
#include "trainer/distributed.h"
#include "trainer/job_spec.h"
#include "trainer/metrics.h"
#include "trainer/sharing.h"

namespace msrec {

struct TrainOptions {
  std::vector<std::string> train_files;  // CSV/TSV (optionally .gz) or binary shards
  std::vector<std::string> val_files;    // evaluated after every epoch (may be empty)
  std::vector<std::string> test_files;   // evaluated once at the end (may be empty)
  std::string model_dir;                 // output directory (created)
  std::string scenario_map_file;         // fixed scenario map; empty = built from train files
  std::string init_from;                 // a trained model directory to start from (day-by-day
                                         // training): its dense weights and every embedding
                                         // row; its scenario map, extended with the new data's
                                         // new values (fresh towers/paths for them)
  int epochs = 1;                        // passes over the training files
  int64_t max_steps = 0;                 // > 0: stop after this many steps
  int batch_size = 2048;                 // training mini-batch
  int64_t shuffle_buffer = 1000000;      // rows shuffled together each epoch (seeded by seed and
                                         // epoch); >= the data's rows: a full shuffle; 0: file
                                         // order. Logs are often sorted by time: keep it on
  bool reshuffle_each_epoch = true;      // false: every epoch reads epoch 1's shuffled order
                                         // (the same batches each epoch, as a pre-built batch
                                         // list; the SSIM authors' trainer works this way)
  int eval_batch_size = 8192;            // evaluation batch
  double learning_rate = 1e-3;           // dense Adam step size
  double weight_decay = 0.0;             // dense Adam L2
  int intra_op_threads = 1;              // LibTorch intra-op threads
  int reader_threads = 1;                // parser threads per reader
  int64_t max_bad_rows = 100;            // the job fails once more rows than this are bad
  std::string gauc_column;               // evaluations add gAUC grouped by this column
  bool csv_multiline_quotes = false;     // CSV dialect: quoted fields may span lines
                                         // (ReaderOptions::multiline_quotes)
  int64_t log_every = 50;                // progress line every N steps
  TrainMode train_mode = TrainMode::kMultiTask;  // see TrainMode
  int finetune_shared_epochs = 1;        // kFinetune: epochs of shared training first
  int early_stopping_patience = 0;       // > 0 (needs val_files): stop after this many epochs
                                         // without a better validation AUC and keep the best
                                         // epoch's model; 0 = train every epoch, keep the last
  std::string metrics_file;              // JSON lines; empty = <model_dir>/metrics.jsonl
  std::string tensorboard_dir;           // TensorBoard event files (loss, samples/s, AUC and
                                         // logloss per scenario); empty = none
  uint64_t seed = 2022;                  // torch and initialisation seed
  std::string device = "cpu";            // "cpu" or "cuda[:i]": where the model runs
  ServerSettings server_settings;        // the embedded server's store budget and threads
  SharingOptions sharing;                // SSIM shared instances (docs/ssim.md); none by
                                         // default. Needs train_mode kMultiTask. A selector
                                         // also fixes the scenario map (its own) unless
                                         // scenario_map_file is given, and restarts an
                                         // mt_backbone of its shapes from its initial state
  CheckpointOptions checkpoint;          // periodic checkpoints and --resume (checkpoint.h)
  const std::atomic<bool>* stop_requested = nullptr;  // not owned; when it becomes true
                                         // (SIGTERM/SIGINT) the step in progress finishes, a
                                         // checkpoint is written and Train returns
  bool deterministic = false;            // LibTorch's deterministic algorithms; with the same
                                         // threads a resumed job ends like the uninterrupted one
  const WorkerGroup* workers = nullptr;  // data-parallel job (not owned): the other workers
                                         // and the remote parameter servers; null = one
                                         // process with the embedded store. Worker 0 writes
                                         // the model directory and the metrics
};

// Wall time of the training loop by phase, in seconds.
struct PhaseTimes {
  double read = 0;     // waiting for the reader's next batch
  double pull = 0;     // de-duplicating keys, pulling rows, gathering E
  double compute = 0;  // forward, backward and the dense optimizer step
  double push = 0;     // pushing sparse gradients (server-side optimizer)
  std::string ToString() const;
};

struct TrainResult {
  PhaseTimes phases;
  int64_t steps = 0;
  int64_t samples = 0;
  double train_seconds = 0;  // training loop only, evaluation excluded
  EvalMetrics val, test;     // kept epoch's validation, final test (empty when no files)
  int best_epoch = 0;        // the epoch whose model was kept
  int64_t resumed_from_step = 0;  // the checkpoint's step (0: started afresh)
  bool stopped = false;      // ended by stop_requested (a checkpoint was written)
  std::string resumed_from;       // the checkpoint resumed from (empty: none)
  std::string last_checkpoint;    // the newest checkpoint written or resumed from
};

}  // namespace msrec
