// Evaluation and prediction: a trained model directory (model_dir.h) scored
// on data files, and the evaluation the training loop runs after an epoch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"
#include "models/model.h"
#include "parameter_server/ps_service.h"
#include "trainer/data/reader.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"
#include "trainer/distributed.h"
#include "trainer/embedding_bridge.h"
#include "trainer/metrics.h"

namespace msrec {

struct EvalOptions {
  std::string model_dir;          // a directory written by Train
  std::vector<std::string> files; // data to evaluate or score
  int batch_size = 8192;
  int intra_op_threads = 1;
  int reader_threads = 1;
  int64_t max_bad_rows = 100;
  std::string device = "cpu";     // "cpu" or "cuda[:i]"
  ServerSettings server_settings; // the embedded server's store and threads
  bool csv_multiline_quotes = false;  // ReaderOptions::multiline_quotes
  std::string gauc_column;        // grouped AUC by this column (an id or categorical column)
};

// Loads a trained model and computes per-scenario metrics on `files`.
Result<EvalMetrics> Evaluate(const EvalOptions& options);

// Loads a trained model and writes one probability per input record to
// `output` ("nan" for a record that was reported as bad).
Status Predict(const EvalOptions& options, const std::string& output);

// Scenario names of a model directory, index = id.
Result<std::vector<std::string>> ScenarioNames(const std::string& model_dir);

// Parses "cpu", "cuda", "cuda:1"; Unavailable if CUDA is asked for but absent.
Result<torch::Device> ParseDevice(const std::string& name);

// How a job reads its data: the schema, the (fixed) scenario map and the
// reader settings.
struct JobData {
  SchemaSpec schema;
  ScenarioMap* scenario_map = nullptr;  // not owned
  int label_index = 0;
  int reader_threads = 1;
  int64_t max_bad_rows = 100;
  bool multiline_quotes = false;  // ReaderOptions::multiline_quotes
  std::string gauc_column;        // evaluations add gAUC grouped by this column ("": none)
};

// Opens a reader over `files` in batches of `batch_size`; part `part_index`
// of `num_parts` (DataSharding::kChunks).
Result<std::unique_ptr<Reader>> OpenJobReader(const std::vector<std::string>& files,
                                              const JobData& data, int batch_size,
                                              int part_index = 0, int num_parts = 1);

// Evaluates `files`; with `workers`, each worker scores its part and the
// metrics are computed over every worker's predictions.
Result<EvalMetrics> EvaluateFiles(Model& model, EmbeddingBridge& bridge,
                                  const std::vector<std::string>& files, const JobData& data,
                                  int batch_size, const WorkerGroup* workers);

}  // namespace msrec
