#include "launch/commands.h"
#include "common/file_util.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>

#include "launch/flags.h"
#include "trainer/cluster_job.h"
#include "trainer/data/generator.h"
#include "trainer/data/reader.h"
#include "trainer/data/shard.h"
#include "trainer/export.h"
#include "trainer/job_io.h"
#include "trainer/report.h"
#include "trainer/ssim_search.h"
#include "trainer/trainer.h"

#include <fstream>

namespace msrec {
namespace {

void PrintMetrics(const std::string& title, const EvalMetrics& m,
                  const std::vector<std::string>& names) {
  std::cout << "== " << title << " ==\n" << m.ToTable(names) << std::flush;
}

}  // namespace

Status RunGen() {
  if (FLAGS_output.empty()) return Status::InvalidArgument("gen needs --output DIR");
  GeneratorOptions o;
  o.seed = FLAGS_seed;
  o.num_rows = FLAGS_rows;
  o.first_row = FLAGS_first_row;
  o.num_scenarios = FLAGS_num_scenarios;
  o.scenario_decay = FLAGS_scenario_decay;
  if (!(FLAGS_scenario_strength >= 0)) {
    return Status::InvalidArgument("--scenario_strength must be >= 0, not " +
                                   std::to_string(FLAGS_scenario_strength));
  }
  o.scenario_strength = FLAGS_scenario_strength;
  o.num_fields = FLAGS_num_fields;
  for (const std::string& v : SplitList(FLAGS_vocab_sizes)) {
    try {
      o.vocab_sizes.push_back(std::stoll(v));
    } catch (const std::exception&) {
      return Status::InvalidArgument("--vocab_sizes: bad size '" + v + "'");
    }
  }
  o.zipf_exponent = FLAGS_zipf;
  o.num_dense = FLAGS_num_dense;
  MSREC_RETURN_IF_ERROR(MakeDirs(FLAGS_output));
  MSREC_RETURN_IF_ERROR(GenerateCsvSplits(o, FLAGS_output, FLAGS_val_fraction, FLAGS_test_fraction));
  const std::string schema_path = FLAGS_output + "/schema.txt";
  std::ofstream schema(schema_path);
  schema << "# schema of the generated files; true_prob is the true click probability\n";
  std::string spec = SyntheticModel(o).SchemaSpecString();
  for (char& c : spec) {
    if (c == ',') c = '\n';
  }
  schema << spec << "\n";
  schema.close();
  if (!schema) return Status::IoError("cannot write " + schema_path);
  std::printf("wrote %s/{train,val,test}.csv (%lld rows) and %s\n", FLAGS_output.c_str(),
              static_cast<long long>(FLAGS_rows), schema_path.c_str());
  return Status::OK();
}

Status RunConvert() {
  if (FLAGS_output.empty()) return Status::InvalidArgument("convert needs --output FILE");
  ReaderOptions ro;
  if (!FLAGS_schema_file.empty()) {
    MSREC_ASSIGN_OR_RETURN(ro.schema, SchemaSpec::LoadFile(FLAGS_schema_file));
  } else {
    MSREC_ASSIGN_OR_RETURN(ro.schema, SchemaSpec::Parse(FLAGS_schema));
  }
  ScenarioMap map;
  if (!FLAGS_scenario_map.empty()) {
    MSREC_ASSIGN_OR_RETURN(map, ScenarioMap::Load(FLAGS_scenario_map));
    ro.scenario_map = &map;
  }
  ro.num_threads = FLAGS_reader_threads;
  ro.max_bad_rows = FLAGS_max_bad_rows;
  ro.multiline_quotes = FLAGS_csv_multiline_quotes;
  ReaderStats stats;
  MSREC_ASSIGN_OR_RETURN(const std::vector<std::string> inputs, InputsFromFlag(FLAGS_input));
  MSREC_RETURN_IF_ERROR(
      ConvertToShards(inputs, ro, FLAGS_output, FLAGS_rows_per_block, &stats));
  std::printf("wrote %s: %s\n", FLAGS_output.c_str(), stats.ToString().c_str());
  return Status::OK();
}

namespace {
// Set by SIGTERM/SIGINT; Train finishes its step, checkpoints and returns.
std::atomic<bool> stop_requested{false};
void RequestStop(int) { stop_requested.store(true); }

// Makes SIGTERM and SIGINT set the returned flag (TrainOptions::stop_requested).
const std::atomic<bool>* InstallStopHandlers() {
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  return &stop_requested;
}

// Prints what `msrec train` prints at the end (throughput, val and test tables).
Status PrintTrainResult(const TrainResult& result, const TrainOptions& options) {
  if (result.stopped) {
    std::printf("stopped by a signal after step %lld; checkpoint: %s (continue with --resume)\n",
                static_cast<long long>(result.steps),
                result.last_checkpoint.empty() ? "none" : result.last_checkpoint.c_str());
    return Status::OK();
  }
  if (result.resumed_from_step > 0) {
    std::printf("resumed from step %lld (%s)\n", static_cast<long long>(result.resumed_from_step),
                result.resumed_from.c_str());
    if (result.steps == result.resumed_from_step) {
      std::printf("the job was already complete at that checkpoint: nothing left to train\n");
    }
  }
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ScenarioNames(options.model_dir));
  std::printf("trained %lld steps, %lld samples in %.1f s (%.0f samples/s)\n",
              static_cast<long long>(result.steps), static_cast<long long>(result.samples),
              result.train_seconds, result.samples / std::max(result.train_seconds, 1e-9));
  if (!options.val_files.empty()) PrintMetrics("validation", result.val, names);
  if (!options.test_files.empty()) PrintMetrics("test", result.test, names);
  return Status::OK();
}

}  // namespace

Status RunTrain() {
  MSREC_ASSIGN_OR_RETURN(const JobSpec spec, JobSpecFromFlags());
  MSREC_ASSIGN_OR_RETURN(TrainOptions options, TrainOptionsFromFlags());
  options.stop_requested = InstallStopHandlers();
  return RunJob(ClusterOptionsFromFlags(options.model_dir), [&](const WorkerGroup* workers) -> Status {
    TrainOptions worker_options = options;
    worker_options.workers = workers;
    MSREC_ASSIGN_OR_RETURN(TrainResult result, Train(spec, worker_options));
    if (workers != nullptr && workers->rank() != 0) return Status::OK();
    return PrintTrainResult(result, worker_options);
  });
}


Status RunSsimSearch() {
  if (FLAGS_output.empty()) return Status::InvalidArgument("ssim-search needs --output DIR");
  MSREC_ASSIGN_OR_RETURN(const JobSpec spec, JobSpecFromFlags());
  MSREC_ASSIGN_OR_RETURN(SsimSearchOptions options, SsimSearchOptionsFromFlags());
  MSREC_ASSIGN_OR_RETURN(const std::vector<double> sweep, ShareSweepFromFlags());
  options.stop_requested = InstallStopHandlers();
  return RunJob(ClusterOptionsFromFlags(options.output_dir), [&](const WorkerGroup* workers) -> Status {
    SsimSearchOptions worker_options = options;
    worker_options.workers = workers;
    MSREC_ASSIGN_OR_RETURN(SsimSearchResult r, SsimSearch(spec, worker_options));
    const bool chief = workers == nullptr || workers->rank() == 0;
    if (r.stopped) {
      if (chief) {
        std::printf("search stopped by a signal after step %lld (continue with --resume)\n",
                    static_cast<long long>(r.steps));
      }
      return Status::OK();
    }
    if (chief) {
      std::printf("searched %lld steps, %lld samples in %.1f s (%.0f samples/s); shared %.3f of "
                  "instances (last step %.3f); wrote %s\n",
                  static_cast<long long>(r.steps), static_cast<long long>(r.samples), r.seconds,
                  r.samples / std::max(r.seconds, 1e-9), r.shared_fraction,
                  r.last_shared_fraction, worker_options.output_dir.c_str());
    }
    if (FLAGS_val.empty() || sweep.empty()) return Status::OK();
    // Every worker retrains (data-parallel, through the job's servers).
    MSREC_ASSIGN_OR_RETURN(TrainOptions train, TrainOptionsFromFlags());
    train.epochs = FLAGS_ssim_sweep_epochs;
    train.stop_requested = options.stop_requested;
    train.workers = workers;
    MSREC_ASSIGN_OR_RETURN(const ShareSweepResult swept,
                           ValidateShare(spec, train, worker_options.output_dir, sweep));
    if (!chief) return Status::OK();
    for (size_t i = 0; i < swept.shares.size(); ++i) {
      std::printf("share sweep: top %.3f: validation AUC %.4f\n", swept.shares[i], swept.val_auc[i]);
    }
    std::printf("share sweep: chose %.3f (the retrain's default share; --ssim_topk overrides)\n",
                swept.chosen);
    return Status::OK();
  });
}

Status RunSsimExport() {
  MSREC_ASSIGN_OR_RETURN(const SharedFlagsExportOptions options,
                         SharedFlagsExportOptionsFromFlags());
  if (options.selector_dir.empty()) {
    return Status::InvalidArgument("ssim-export needs --ssim_selector");
  }
  MSREC_ASSIGN_OR_RETURN(int64_t n, ExportSharedFlags(options));
  std::printf("wrote %lld flags to %s\n", static_cast<long long>(n), options.output.c_str());
  return Status::OK();
}

Status RunExport() {
  ExportOptions options;
  options.model_dir = FLAGS_model_dir;
  options.output = FLAGS_output;
  options.ps_dir = FLAGS_ps_dir;
  MSREC_ASSIGN_OR_RETURN(ExportStats stats, ExportBundle(options));
  std::printf("wrote serving bundle %s: %llu embedding rows, %.1f MiB\n", options.output.c_str(),
              static_cast<unsigned long long>(stats.rows), stats.bytes / 1048576.0);
  return Status::OK();
}

Status RunReport() {
  ReportOptions options;
  options.model_dirs = SplitList(FLAGS_compare);
  if (options.model_dirs.empty() && !FLAGS_model_dir.empty()) options.model_dirs = {FLAGS_model_dir};
  if (!FLAGS_output.empty()) options.output = FLAGS_output;
  MSREC_RETURN_IF_ERROR(WriteReport(options));
  std::printf("wrote %s (%zu run%s)\n", options.output.c_str(), options.model_dirs.size(),
              options.model_dirs.size() == 1 ? "" : "s");
  return Status::OK();
}

Status RunEval() {
  MSREC_ASSIGN_OR_RETURN(const EvalOptions options, EvalOptionsFromFlags());
  MSREC_ASSIGN_OR_RETURN(EvalMetrics metrics, Evaluate(options));
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ScenarioNames(options.model_dir));
  PrintMetrics("eval", metrics, names);
  return Status::OK();
}

Status RunPredict() {
  if (FLAGS_output.empty()) return Status::InvalidArgument("predict needs --output");
  MSREC_ASSIGN_OR_RETURN(const EvalOptions options, EvalOptionsFromFlags());
  return Predict(options, FLAGS_output);
}

Status RunInfo() {
  MSREC_ASSIGN_OR_RETURN(JobSpec spec, JobSpecFromFlags(/*need_schema=*/false));
  ModelConfig& c = spec.model_config;
  c.num_fields = FLAGS_num_fields;
  c.num_dense = FLAGS_num_dense;
  c.num_scenarios = FLAGS_num_scenarios;
  c.embedding_dim = spec.table.dim;
  MSREC_ASSIGN_OR_RETURN(const std::string info, DescribeModel(spec));
  std::printf("%s", info.c_str());
  return Status::OK();
}

}  // namespace msrec
