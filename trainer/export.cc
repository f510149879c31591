#include "trainer/export.h"

#include <memory>
#include <vector>

#include "common/file_util.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/store_snapshot.h"
#include "trainer/checkpoint.h"
#include "trainer/job_io.h"
#include "trainer/model_dir.h"

namespace msrec {
namespace {

// The rows of each server under `dir`: dumps (server-<s>.bin) or databases.
Result<std::vector<std::string>> ServerParts(const std::string& dir) {
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  std::vector<std::string> parts;
  for (const std::string& name : names) {
    const bool dump = name.size() > 4 && name.compare(name.size() - 4, 4, ".bin") == 0;
    const bool db = name.find('.') == std::string::npos || name.find(".rocksdb") != std::string::npos;
    if (name.rfind("server-", 0) == 0 && (dump || db)) parts.push_back(dir + "/" + name);
  }
  return parts;
}

// Every source of rows the training job may have left.
Status GatherRows(const ExportOptions& options, const JobSpec& spec, EmbeddingStore* out,
                  uint64_t* rows) {
  const std::string& dir = options.model_dir;
  const std::string ps_dir = options.ps_dir.empty() ? ModelDir(dir).parameter_servers() : options.ps_dir;
  std::vector<std::string> sources;
  if (PathExists(ps_dir)) {  // a multi-process job: one dump (server-<s>.bin) or database per server
    MSREC_ASSIGN_OR_RETURN(sources, ServerParts(ps_dir));
  } else {
    sources.push_back(ModelDir(dir).embeddings(spec.store));
  }
  for (const std::string& path : sources) {
    MSREC_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddingStore> part, OpenStoreSnapshot(path));
    MSREC_RETURN_IF_ERROR(CopyRows(*part, /*weights_only=*/true, out, rows));
  }
  if (sources.empty()) return Status::NotFound("no embedding rows found under " + dir);
  return Status::OK();
}

}  // namespace

Result<ExportStats> ExportBundle(const ExportOptions& options) {
  if (options.model_dir.empty() || options.output.empty()) {
    return Status::InvalidArgument("export needs --model_dir and --output");
  }
  MSREC_ASSIGN_OR_RETURN(JobSpec spec, LoadJobSpec(ModelDir(options.model_dir).job()));
  std::unique_ptr<EmbeddingStore> rows = MakeMemoryStore();
  ExportStats stats;
  MSREC_RETURN_IF_ERROR(GatherRows(options, spec, rows.get(), &stats.rows));
  MSREC_RETURN_IF_ERROR(RemoveTree(options.output));
  MSREC_RETURN_IF_ERROR(MakeDirs(options.output));
  spec.store = "memory";
  spec.table.optimizer.kind = SparseOptimizerKind::kSgd;  // the rows carry weights only
  MSREC_RETURN_IF_ERROR(SaveJobSpec(spec, ModelDir(options.output).job()));
  const ModelDir from(options.model_dir), to(options.output);
  for (const auto& file : {std::make_pair(from.scenario_map(), to.scenario_map()),
                           std::make_pair(from.dense(), to.dense())}) {
    MSREC_ASSIGN_OR_RETURN(std::string data, ReadFile(file.first));
    MSREC_RETURN_IF_ERROR(WriteFileDurably(file.second, data));
  }
  MSREC_RETURN_IF_ERROR(SaveStore(*rows, to.embeddings("memory")));
  MSREC_ASSIGN_OR_RETURN(CheckpointInfo info, WriteManifest(options.output, TrainingPosition()));
  stats.bytes = info.bytes;
  return stats;
}

Status MergeServerRows(const std::string& dir, const std::string& output) {
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> parts, ServerParts(dir));
  if (parts.empty()) return Status::NotFound("no server rows under " + dir);
  std::unique_ptr<EmbeddingStore> rows = MakeMemoryStore();
  uint64_t count = 0;
  for (const std::string& path : parts) {
    MSREC_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddingStore> part, OpenStoreSnapshot(path));
    MSREC_RETURN_IF_ERROR(CopyRows(*part, /*weights_only=*/false, rows.get(), &count));
  }
  return SaveStore(*rows, output);
}

}  // namespace msrec
