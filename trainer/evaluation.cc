#include "trainer/evaluation.h"

#include <cstdio>
#include <fstream>

#include "trainer/job_io.h"
#include "trainer/job_spec.h"
#include "trainer/model_dir.h"
#include "trainer/internal/model_store.h"

namespace msrec {
namespace {

// Runs the model over `reader` without gradients, feeding the accumulator and,
// if `on_batch` is set, handing it each batch and its probabilities.
// Where an instance's gAUC group key comes from: the schema's id column or a
// single-valued categorical column (its hashed key).
struct GroupColumn {
  bool enabled = false;
  bool is_id = false;
  int slot = 0;  // categorical field index
};

Result<GroupColumn> ResolveGroupColumn(const Schema& schema, const std::string& name) {
  GroupColumn g;
  if (name.empty()) return g;
  for (const Schema::Column& c : schema.columns()) {
    if (c.name != name) continue;
    if (c.kind == ColumnKind::kId) {
      g.is_id = true;
    } else if (c.kind == ColumnKind::kCategorical) {
      g.slot = c.slot;
    } else {
      return Status::InvalidArgument("--gauc_column " + name +
                                     ": must be an id or a single-valued categorical column");
    }
    g.enabled = true;
    return g;
  }
  return Status::InvalidArgument("--gauc_column " + name + ": no such column in the schema");
}

void GroupKeys(const Batch& batch, const GroupColumn& g, std::vector<uint64_t>* keys) {
  keys->resize(batch.size);
  for (int64_t i = 0; i < batch.size; ++i) {
    (*keys)[i] = g.is_id ? batch.instance_id[i]
                         : batch.keys[batch.offsets[i * batch.num_cat_fields + g.slot]];
  }
}

template <typename OnBatch>
Status RunInference(Model& model, EmbeddingBridge& bridge, Reader& reader, int label_index,
                    MetricsAccumulator* metrics, const GroupColumn& group, OnBatch on_batch) {
  std::vector<uint64_t> keys;
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
      if (group.enabled) GroupKeys(batch, group, &keys);
      metrics->Add(batch.size, p, labels.data(), batch.scenario.data(),
                   batch.oracle.empty() ? nullptr : batch.oracle.data(),
                   group.enabled ? keys.data() : nullptr);
    }
    on_batch(batch, p);
  }
  model.train();
  return Status::OK();
}

// A trained model reopened from its directory.
struct LoadedJob {
  JobSpec spec;
  ScenarioMap scenario_map;
  JobData data;
  std::shared_ptr<Model> model;
  std::unique_ptr<EmbeddedPs> store;  // the trained rows, read only
  std::unique_ptr<EmbeddingBridge> bridge;
};

Result<std::unique_ptr<LoadedJob>> LoadJob(const EvalOptions& options) {
  if (options.files.empty()) return Status::InvalidArgument("no input files");
  SetComputeThreads(options.intra_op_threads);
  const ModelDir dir(options.model_dir);
  MSREC_RETURN_IF_ERROR(dir.Verify());
  auto job = std::make_unique<LoadedJob>();
  MSREC_ASSIGN_OR_RETURN(job->spec, LoadJobSpec(dir.job()));
  MSREC_ASSIGN_OR_RETURN(job->data.schema, SchemaSpec::Parse(job->spec.schema));
  MSREC_ASSIGN_OR_RETURN(job->scenario_map, ScenarioMap::Load(dir.scenario_map()));
  if (job->scenario_map.size() != job->spec.model_config.num_scenarios) {
    return Status::Corruption(dir.scenario_map() + " holds " +
                              std::to_string(job->scenario_map.size()) + " scenarios, " +
                              dir.job() + " " + std::to_string(job->spec.model_config.num_scenarios));
  }
  job->data.scenario_map = &job->scenario_map;
  job->data.label_index = job->spec.label_index;
  job->data.reader_threads = options.reader_threads;
  job->data.max_bad_rows = options.max_bad_rows;
  job->data.multiline_quotes = options.csv_multiline_quotes;
  job->data.gauc_column = options.gauc_column;
  MSREC_ASSIGN_OR_RETURN(job->model, BuiltinModels().Create(job->spec.model, job->spec.model_config));
  MSREC_RETURN_IF_ERROR(LoadDenseParameters(job->model.get(), dir.dense()));
  MSREC_ASSIGN_OR_RETURN(const torch::Device device, ParseDevice(options.device));
  job->model->to(device);
  MSREC_ASSIGN_OR_RETURN(job->store, StartModelStore(job->spec.store, options.model_dir,
                                                     ModelStoreUse::kRead,
                                                     options.server_settings));
  MSREC_RETURN_IF_ERROR(job->store->client()->CreateTable(job->spec.table));
  job->bridge = std::make_unique<EmbeddingBridge>(job->store->client(), job->spec.table.name,
                                                  job->spec.table.dim,
                                                  job->spec.scenario_private_embeddings);
  job->bridge->set_device(device);
  return job;
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

Result<std::unique_ptr<Reader>> OpenJobReader(const std::vector<std::string>& files,
                                              const JobData& data, int batch_size,
                                              int part_index, int num_parts) {
  ReaderOptions ro;
  ro.part_index = part_index;
  ro.num_parts = num_parts;
  ro.schema = data.schema;
  ro.scenario_map = data.scenario_map;
  ro.batch_size = batch_size;
  ro.num_threads = data.reader_threads;
  ro.max_bad_rows = data.max_bad_rows;
  ro.multiline_quotes = data.multiline_quotes;
  return OpenReader(files, ro);
}

Result<EvalMetrics> EvaluateFiles(Model& model, EmbeddingBridge& bridge,
                                  const std::vector<std::string>& files, const JobData& data,
                                  int batch_size, const WorkerGroup* workers) {
  MSREC_ASSIGN_OR_RETURN(auto reader, OpenJobReader(files, data, batch_size,
                                                    workers ? workers->rank() : 0,
                                                    workers ? workers->size() : 1));
  MetricsAccumulator metrics(data.scenario_map->size());
  MSREC_ASSIGN_OR_RETURN(const GroupColumn group,
                         ResolveGroupColumn(reader->schema(), data.gauc_column));
  MSREC_RETURN_IF_ERROR(RunInference(model, bridge, *reader, data.label_index, &metrics, group,
                                     [](const Batch&, const float*) {}));
  if (workers != nullptr) MSREC_RETURN_IF_ERROR(GatherMetrics(*workers->comm, &metrics));
  LOG(INFO) << "evaluated " << files[0] << (files.size() > 1 ? " ..." : "") << ": "
            << reader->stats().ToString();
  return metrics.Compute();
}

Result<EvalMetrics> Evaluate(const EvalOptions& options) {
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<LoadedJob> job, LoadJob(options));
  return EvaluateFiles(*job->model, *job->bridge, options.files, job->data, options.batch_size,
                       /*workers=*/nullptr);
}

namespace {
// One probability per input record of `options.files` into `path` ("nan" for
// a record that was reported as bad).
Status WriteScores(LoadedJob& job, const EvalOptions& options, const std::string& path) {
  std::ofstream out(path);
  if (!out) return Status::IoError("cannot open prediction output " + path);
  out << "score\n";
  for (const std::string& file : options.files) {
    MSREC_ASSIGN_OR_RETURN(auto reader, OpenJobReader({file}, job.data, options.batch_size));
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
    MSREC_RETURN_IF_ERROR(RunInference(*job.model, *job.bridge, *reader, job.data.label_index,
                                       nullptr, GroupColumn(), write_batch));
    const ReaderStats stats = reader->stats();
    for (; next_record < stats.rows_ok + stats.total_bad(); ++next_record) out << "nan\n";
    LOG(INFO) << "scored " << file << ": " << stats.ToString();
  }
  out.close();
  if (!out) return Status::IoError("writing " + path + " failed (disk full?)");
  return Status::OK();
}
}  // namespace

Status Predict(const EvalOptions& options, const std::string& output) {
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<LoadedJob> job, LoadJob(options));
  // Written beside `output` and renamed over it: a failed run leaves the old file.
  return WriteAtomically(output, [&](const std::string& tmp) {
    return WriteScores(*job, options, tmp);
  });
}

Result<std::vector<std::string>> ScenarioNames(const std::string& model_dir) {
  MSREC_ASSIGN_OR_RETURN(ScenarioMap map, ScenarioMap::Load(ModelDir(model_dir).scenario_map()));
  return map.values();
}

}  // namespace msrec
