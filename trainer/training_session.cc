#include "trainer/training_session.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <ATen/CPUGeneratorImpl.h>

#include "common/hash.h"
#include "models/layers.h"
#include "trainer/data/reader_decorators.h"
#include "trainer/device_sync.h"
#include "common/file_util.h"
#include "trainer/job_io.h"
#include "trainer/internal/model_store.h"

namespace msrec {

TrainingSession::TrainingSession(JobSpec spec, const TrainOptions& options)
    : spec_(std::move(spec)), options_(options), dir_(options.model_dir) {}

TrainingSession::~TrainingSession() = default;

Result<std::unique_ptr<TrainingSession>> TrainingSession::Open(JobSpec spec,
                                                               const TrainOptions& options) {
  if (options.train_files.empty()) return Status::InvalidArgument("no training files (--train)");
  if (options.model_dir.empty()) return Status::InvalidArgument("no model directory (--model_dir)");
  const WorkerGroup* workers = options.workers;
  if (workers != nullptr && (workers->comm == nullptr || workers->ps == nullptr)) {
    return Status::InvalidArgument("a data-parallel worker needs a communicator and a remote "
                                   "parameter server (--num_servers >= 1)");
  }
  if (!options.init_from.empty() && options.init_from == options.model_dir) {
    return Status::InvalidArgument("--init_from names the --model_dir being written; train the "
                                   "new day into a new directory");
  }
  if (options.early_stopping_patience > 0 && options.val_files.empty()) {
    return Status::InvalidArgument("early stopping needs validation files (--val)");
  }
  std::unique_ptr<TrainingSession> s(new TrainingSession(std::move(spec), options));
  MSREC_RETURN_IF_ERROR(s->dir_.Create());
  if (s->chief()) {
    // One writer per directory, and readers refuse it until Finish commits it.
    MSREC_ASSIGN_OR_RETURN(s->lock_, s->dir_.LockForWriting());
    MSREC_RETURN_IF_ERROR(s->dir_.Uncommit());
  }
  SetComputeThreads(options.intra_op_threads);
  if (options.deterministic) at::globalContext().setDeterministicAlgorithms(true, false);
  MSREC_RETURN_IF_ERROR(s->OpenData());
  MSREC_RETURN_IF_ERROR(s->CreateModel());
  MSREC_RETURN_IF_ERROR(s->OpenRows());
  if (s->chief()) {
    const std::string path =
        options.metrics_file.empty() ? s->dir_.metrics() : options.metrics_file;
    s->metrics_out_.open(path, std::ios::app);
    if (!s->metrics_out_) return Status::IoError("cannot open metrics file " + path);
    s->metrics_out_ << "{\"event\":\"start\",\"model\":\"" << s->spec_.model << "\"}\n";
    if (!options.tensorboard_dir.empty()) {
      MSREC_ASSIGN_OR_RETURN(s->events_, EventWriter::Open(options.tensorboard_dir));
      LOG(INFO) << "TensorBoard events: " << s->events_->path();
    }
  }
  return s;
}

// The schema and the fixed scenario map; completes the spec's shapes and
// writes job.txt and scenario_map.tsv.
Status TrainingSession::OpenData() {
  MSREC_ASSIGN_OR_RETURN(data_.schema, SchemaSpec::Parse(spec_.schema));
  if (!options_.scenario_map_file.empty()) {
    MSREC_ASSIGN_OR_RETURN(scenario_map_, ScenarioMap::Load(options_.scenario_map_file));
  } else if (!options_.init_from.empty()) {
    MSREC_ASSIGN_OR_RETURN(scenario_map_, InitialScenarioMap());
  } else if (!options_.sharing.selector_dir.empty()) {
    MSREC_ASSIGN_OR_RETURN(scenario_map_,
                           ScenarioMap::Load(ModelDir(options_.sharing.selector_dir).scenario_map()));
  } else {
    MSREC_ASSIGN_OR_RETURN(scenario_map_,
                           ScenarioMap::Scan(options_.train_files, data_.schema, /*delimiter=*/0,
                                             options_.csv_multiline_quotes));
  }
  scenario_map_.set_fixed(true);
  data_.scenario_map = &scenario_map_;
  data_.label_index = spec_.label_index;
  data_.reader_threads = options_.reader_threads;
  data_.max_bad_rows = options_.max_bad_rows;
  data_.multiline_quotes = options_.csv_multiline_quotes;
  data_.gauc_column = options_.gauc_column;
  Schema schema;
  {
    MSREC_ASSIGN_OR_RETURN(auto probe, OpenJobReader({options_.train_files[0]}, data_, 1));
    schema = probe->schema();
  }
  if (chief()) MSREC_RETURN_IF_ERROR(scenario_map_.Save(dir_.scenario_map()));
  if (spec_.label_index < 0 || spec_.label_index >= schema.num_labels()) {
    return Status::InvalidArgument("label index " + std::to_string(spec_.label_index) +
                                   " out of range: the schema has " +
                                   std::to_string(schema.num_labels()) + " label column(s)");
  }
  spec_.model_config.num_fields = schema.num_cat_fields();
  spec_.model_config.num_dense = schema.num_dense();
  spec_.model_config.num_scenarios = int(scenario_map_.size());
  spec_.model_config.embedding_dim = spec_.table.dim;
  spec_.table.seed = options_.seed;
  spec_.scenario_private_embeddings = options_.train_mode == TrainMode::kSingle;
  if (chief()) MSREC_RETURN_IF_ERROR(SaveJobSpec(spec_, dir_.job()));
  return Status::OK();
}

namespace {
// The initial weights come from LibTorch's global generator: workers on
// threads of one process (tests) draw one after another, each continuing its
// own stream (seeded with the job's seed).
std::mutex init_rng_mutex;
}  // namespace

void TrainingSession::Initialise(const std::function<void()>& create) {
  std::lock_guard<std::mutex> lock(init_rng_mutex);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  if (init_rng_state_.defined()) {
    std::lock_guard<std::mutex> gen_lock(gen.mutex());
    gen.set_state(init_rng_state_);
  } else {
    torch::manual_seed(options_.seed);
  }
  create();
  std::lock_guard<std::mutex> gen_lock(gen.mutex());
  init_rng_state_ = gen.get_state();
}

// --init_from: the source model's scenario map with the new data's new values
// appended (existing ids unchanged).
Result<ScenarioMap> TrainingSession::InitialScenarioMap() {
  const ModelDir source(options_.init_from);
  MSREC_RETURN_IF_ERROR(source.Verify().WithContext("--init_from"));
  MSREC_ASSIGN_OR_RETURN(const JobSpec from, LoadJobSpec(source.job()));
  if (from.model != spec_.model || from.table.dim != spec_.table.dim) {
    return Status::InvalidArgument("--init_from " + options_.init_from + " holds a " + from.model +
                                   " with " + std::to_string(from.table.dim) +
                                   "-dim embeddings; this job trains a " + spec_.model + " with " +
                                   std::to_string(spec_.table.dim));
  }
  MSREC_ASSIGN_OR_RETURN(ScenarioMap map, ScenarioMap::Load(source.scenario_map()));
  MSREC_ASSIGN_OR_RETURN(const ScenarioMap seen,
                         ScenarioMap::Scan(options_.train_files, data_.schema, /*delimiter=*/0,
                                           options_.csv_multiline_quotes));
  map.set_fixed(false);
  const int before = map.size();
  for (const std::string& value : seen.values()) map.FindOrAdd(value);
  if (map.size() > before) {
    LOG(INFO) << "--init_from: " << map.size() - before << " new scenario(s) get fresh paths";
  }
  return map;
}

// --init_from: the source's dense weights (all workers read the same file) and,
// through worker 0, every embedding row, before the first step.
Status TrainingSession::InitFromModel() {
  const ModelDir source(options_.init_from);
  std::vector<std::string> kept;
  MSREC_RETURN_IF_ERROR(LoadMatchingParameters(model_.get(), source.dense(), &kept));
  LOG(INFO) << "--init_from " << options_.init_from << ": dense weights loaded"
            << (kept.empty() ? std::string() : "; fresh (new shapes): " + std::to_string(kept.size()) +
                                                   " tensors, e.g. " + kept.front());
  if (chief()) {
    // The source rows as server parts of a checkpoint directory (links).
    const std::string parts = dir_.root() + "/init_rows";
    MSREC_RETURN_IF_ERROR(RemoveTree(parts));
    MSREC_RETURN_IF_ERROR(MakeDirs(parts));
    std::vector<std::pair<std::string, std::string>> links;  // target, name
    if (PathExists(source.embeddings("memory"))) {
      links.emplace_back(source.embeddings("memory"), "server-0.bin");
    } else if (PathExists(source.embeddings("rocksdb"))) {
      links.emplace_back(source.embeddings("rocksdb"), "server-0.rocksdb");
    } else if (PathExists(source.parameter_servers())) {
      // A job with server ranks: each server's dump or database (any server
      // count restores them: each server keeps its own keys).
      MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(source.parameter_servers()));
      for (const std::string& name : names) {
        if (name.rfind("server-", 0) != 0) continue;
        const bool dump = name.size() > 4 && name.compare(name.size() - 4, 4, ".bin") == 0;
        links.emplace_back(source.parameter_servers() + "/" + name,
                           dump ? name : name + ".rocksdb");
      }
    }
    if (links.empty()) {
      return Status::NotFound("--init_from " + options_.init_from + ": no embedding rows");
    }
    for (const auto& [target, name] : links) {
      if (::symlink(target.c_str(), (parts + "/" + name).c_str()) != 0) {
        return Status::IoError("cannot link " + target + ": " + std::strerror(errno));
      }
    }
    MSREC_RETURN_IF_ERROR(ps_->LoadCheckpoint(parts, /*step=*/0));
    MSREC_RETURN_IF_ERROR(RemoveTree(parts));
  }
  if (workers() != nullptr) MSREC_RETURN_IF_ERROR(workers()->comm->Barrier());
  return Status::OK();
}

Status TrainingSession::CreateModel() {
  Status created;
  Initialise([&] {
    Result<std::shared_ptr<Model>> model = BuiltinModels().Create(spec_.model, spec_.model_config);
    if (model.ok()) model_ = model.value();
    created = model.status();
  });
  MSREC_RETURN_IF_ERROR(created);
  // A worker whose job chose its GPU (--device cuda: the local rank's).
  const bool job_picks = workers() != nullptr && !workers()->device.empty() &&
                         options_.device == "cuda";
  MSREC_ASSIGN_OR_RETURN(device_, ParseDevice(job_picks ? workers()->device : options_.device));
  model_->to(device_);
  LOG(INFO) << "model " << spec_.model << ": " << spec_.model_config.num_fields << " fields x "
            << spec_.table.dim << " dims, " << spec_.model_config.num_dense << " dense, "
            << spec_.model_config.num_scenarios << " scenarios, " << CountParameters(*model_)
            << " dense parameters";
  AddDensePart("dense", model_, options_.learning_rate, options_.weight_decay);
  return Status::OK();
}

// The embedded default serves its rows from a server on a thread of this
// process; a data-parallel job's come from its server ranks.
Status TrainingSession::OpenRows() {
  if (workers() == nullptr) {
    MSREC_ASSIGN_OR_RETURN(embedded_, StartModelStore(spec_.store, dir_.root(),
                                                      ModelStoreUse::kTrain,
                                                      options_.server_settings));
    ps_ = embedded_->client();
  } else {
    ps_ = workers()->ps;
  }
  MSREC_RETURN_IF_ERROR(ps_->CreateTable(spec_.table));
  bridge_ = std::make_unique<EmbeddingBridge>(ps_, spec_.table.name, spec_.table.dim,
                                              spec_.scenario_private_embeddings);
  bridge_->set_device(device_);
  return Status::OK();
}

void TrainingSession::AddDensePart(std::string name, std::shared_ptr<torch::nn::Module> module,
                                   double lr, double weight_decay) {
  DensePart part;
  part.name = std::move(name);
  part.optimizer = std::make_unique<torch::optim::Adam>(
      module->parameters(), torch::optim::AdamOptions(lr).weight_decay(weight_decay));
  part.module = std::move(module);
  parts_.push_back(std::move(part));
}

torch::nn::Module* TrainingSession::part(const std::string& name) {
  for (DensePart& p : parts_) {
    if (p.name == name) return p.module.get();
  }
  return nullptr;
}

std::vector<torch::Tensor> TrainingSession::DenseParameters() const {
  std::vector<torch::Tensor> params;
  for (const DensePart& part : parts_) {
    for (const torch::Tensor& p : part.module->parameters()) params.push_back(p);
  }
  return params;
}

Result<TrainingPosition> TrainingSession::Start() {
  // A checkpoint restored below replaces all of this (a resumed job).
  if (!options_.init_from.empty()) MSREC_RETURN_IF_ERROR(InitFromModel());
  const WorkerGroup* w = workers();
  const std::vector<torch::Tensor> params = w != nullptr ? DenseParameters()
                                                         : std::vector<torch::Tensor>();
  if (w != nullptr && device_.is_cuda() && w->device_comm != nullptr) {
#ifdef MSREC_WITH_CUDA
    // CUDA workers: parameters and gradients stay on the GPUs (NCCL).
    MSREC_RETURN_IF_ERROR(BroadcastParametersOnDevice(params, *w->device_comm));
    gradient_sync_ = MakeDeviceGradientSync(params, *w->device_comm, w->bucket_bytes);
#endif
  } else if (w != nullptr) {
    MSREC_RETURN_IF_ERROR(BroadcastParameters(params, *w->comm));
    gradient_sync_ = std::make_unique<DenseGradientSync>(params, *w->comm, w->bucket_bytes);
  }
  checkpointer_ = std::make_unique<TrainCheckpointer>(options_.checkpoint, workers(), &parts_, ps_);
  return checkpointer_->Restore();
}

Status TrainingSession::Backward(const torch::Tensor& loss) {
  for (DensePart& part : parts_) part.optimizer->zero_grad();
  if (gradient_sync_ != nullptr) gradient_sync_->StartStep();
  if (loss.defined()) (step_weight_ == 1.0 ? loss : loss * step_weight_).backward();
  if (gradient_sync_ != nullptr) MSREC_RETURN_IF_ERROR(gradient_sync_->Finish());
  for (DensePart& part : parts_) part.optimizer->step();
  return Status::OK();
}

Result<std::unique_ptr<StepSource>> TrainingSession::OpenEpoch(int epoch) {
  const WorkerGroup* w = workers();
  const bool by_chunks = w != nullptr && w->sharding == DataSharding::kChunks;
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader,
                         OpenJobReader(options_.train_files, data_, options_.batch_size,
                                       by_chunks ? w->rank() : 0, by_chunks ? w->size() : 1));
  if (options_.shuffle_buffer > 0) {
    // Each epoch its own order (or epoch 1's every epoch); under chunk
    // sharding each worker its own (its rows differ anyway); under batch
    // sharding all the same (exactness).
    const int order_epoch = options_.reshuffle_each_epoch ? epoch : 1;
    const uint64_t seed = Mix64(options_.seed ^ Mix64(static_cast<uint64_t>(order_epoch) +
                                                      (by_chunks ? 1000003u * w->rank() : 0)));
    reader = std::make_unique<ShuffledReader>(std::move(reader), options_.shuffle_buffer,
                                              options_.batch_size, seed);
  }
  if (w == nullptr) return LocalSteps(std::move(reader), options_.stop_requested);
  if (w->sharding == DataSharding::kBatches) {
    reader = std::make_unique<StridedReader>(std::move(reader), w->rank(), w->size());
  }
  return AgreedSteps(std::move(reader), options_.stop_requested, *w->comm);
}

Result<EvalMetrics> TrainingSession::Evaluate(const std::vector<std::string>& files) {
  return EvaluateFiles(*model_, *bridge_, files, data_, options_.eval_batch_size, workers());
}

Status TrainingSession::CheckSameParameters() {
  if (workers() == nullptr || !workers()->check_parameters) return Status::OK();
  return msrec::CheckSameParameters(DenseParameters(), *workers()->comm);
}

Status TrainingSession::Finish() {
  if (chief()) MSREC_RETURN_IF_ERROR(SaveDenseParameters(*model_, dir_.dense()));
  // The embedded server logs its statistics and persists the rows in the
  // model directory; remote servers are flushed by worker 0.
  if (embedded_ != nullptr) {
    MSREC_RETURN_IF_ERROR(embedded_->Stop());
  } else if (chief()) {
    MSREC_RETURN_IF_ERROR(ps_->Flush());
  }
  // Committed last: a directory with a MANIFEST is complete (its rows are
  // listed when they are in it; a job with server ranks keeps them in ps/).
  return chief() ? dir_.Commit(spec_.store) : Status::OK();
}

}  // namespace msrec
