// The training loop (one process, or one data-parallel worker of many),
// evaluation and prediction.
// A trained model lives in a model directory:
//   job.txt           the model name, ModelConfig, schema, table and label (key=value lines)
//   scenario_map.tsv  scenario value -> id, shared by train, eval and predict
//   dense.pt          the dense parameters (LibTorch archive)
//   embeddings/       the RocksDB embedding store, or embeddings.bin for the memory store
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "models/model.h"
#include "parameter_server/table_config.h"
#include "trainer/metrics.h"
#include "trainer/checkpoint.h"
#include "trainer/distributed.h"
#include "trainer/sharing.h"

namespace msrec {

// Everything needed to rebuild a model for eval/predict; saved as job.txt.
struct JobSpec {
  std::string model = "mt_backbone";  // registry name
  ModelConfig model_config;           // shapes filled from the schema and scenario map
  std::string schema;                 // schema spec string (see docs/data.md)
  TableConfig table;                  // the embedding table and its sparse optimizer
  std::string store = "memory";       // "memory" (dumped to embeddings.bin) or "rocksdb"
  int label_index = 0;                // which label column is the task's target
  bool scenario_private_embeddings = false;  // every scenario has its own rows (ST-Backbone)
};

// How instances train the scenarios' paths (MODELS.md, "training modes").
enum class TrainMode {
  kMultiTask,  // "mt": instance i trains only its scenario's path (MT-Backbone and the rest)
  kAllShared,  // "all_shared": every instance trains every scenario's path (MT-Backbone-S)
  kSingle,     // "st": independent models per scenario: scenario-private embeddings and
               // the model's own routing (ST-Backbone with mt_backbone)
  kFinetune,   // "finetune": the first finetune_shared_epochs train scenario 0's path on all
               // data and copy it to every scenario; later epochs train per scenario
};
bool ParseTrainMode(const std::string& name, TrainMode* mode);

struct TrainOptions {
  std::vector<std::string> train_files;  // CSV/TSV (optionally .gz) or binary shards
  std::vector<std::string> val_files;    // evaluated after every epoch (may be empty)
  std::vector<std::string> test_files;   // evaluated once at the end (may be empty)
  std::string model_dir;                 // output directory (created)
  std::string scenario_map_file;         // fixed scenario map; empty = built from train files
  int epochs = 1;                        // passes over the training files
  int64_t max_steps = 0;                 // > 0: stop after this many steps
  int batch_size = 2048;                 // training mini-batch
  int64_t shuffle_buffer = 1000000;      // rows shuffled together each epoch (seeded by seed and
                                         // epoch); >= the data's rows: a full shuffle; 0: file
                                         // order. Logs are often sorted by time: keep it on
  int eval_batch_size = 8192;            // evaluation batch
  double learning_rate = 1e-3;           // dense Adam step size
  double weight_decay = 0.0;             // dense Adam L2
  int intra_op_threads = 1;              // LibTorch intra-op threads
  int reader_threads = 1;                // parser threads per reader
  int64_t max_bad_rows = 100;            // the job fails once more rows than this are bad
  int64_t log_every = 50;                // progress line every N steps
  TrainMode train_mode = TrainMode::kMultiTask;  // see TrainMode
  int finetune_shared_epochs = 1;        // kFinetune: epochs of shared training first
  int early_stopping_patience = 0;       // > 0 (needs val_files): stop after this many epochs
                                         // without a better validation AUC and keep the best
                                         // epoch's model; 0 = train every epoch, keep the last
  std::string metrics_file;              // JSON lines; empty = <model_dir>/metrics.jsonl
  uint64_t seed = 2022;                  // torch and initialisation seed
  std::string device = "cpu";            // "cpu" or "cuda[:i]": where the model runs
  int64_t store_memory_mb = 1024;        // embedded --store rocksdb: RAM the store may hold
                                         // (StoreOptions::memory_mb)
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

// Trains `spec` (shapes are completed from the data) and saves it into
// options.model_dir. Progress goes to LOG(INFO); metrics to the JSON-lines file.
Result<TrainResult> Train(JobSpec spec, const TrainOptions& options);

struct EvalOptions {
  std::string model_dir;          // a directory written by Train
  std::vector<std::string> files; // data to evaluate or score
  int batch_size = 8192;
  int intra_op_threads = 1;
  int reader_threads = 1;
  int64_t max_bad_rows = 100;
  std::string device = "cpu";     // "cpu" or "cuda[:i]"
  int64_t store_memory_mb = 1024; // --store rocksdb: RAM the store may hold (StoreOptions)
};

// Loads a trained model and computes per-scenario metrics on `files`.
Result<EvalMetrics> Evaluate(const EvalOptions& options);

// Loads a trained model and writes one probability per input record to
// `output` ("nan" for a record that was reported as bad).
Status Predict(const EvalOptions& options, const std::string& output);

// Parses "cpu", "cuda", "cuda:1"; Unavailable if CUDA is asked for but absent.
Result<torch::Device> ParseDevice(const std::string& name);

// Scenario names of a model directory, index = id.
Result<std::vector<std::string>> ScenarioNames(const std::string& model_dir);

}  // namespace msrec
