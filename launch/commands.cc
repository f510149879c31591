#include "launch/commands.h"

#include <cstdio>
#include <iostream>

#include "launch/flags.h"
#include "models/layers.h"
#include "models/model.h"
#include "trainer/data/generator.h"
#include "trainer/data/reader.h"
#include "trainer/data/shard.h"
#include "trainer/trainer.h"

#include <filesystem>
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
  o.num_scenarios = FLAGS_num_scenarios;
  o.scenario_decay = FLAGS_scenario_decay;
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
  std::error_code ec;
  std::filesystem::create_directories(FLAGS_output, ec);
  if (ec) return Status::IoError("cannot create " + FLAGS_output + ": " + ec.message());
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
  ReaderStats stats;
  MSREC_RETURN_IF_ERROR(
      ConvertToShards(SplitList(FLAGS_input), ro, FLAGS_output, FLAGS_rows_per_block, &stats));
  std::printf("wrote %s: %s\n", FLAGS_output.c_str(), stats.ToString().c_str());
  return Status::OK();
}

Status RunTrain() {
  MSREC_ASSIGN_OR_RETURN(JobSpec spec, JobSpecFromFlags());
  const TrainOptions options = TrainOptionsFromFlags();
  MSREC_ASSIGN_OR_RETURN(TrainResult result, Train(spec, options));
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ScenarioNames(options.model_dir));
  std::printf("trained %lld steps, %lld samples in %.1f s (%.0f samples/s)\n",
              static_cast<long long>(result.steps), static_cast<long long>(result.samples),
              result.train_seconds, result.samples / std::max(result.train_seconds, 1e-9));
  if (!options.val_files.empty()) PrintMetrics("validation", result.val, names);
  if (!options.test_files.empty()) PrintMetrics("test", result.test, names);
  return Status::OK();
}

Status RunEval() {
  const EvalOptions options = EvalOptionsFromFlags(SplitList(FLAGS_input));
  MSREC_ASSIGN_OR_RETURN(EvalMetrics metrics, Evaluate(options));
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ScenarioNames(options.model_dir));
  PrintMetrics("eval", metrics, names);
  return Status::OK();
}

Status RunPredict() {
  if (FLAGS_output.empty()) return Status::InvalidArgument("predict needs --output");
  return Predict(EvalOptionsFromFlags(SplitList(FLAGS_input)), FLAGS_output);
}

Status RunInfo() {
  MSREC_ASSIGN_OR_RETURN(JobSpec spec, JobSpecFromFlags());
  return Status::OK();
}

}  // namespace msrec
