#include "trainer/trainer.h"
#include "trainer/train_checkpoint.h"
#include "common/file_util.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>
#include <random>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/hash.h"
#include "common/timer.h"
#include "models/layers.h"
#include "trainer/data/reader.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"
#include "trainer/embedding_bridge.h"
#include "trainer/job_io.h"
#include "trainer/model_store.h"

namespace msrec {
namespace {

// Runs the model over `reader` without gradients, feeding the accumulator and,
// if `on_batch` is set, handing it each batch and its probabilities.
template <typename OnBatch>
Status RunInference(Model& model, EmbeddingBridge& bridge, Reader& reader, int label_index,
                    MetricsAccumulator* metrics, OnBatch on_batch) {
  torch::NoGradGuard no_grad;
  model.eval();
  Batch batch;
  while (true) {
    MSREC_ASSIGN_OR_RETURN(bool more, reader.Next(&batch));
    if (!more) break;
    if (batch.size == 0) continue;
    MSREC_ASSIGN_OR_RETURN(EmbeddingLookup lookup, bridge.Lookup(batch, /*requires_grad=*/false));
    torch::Tensor probs;
    try {
      probs = torch::sigmoid(model.Forward(BatchInput(batch, lookup.embeddings)).logits)
                  .to(torch::kCPU)
                  .contiguous();
    } catch (const c10::Error& e) {
      return Status::Internal(std::string("model forward failed: ") + e.what_without_backtrace());
    }
    const float* p = probs.data_ptr<float>();
    if (metrics != nullptr) {
      std::vector<float> labels(batch.size);
      for (int64_t i = 0; i < batch.size; ++i) labels[i] = batch.labels[i * batch.num_labels + label_index];
      metrics->Add(batch.size, p, labels.data(), batch.scenario.data(),
                   batch.oracle.empty() ? nullptr : batch.oracle.data());
    }
    on_batch(batch, p);
  }
  model.train();
  return Status::OK();
}

// Opens a reader over `files` with the job's schema and fixed scenario map.
Result<std::unique_ptr<Reader>> OpenJobReader(const std::vector<std::string>& files,
                                              const SchemaSpec& schema, ScenarioMap& map,
                                              int batch_size, int threads, int64_t max_bad_rows,
                                              int part_index = 0, int num_parts = 1) {
  ReaderOptions ro;
  ro.part_index = part_index;
  ro.num_parts = num_parts;
  ro.schema = schema;
  ro.scenario_map = &map;
  ro.batch_size = batch_size;
  ro.num_threads = threads;
  ro.max_bad_rows = max_bad_rows;
  return OpenReader(files, ro);
}

// Evaluates `files`; with `workers`, each worker scores its part and the
// metrics are computed over every worker's predictions.
Result<EvalMetrics> EvaluateFiles(Model& model, EmbeddingBridge& bridge,
                                  const std::vector<std::string>& files, const SchemaSpec& schema,
                                  ScenarioMap& map, int label_index, int batch_size,
                                  int threads, int64_t max_bad_rows,
                                  const WorkerGroup* workers = nullptr) {
  MSREC_ASSIGN_OR_RETURN(
      auto reader, OpenJobReader(files, schema, map, batch_size, threads, max_bad_rows,
                                 workers ? workers->rank() : 0, workers ? workers->size() : 1));
  MetricsAccumulator metrics(map.size());
  MSREC_RETURN_IF_ERROR(RunInference(model, bridge, *reader, label_index, &metrics,
                                     [](const Batch&, const float*) {}));
  if (workers != nullptr) MSREC_RETURN_IF_ERROR(GatherMetrics(*workers->comm, &metrics));
  LOG(INFO) << "evaluated " << files[0] << (files.size() > 1 ? " ..." : "") << ": "
            << reader->stats().ToString();
  return metrics.Compute();
}

// The schema `spec` resolves to on `file` (opening a reader resolves it).
Result<Schema> ResolveSchema(const SchemaSpec& spec, ScenarioMap& map, const std::string& file) {
  MSREC_ASSIGN_OR_RETURN(auto reader, OpenJobReader({file}, spec, map, 1, 1, 0));
  return reader->schema();
}

std::string FormatEta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
  return buf;
}

// The task loss of one training batch (plus the model's auxiliary losses):
// own-path BCE; with SSIM's per-instance `shared` mask (0/1, undefined when
// off) shared instances train every scenario's path; kAllShared trains every
// path for every instance (MT-Backbone-S).
torch::Tensor StepLoss(Model& model, const ModelInput& input, const torch::Tensor& labels,
                       const torch::Tensor& shared, TrainMode mode, int num_scenarios) {
  ModelOutput out;
  torch::Tensor loss;
  if (shared.defined() && shared.sum().item<double>() > 0) {
    // Every path of the shared rows, the own path of the others.
    out = SharedInstanceForward(model, input, shared, num_scenarios, /*all_values=*/false);
    loss = SsimLoss(out.logits, labels, input.scenario, shared);
  } else if (mode == TrainMode::kAllShared) {
    out = model.ForwardAllScenarios(input, num_scenarios);
    // The mean over instances and paths.
    loss = torch::binary_cross_entropy_with_logits(out.logits, labels.unsqueeze(1).expand_as(out.logits));
  } else {
    out = model.Forward(input);
    loss = torch::binary_cross_entropy_with_logits(out.logits, labels);
  }
  for (auto& aux : out.aux_losses) loss = loss + aux.second;
  return loss;
}

// Shuffles a stream of batches through a pool of up to `pool_rows` rows:
// fills the pool, emits it in a seeded random order as batches of
// `batch_size`, refills. A pool as large as the data shuffles the whole epoch;
// a smaller one is a window shuffle (bounded memory). Not thread-safe.
class ShufflePool {
 public:
  ShufflePool(Reader* reader, int64_t pool_rows, int64_t batch_size, uint64_t seed)
      : reader_(reader), pool_rows_(pool_rows), batch_size_(batch_size), rng_(seed) {}

  Result<bool> Next(Batch* out) {
    if (emitted_ >= pool_.size) {
      MSREC_ASSIGN_OR_RETURN(bool filled, Refill());
      if (!filled) return false;
    }
    out->num_cat_fields = pool_.num_cat_fields;
    out->num_dense = pool_.num_dense;
    out->num_labels = pool_.num_labels;
    out->ClearRows();
    const int64_t n = std::min(batch_size_, pool_.size - emitted_);
    for (int64_t k = 0; k < n; ++k) out->AppendRow(pool_, order_[emitted_ + k]);
    emitted_ += n;
    return true;
  }

 private:
  Result<bool> Refill() {
    pool_.ClearRows();
    emitted_ = 0;
    while (pool_.size < pool_rows_) {
      MSREC_ASSIGN_OR_RETURN(bool more, reader_->Next(&scratch_));
      if (!more) break;
      if (pool_.size == 0) {
        pool_.num_cat_fields = scratch_.num_cat_fields;
        pool_.num_dense = scratch_.num_dense;
        pool_.num_labels = scratch_.num_labels;
      }
      pool_.AppendRows(scratch_, 0, scratch_.size);
    }
    if (pool_.size == 0) return false;
    order_.resize(pool_.size);
    std::iota(order_.begin(), order_.end(), int64_t{0});
    std::shuffle(order_.begin(), order_.end(), rng_);
    return true;
  }

  Reader* reader_;
  const int64_t pool_rows_;
  const int64_t batch_size_;
  std::mt19937_64 rng_;
  Batch pool_, scratch_;
  std::vector<int64_t> order_;
  int64_t emitted_ = 0;
};

// The training batches of one epoch on this worker: skips empty batches,
// shuffles (ShufflePool) when asked, keeps this worker's batches under
// DataSharding::kBatches, and ends the epoch for every worker at once
// (AgreeOnStep). Not thread-safe.
class EpochBatches {
 public:
  // `shuffle_rows` > 0 shuffles through a pool of that many rows, seeded with
  // `seed` (the same seed gives the same order: resume relies on it).
  EpochBatches(std::unique_ptr<Reader> reader, const WorkerGroup* workers,
               const std::atomic<bool>* stop_requested, int64_t shuffle_rows,
               int64_t batch_size, uint64_t seed)
      : reader_(std::move(reader)), workers_(workers), stop_requested_(stop_requested) {
    if (shuffle_rows > 0) {
      shuffle_ = std::make_unique<ShufflePool>(reader_.get(), shuffle_rows, batch_size, seed);
    }
  }

  Reader& reader() { return *reader_; }
  // True once Next ended the epoch because a stop was requested (on any worker).
  bool stopped() const { return stopped_; }
  // True once Next ended the epoch because some worker's slice was exhausted.
  bool exhausted() const { return exhausted_; }

  // The next batch: false at the end of the epoch. *global_rows: the rows of
  // this step over all workers.
  Result<bool> Next(Batch* batch, int64_t* global_rows) {
    bool stop = stop_requested_ != nullptr && stop_requested_->load();
    if (workers_ == nullptr && stop) {
      stopped_ = true;
      return false;
    }
    bool have = false;
    while (!have) {
      MSREC_ASSIGN_OR_RETURN(bool more, shuffle_ ? shuffle_->Next(batch) : reader_->Next(batch));
      if (!more) break;
      if (batch->size == 0) continue;
      if (workers_ != nullptr && workers_->sharding == DataSharding::kBatches) {
        const int64_t index = batches_read_++;
        if (index % workers_->size() != workers_->rank()) continue;
      }
      have = true;
    }
    *global_rows = have ? batch->size : 0;
    if (workers_ == nullptr) {
      exhausted_ = !have;
      return have;
    }
    bool all_have = false;
    MSREC_RETURN_IF_ERROR(
        AgreeOnStep(*workers_->comm, have, batch->size, &stop, &all_have, global_rows));
    stopped_ = stop;
    exhausted_ = !stop && !all_have;
    return all_have && !stop;
  }

 private:
  std::unique_ptr<Reader> reader_;
  std::unique_ptr<ShufflePool> shuffle_;
  const WorkerGroup* workers_;
  const std::atomic<bool>* stop_requested_;
  int64_t batches_read_ = 0;
  bool stopped_ = false;
  bool exhausted_ = false;
};

// Running loss and throughput between two progress lines. Not thread-safe.
class ProgressWindow {
 public:
  void Add(int64_t samples, double loss) {
    loss_sum_ += loss;
    ++steps_;
    samples_ += samples;
  }
  // Logs "epoch E step S loss L samples/s R progress P% ETA T", appends the
  // same as a JSON line to `metrics`, and starts a new window. `fraction` is
  // the share of the whole job done, `elapsed` its seconds so far.
  void Log(int epoch, int64_t step, double fraction, double elapsed, std::ostream& metrics) {
    const double rate = samples_ / std::max(timer_.Seconds(), 1e-9);
    const double loss = loss_sum_ / std::max<int64_t>(steps_, 1);
    fraction = std::min(std::max(fraction, 1e-9), 1.0);
    char line[256];
    std::snprintf(line, sizeof(line),
                  "epoch %d step %lld loss %.5f samples/s %.0f progress %.1f%% ETA %s", epoch,
                  static_cast<long long>(step), loss, rate, 100 * fraction,
                  FormatEta(elapsed / fraction - elapsed).c_str());
    LOG(INFO) << line;
    metrics << "{\"event\":\"train\",\"epoch\":" << epoch << ",\"step\":" << step
            << ",\"loss\":" << loss << ",\"samples_per_sec\":" << rate << "}\n";
    metrics.flush();
    loss_sum_ = 0;
    steps_ = 0;
    samples_ = 0;
    timer_.Reset();
  }

 private:
  double loss_sum_ = 0;
  int64_t steps_ = 0, samples_ = 0;
  Timer timer_;
};

// Early stopping on validation AUC. With patience > 0 it snapshots the dense
// weights and every embedding row (the servers' checkpoint, embedded or
// remote) whenever validation AUC improves and can restore that snapshot at
// the end; with patience 0 the last epoch is kept. Collective over the
// workers of a data-parallel job (every worker sees the same metrics, so every
// worker takes the same decision).
class BestEpochKeeper {
 public:
  BestEpochKeeper(int patience, const std::string& model_dir, PsClient* ps,
                  const WorkerGroup* workers)
      : patience_(patience),
        dense_path_(model_dir + "/best_dense.pt"),
        rows_dir_(model_dir + "/best_rows"),
        ps_(ps),
        workers_(workers) {}

  // Records epoch `epoch`'s validation metrics into `result` if they are the
  // best so far (or always without patience). Returns true when training
  // should stop.
  Result<bool> EndOfEpoch(int epoch, const EvalMetrics& val, Model& model, TrainResult* result) {
    if (patience_ <= 0 || !(val.overall.auc <= result->val.overall.auc)) {
      result->val = val;
      result->best_epoch = epoch;
      if (patience_ > 0) {
        if (chief()) {
          MSREC_RETURN_IF_ERROR(SaveDenseParameters(model, dense_path_));
          MSREC_RETURN_IF_ERROR(RemoveTree(rows_dir_));
          MSREC_RETURN_IF_ERROR(ps_->SaveCheckpoint(rows_dir_, result->steps));
        }
        MSREC_RETURN_IF_ERROR(Barrier("early stopping: saving the best epoch"));
      }
      return false;
    }
    if (epoch - result->best_epoch < patience_) return false;
    LOG(INFO) << "early stopping after epoch " << epoch << ": best validation AUC "
              << result->val.overall.auc << " at epoch " << result->best_epoch;
    return true;
  }

  // Restores the snapshot of `best_epoch` (if one was taken) into `model`
  // and the servers' rows, and deletes it. Pushes would continue after
  // `current_step`.
  Status RestoreBest(int best_epoch, int64_t current_step, Model* model) {
    if (patience_ <= 0 || best_epoch <= 0) return Status::OK();
    LOG(INFO) << "restoring the model of epoch " << best_epoch;
    if (chief()) MSREC_RETURN_IF_ERROR(ps_->LoadCheckpoint(rows_dir_, current_step));
    MSREC_RETURN_IF_ERROR(LoadDenseParameters(model, dense_path_));
    MSREC_RETURN_IF_ERROR(Barrier("early stopping: restoring the best epoch"));
    if (chief()) {
      std::remove(dense_path_.c_str());
      MSREC_RETURN_IF_ERROR(RemoveTree(rows_dir_));
    }
    return Status::OK();
  }

 private:
  bool chief() const { return workers_ == nullptr || workers_->rank() == 0; }
  Status Barrier(const char* what) {
    return workers_ == nullptr ? Status::OK() : workers_->comm->Barrier().WithContext(what);
  }

  const int patience_;
  const std::string dense_path_, rows_dir_;
  PsClient* ps_;
  const WorkerGroup* workers_;
};

// Finetune's hand-over: every parameter "tower0.X" is copied to "towerK.X".
Status CopyScenarioZeroToAll(Model& model) {
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  auto buffers = model.named_buffers();
  int copied = 0;
  for (auto* dict : {&params, &buffers}) {
    for (const auto& item : *dict) {
      const std::string& name = item.key();
      if (name.rfind("tower", 0) != 0 || name.rfind("tower0.", 0) == 0) continue;
      const size_t dot = name.find('.');
      if (dot == std::string::npos) continue;
      const torch::Tensor* source = dict->find("tower0" + name.substr(dot));
      if (source == nullptr) continue;
      item.value().copy_(*source);
      ++copied;
    }
  }
  if (copied == 0) {
    return Status::InvalidArgument("train mode finetune needs a model with per-scenario towers "
                                   "named tower<k> (mt_backbone)");
  }
  return Status::OK();
}

}  // namespace

Result<torch::Device> ParseDevice(const std::string& name) {
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      return Status::Unavailable("--device " + name + ": this LibTorch has no CUDA or sees no GPU");
    }
    return device;
  } catch (const c10::Error& e) {
    return Status::InvalidArgument("--device: '" + name + "' is not a device (cpu, cuda, cuda:1)");
  }
}

bool ParseTrainMode(const std::string& name, TrainMode* mode) {
  if (name == "mt") *mode = TrainMode::kMultiTask;
  else if (name == "all_shared") *mode = TrainMode::kAllShared;
  else if (name == "st") *mode = TrainMode::kSingle;
  else if (name == "finetune") *mode = TrainMode::kFinetune;
  else return false;
  return true;
}

std::string PhaseTimes::ToString() const {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "read %.2fs pull %.2fs compute %.2fs push %.2fs", read, pull,
                compute, push);
  return buf;
}

Result<TrainResult> Train(JobSpec spec, const TrainOptions& options) {
  if (options.train_files.empty()) return Status::InvalidArgument("no training files (--train)");
  if (options.model_dir.empty()) return Status::InvalidArgument("no model directory (--model_dir)");
  const WorkerGroup* workers = options.workers;
  if (workers != nullptr && (workers->comm == nullptr || workers->ps == nullptr)) {
    return Status::InvalidArgument("a data-parallel worker needs a communicator and a remote "
                                   "parameter server (--num_servers >= 1)");
  }
  const bool chief = workers == nullptr || workers->rank() == 0;  // writes the model directory
  MSREC_RETURN_IF_ERROR(MakeDirs(options.model_dir).WithContext("model directory"));
  SetComputeThreads(options.intra_op_threads);
  if (options.deterministic) at::globalContext().setDeterministicAlgorithms(true, false);

  MSREC_ASSIGN_OR_RETURN(SchemaSpec schema_spec, SchemaSpec::Parse(spec.schema));
  ScenarioMap scenario_map;
  if (!options.scenario_map_file.empty()) {
    MSREC_ASSIGN_OR_RETURN(scenario_map, ScenarioMap::Load(options.scenario_map_file));
  } else if (!options.sharing.selector_dir.empty()) {
    MSREC_ASSIGN_OR_RETURN(scenario_map,
                           ScenarioMap::Load(options.sharing.selector_dir + "/scenario_map.tsv"));
  } else {
    MSREC_ASSIGN_OR_RETURN(scenario_map, ScenarioMap::Scan(options.train_files, schema_spec));
  }
  scenario_map.set_fixed(true);
  MSREC_ASSIGN_OR_RETURN(Schema schema,
                         ResolveSchema(schema_spec, scenario_map, options.train_files[0]));
  if (chief) MSREC_RETURN_IF_ERROR(scenario_map.Save(options.model_dir + "/scenario_map.tsv"));
  if (spec.label_index < 0 || spec.label_index >= schema.num_labels()) {
    return Status::InvalidArgument("label index " + std::to_string(spec.label_index) +
                                   " out of range: the schema has " +
                                   std::to_string(schema.num_labels()) + " label column(s)");
  }
  spec.model_config.num_fields = schema.num_cat_fields();
  spec.model_config.num_dense = schema.num_dense();
  spec.model_config.num_scenarios = int(scenario_map.size());
  spec.model_config.embedding_dim = spec.table.dim;
  spec.table.seed = options.seed;
  spec.scenario_private_embeddings = options.train_mode == TrainMode::kSingle;
  if (chief) MSREC_RETURN_IF_ERROR(SaveJobSpec(spec, options.model_dir + "/job.txt"));

  std::shared_ptr<Model> model;
  {
    // The initial weights come from LibTorch's global generator: workers on
    // threads of one process (tests) seed and draw one after another.
    static std::mutex seeded_init;
    std::lock_guard<std::mutex> lock(seeded_init);
    torch::manual_seed(options.seed);
    MSREC_ASSIGN_OR_RETURN(model, BuiltinModels().Create(spec.model, spec.model_config));
  }
  MSREC_ASSIGN_OR_RETURN(const torch::Device device, ParseDevice(options.device));
  if (!device.is_cpu() && options.sharing.sources() > 0) {
    return Status::InvalidArgument("SSIM sharing runs on the CPU only for now (--device cpu)");
  }
  model->to(device);
  LOG(INFO) << "model " << spec.model << ": " << spec.model_config.num_fields << " fields x "
            << spec.table.dim << " dims, " << spec.model_config.num_dense << " dense, "
            << spec.model_config.num_scenarios << " scenarios, "
            << CountParameters(*model) << " dense parameters";
  if (options.sharing.sources() > 0 && options.train_mode != TrainMode::kMultiTask) {
    return Status::InvalidArgument("SSIM sharing (--ssim_selector, --shared_flags, --ssim_random) "
                                   "needs --train_mode mt");
  }
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<SharingPolicy> sharing,
                         MakeSharingPolicy(options.sharing, scenario_map.values()));
  if (sharing != nullptr && workers != nullptr) sharing->set_communicator(workers->comm);
  bool restored = false;
  MSREC_RETURN_IF_ERROR(RestoreInitialBackbone(options.sharing.selector_dir, spec.model,
                                               spec.model_config, model.get(), &restored));
  if (restored) LOG(INFO) << "backbone restarts from the selector's pre-search state";
  if (workers != nullptr) MSREC_RETURN_IF_ERROR(BroadcastParameters(*model, *workers->comm));
  // The embedded default serves its rows from a server on a thread of this
  // process; a data-parallel job's come from its server ranks.
  std::unique_ptr<EmbeddedPs> embedded;
  if (workers == nullptr) {
    MSREC_ASSIGN_OR_RETURN(embedded, StartModelStore(spec.store, options.model_dir,
                                                     ModelStoreUse::kTrain,
                                                     options.store_memory_mb));
  }
  PsClient* ps = workers != nullptr ? workers->ps : embedded->client();
  MSREC_RETURN_IF_ERROR(ps->CreateTable(spec.table));
  EmbeddingBridge bridge(ps, spec.table.name, spec.table.dim, spec.scenario_private_embeddings);
  bridge.set_device(device);
  torch::optim::Adam optimizer(
      model->parameters(),
      torch::optim::AdamOptions(options.learning_rate).weight_decay(options.weight_decay));
  TrainCheckpointer checkpointer(options.checkpoint, workers, model.get(), &optimizer, ps);
  MSREC_ASSIGN_OR_RETURN(const TrainingPosition start, checkpointer.Restore());

  const std::string metrics_path =
      options.metrics_file.empty() ? options.model_dir + "/metrics.jsonl" : options.metrics_file;
  std::ofstream metrics_out;  // worker 0 only
  if (chief) metrics_out.open(metrics_path, std::ios::app);
  if (chief && !metrics_out) return Status::IoError("cannot open metrics file " + metrics_path);
  std::unique_ptr<DenseGradientSync> gradient_sync;
  if (workers != nullptr) {
    gradient_sync = std::make_unique<DenseGradientSync>(*model, *workers->comm, workers->bucket_bytes);
  }

  if (options.early_stopping_patience > 0 && options.val_files.empty()) {
    return Status::InvalidArgument("early stopping needs validation files (--val)");
  }
  BestEpochKeeper keeper(options.early_stopping_patience, options.model_dir, ps, workers);
  TrainResult result;
  result.val.overall.auc = -1;
  result.steps = result.resumed_from_step = start.step;
  result.last_checkpoint = result.resumed_from = checkpointer.last_path();
  Timer train_timer;
  ProgressWindow progress;
  bool done = options.max_steps > 0 && start.step >= options.max_steps;
  for (int epoch = start.epoch; epoch <= options.epochs && !done; ++epoch) {
    const bool by_chunks = workers != nullptr && workers->sharding == DataSharding::kChunks;
    MSREC_ASSIGN_OR_RETURN(
        auto reader, OpenJobReader(options.train_files, schema_spec, scenario_map,
                                   options.batch_size, options.reader_threads, options.max_bad_rows,
                                   by_chunks ? workers->rank() : 0, by_chunks ? workers->size() : 1));
    // Each epoch its own order; under chunk sharding each worker its own (its
    // rows differ anyway); under batch sharding all the same (exactness).
    const uint64_t shuffle_seed = Mix64(options.seed ^ Mix64(static_cast<uint64_t>(epoch) +
                                                             (by_chunks ? 1000003u * workers->rank() : 0)));
    EpochBatches batches(std::move(reader), workers, options.stop_requested,
                         options.shuffle_buffer, options.batch_size, shuffle_seed);
    const bool shared_phase =
        options.train_mode == TrainMode::kFinetune && epoch <= options.finetune_shared_epochs;
    Batch batch;
    model->train();
    int64_t epoch_steps = 0;
    if (epoch == start.epoch && start.epoch_steps > 0) {
      // Resuming mid-epoch: the batches the checkpoint had trained on are read
      // and skipped (the same order, so the same batches follow).
      int64_t skip_rows = 0;
      while (epoch_steps < start.epoch_steps) {
        MSREC_ASSIGN_OR_RETURN(bool more, batches.Next(&batch, &skip_rows));
        if (!more) break;
        ++epoch_steps;
      }
    }
    // One batch ahead: the next batch is read and its rows' pull is under way
    // (for step + 1) while this step computes and pushes.
    Batch next_batch;
    int64_t next_rows = 0;
    PendingLookup next_lookup;
    const auto read_ahead = [&](int64_t for_step) -> Result<bool> {
      Timer read;
      MSREC_ASSIGN_OR_RETURN(bool more, batches.Next(&next_batch, &next_rows));
      result.phases.read += read.Seconds();
      if (!more) return false;
      Timer pull;
      MSREC_ASSIGN_OR_RETURN(next_lookup, bridge.Start(next_batch, for_step));
      result.phases.pull += pull.Seconds();
      return true;
    };
    bool have_next = false;
    if (!(options.max_steps > 0 && result.steps >= options.max_steps)) {
      MSREC_ASSIGN_OR_RETURN(have_next, read_ahead(result.steps + 1));
    }
    while (have_next) {
      std::swap(batch, next_batch);
      const int64_t global_rows = next_rows;
      const int64_t step = ++result.steps;
      Timer phase;
      MSREC_ASSIGN_OR_RETURN(EmbeddingLookup lookup,
                             bridge.Finish(std::move(next_lookup), batch, /*requires_grad=*/true));
      result.phases.pull += phase.Seconds();
      // The next batch is read and its rows requested before this step
      // computes: the server fetches them from its store meanwhile (a
      // synchronous server answers once this step's push is applied).
      const bool last_step = options.max_steps > 0 && step >= options.max_steps;
      have_next = false;
      if (!last_step) {
        MSREC_ASSIGN_OR_RETURN(have_next, read_ahead(step + 1));
      }
      phase.Reset();
      torch::Tensor shared;  // SSIM: per-instance g (0/1), undefined without a policy
      if (sharing != nullptr) {
        MSREC_ASSIGN_OR_RETURN(shared, sharing->SharedMask(batch));
      }
      torch::Tensor loss;
      try {
        ModelInput input = BatchInput(batch, lookup.embeddings);
        if (shared_phase) input.scenario = torch::zeros_like(input.scenario);
        loss = StepLoss(*model, input, BatchLabels(batch, spec.label_index).to(device), shared,
                        options.train_mode, spec.model_config.num_scenarios);
        optimizer.zero_grad();
        if (gradient_sync != nullptr) gradient_sync->StartStep();
        loss.backward();
        if (gradient_sync != nullptr) MSREC_RETURN_IF_ERROR(gradient_sync->Finish());
        optimizer.step();
      } catch (const c10::Error& e) {
        return Status::Internal("training step " + std::to_string(step) + " failed: " +
                                e.what_without_backtrace());
      }
      result.phases.compute += phase.Seconds();
      phase.Reset();
      PendingPush push = bridge.StartPush(lookup, step);
      MSREC_RETURN_IF_ERROR(push.Wait());
      result.phases.push += phase.Seconds();
      ++epoch_steps;
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) {
        return Status::Internal("loss is " + std::to_string(loss_value) + " at step " +
                                std::to_string(step) + "; lower the learning rates");
      }
      result.samples += global_rows;
      progress.Add(global_rows, loss_value);
      if (workers != nullptr && workers->check_parameters && step == 1) {
        MSREC_RETURN_IF_ERROR(CheckSameParameters(*model, *workers->comm));
      }
      if (chief && step % options.log_every == 0) {
        const double fraction = options.max_steps > 0
                                    ? double(step) / options.max_steps
                                    : (epoch - 1 + batches.reader().Progress()) / options.epochs;
        progress.Log(epoch, step, fraction, train_timer.Seconds(), metrics_out);
      }
      if (checkpointer.due(step)) {
        MSREC_RETURN_IF_ERROR(checkpointer.Save({step, epoch, epoch_steps}));
      }
      if (last_step) done = true;
    }
    if (batches.stopped()) {  // SIGTERM/SIGINT: checkpoint the finished steps and return
      if (checkpointer.enabled()) {
        MSREC_RETURN_IF_ERROR(checkpointer.Save({result.steps, epoch, epoch_steps}));
      }
      result.stopped = true;
      result.last_checkpoint = checkpointer.last_path();
      result.train_seconds += train_timer.Seconds();
      LOG(INFO) << "stopped at step " << result.steps << " on request"
                << (checkpointer.enabled() ? "; checkpoint " + checkpointer.last_path()
                                           : std::string("; no checkpoint (--checkpoint_dir)"));
      return result;
    }
    if (batches.exhausted() ? checkpointer.at_epoch_end() : checkpointer.enabled()) {
      // The epoch ended (next: epoch + 1 from its start) or max_steps did.
      const TrainingPosition position = batches.exhausted()
                                            ? TrainingPosition{result.steps, epoch + 1, 0}
                                            : TrainingPosition{result.steps, epoch, epoch_steps};
      if (!checkpointer.due(result.steps) || batches.exhausted()) {
        MSREC_RETURN_IF_ERROR(checkpointer.Save(position));
      }
    }
    result.last_checkpoint = checkpointer.last_path();
    LOG(INFO) << "epoch " << epoch << " read: " << batches.reader().stats().ToString();
    if (workers != nullptr && workers->check_parameters) {
      MSREC_RETURN_IF_ERROR(CheckSameParameters(*model, *workers->comm));
    }
    if (shared_phase) MSREC_RETURN_IF_ERROR(CopyScenarioZeroToAll(*model));
    LOG(INFO) << "time so far: " << result.phases.ToString();
    if (!options.val_files.empty()) {
      const double paused = train_timer.Seconds();
      MSREC_ASSIGN_OR_RETURN(EvalMetrics val,
                             EvaluateFiles(*model, bridge, options.val_files, schema_spec, scenario_map,
                                           spec.label_index, options.eval_batch_size,
                                           options.reader_threads, options.max_bad_rows, workers));
      LOG(INFO) << "epoch " << epoch << " validation:\n" << val.ToTable(scenario_map.values());
      metrics_out << "{\"event\":\"eval\",\"split\":\"val\",\"epoch\":" << epoch
                  << ",\"step\":" << result.steps << ",\"metrics\":" << val.ToJson() << "}\n";
      metrics_out.flush();
      MSREC_ASSIGN_OR_RETURN(const bool stop,
                             keeper.EndOfEpoch(epoch, val, *model, &result));
      done = done || stop;  // max_steps may have ended the job already
      result.train_seconds -= train_timer.Seconds() - paused;
    } else {
      result.best_epoch = epoch;
    }
  }
  result.train_seconds += train_timer.Seconds();
  MSREC_RETURN_IF_ERROR(keeper.RestoreBest(result.best_epoch, result.steps, model.get()));
  if (!options.test_files.empty()) {
    MSREC_ASSIGN_OR_RETURN(result.test,
                           EvaluateFiles(*model, bridge, options.test_files, schema_spec, scenario_map,
                                         spec.label_index, options.eval_batch_size,
                                         options.reader_threads, options.max_bad_rows, workers));
    metrics_out << "{\"event\":\"eval\",\"split\":\"test\",\"step\":" << result.steps
                << ",\"metrics\":" << result.test.ToJson() << "}\n";
  }
  if (chief) MSREC_RETURN_IF_ERROR(SaveDenseParameters(*model, options.model_dir + "/dense.pt"));
  if (embedded != nullptr) {
    // The server logs its statistics and persists the rows in the model directory.
    MSREC_RETURN_IF_ERROR(embedded->Stop());
  } else if (chief) {
    MSREC_RETURN_IF_ERROR(ps->Flush());  // every server makes its rows durable
  }
  return result;
}

namespace {
// A trained model reopened from its directory.
struct LoadedJob {
  JobSpec spec;
  SchemaSpec schema;
  ScenarioMap scenario_map;
  std::shared_ptr<Model> model;
  std::unique_ptr<EmbeddedPs> store;  // the trained rows, read only
  torch::Device device = torch::kCPU;
};

Result<LoadedJob> LoadJob(const EvalOptions& options) {
  if (options.files.empty()) return Status::InvalidArgument("no input files");
  SetComputeThreads(options.intra_op_threads);
  LoadedJob job;
  MSREC_ASSIGN_OR_RETURN(job.spec, LoadJobSpec(options.model_dir + "/job.txt"));
  MSREC_ASSIGN_OR_RETURN(job.schema, SchemaSpec::Parse(job.spec.schema));
  MSREC_ASSIGN_OR_RETURN(job.scenario_map,
                         ScenarioMap::Load(options.model_dir + "/scenario_map.tsv"));
  MSREC_ASSIGN_OR_RETURN(job.model, BuiltinModels().Create(job.spec.model, job.spec.model_config));
  MSREC_RETURN_IF_ERROR(LoadDenseParameters(job.model.get(), options.model_dir + "/dense.pt"));
  MSREC_ASSIGN_OR_RETURN(job.device, ParseDevice(options.device));
  job.model->to(job.device);
  MSREC_ASSIGN_OR_RETURN(job.store, StartModelStore(job.spec.store, options.model_dir,
                                                    ModelStoreUse::kRead, options.store_memory_mb));
  MSREC_RETURN_IF_ERROR(job.store->client()->CreateTable(job.spec.table));
  return job;
}
}  // namespace

Result<EvalMetrics> Evaluate(const EvalOptions& options) {
  MSREC_ASSIGN_OR_RETURN(LoadedJob job, LoadJob(options));
  EmbeddingBridge bridge(job.store->client(), job.spec.table.name, job.spec.table.dim,
                         job.spec.scenario_private_embeddings);
  bridge.set_device(job.device);
  return EvaluateFiles(*job.model, bridge, options.files, job.schema, job.scenario_map,
                       job.spec.label_index, options.batch_size, options.reader_threads,
                       options.max_bad_rows);
}

Status Predict(const EvalOptions& options, const std::string& output) {
  MSREC_ASSIGN_OR_RETURN(LoadedJob job, LoadJob(options));
  EmbeddingBridge bridge(job.store->client(), job.spec.table.name, job.spec.table.dim,
                         job.spec.scenario_private_embeddings);
  bridge.set_device(job.device);
  std::ofstream out(output);
  if (!out) return Status::IoError("cannot open prediction output " + output);
  out << "score\n";
  for (const std::string& file : options.files) {
    MSREC_ASSIGN_OR_RETURN(auto reader, OpenJobReader({file}, job.schema, job.scenario_map,
                                                      options.batch_size, options.reader_threads,
                                                      options.max_bad_rows));
    int64_t next_record = 0;
    auto write_batch = [&](const Batch& batch, const float* probs) {
      char buf[32];
      for (int64_t i = 0; i < batch.size; ++i) {
        for (; next_record < batch.record[i]; ++next_record) out << "nan\n";
        std::snprintf(buf, sizeof(buf), "%.7g\n", probs[i]);
        out << buf;
        ++next_record;
      }
    };
    MSREC_RETURN_IF_ERROR(RunInference(*job.model, bridge, *reader, job.spec.label_index,
                                       nullptr, write_batch));
    for (; next_record < reader->stats().rows_ok + reader->stats().total_bad(); ++next_record) out << "nan\n";
    LOG(INFO) << "scored " << file << ": " << reader->stats().ToString();
  }
  out.close();
  if (!out) return Status::IoError("writing " + output + " failed");
  return Status::OK();
}

Result<std::vector<std::string>> ScenarioNames(const std::string& model_dir) {
  MSREC_ASSIGN_OR_RETURN(ScenarioMap map, ScenarioMap::Load(model_dir + "/scenario_map.tsv"));
  return map.values();
}

}  // namespace msrec
