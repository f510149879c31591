// All gflags of the msrec program are defined in flags.cc and copied into the
// library's options structs here in launch/ (library code never reads flags).
#pragma once

#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "common/status.h"
#include "trainer/cluster_job.h"
#include "trainer/sharing.h"
#include "trainer/ssim_search.h"
#include "trainer/trainer.h"

DECLARE_string(train);
DECLARE_string(val);
DECLARE_string(test);
DECLARE_string(input);
DECLARE_string(output);
DECLARE_string(model_dir);
DECLARE_string(ps_dir);
DECLARE_string(compare);
DECLARE_int32(ssim_sweep_epochs);

namespace msrec {

// Splits a comma-separated flag value, dropping empty items.
std::vector<std::string> SplitList(const std::string& s);

// The JobSpec (model, schema, table) described by the flags.
// `need_schema`: --schema or --schema_file must be given (every command but info).
Result<JobSpec> JobSpecFromFlags(bool need_schema = true);
Result<TrainOptions> TrainOptionsFromFlags();
// eval / predict: --model_dir, --input (expanded), --eval_batch_size, ...
Result<EvalOptions> EvalOptionsFromFlags();
// A file-list flag's files: comma-separated files, folders and glob patterns
// (ExpandInputPaths, trainer/data/reader.h).
Result<std::vector<std::string>> InputsFromFlag(const std::string& value);
// ssim-search: the search options (--train, --output, --batch_size, --ssim_*).
Result<SsimSearchOptions> SsimSearchOptionsFromFlags();
// ssim-search: --ssim_share_sweep's shares (-1 for "learned"); empty for none.
Result<std::vector<double>> ShareSweepFromFlags();
// The job's processes (--num_servers, --ps_*, --store*, ...) for a job whose
// model directory is `model_dir`.
ClusterOptions ClusterOptionsFromFlags(const std::string& model_dir);
// ssim-export: --ssim_selector, --input, --output, --ssim_topk, --batch_size.
Result<SharedFlagsExportOptions> SharedFlagsExportOptionsFromFlags();

}  // namespace msrec

DECLARE_string(schema);
DECLARE_string(schema_file);
DECLARE_int64(rows);
DECLARE_int64(first_row);
DECLARE_int32(num_scenarios);
DECLARE_double(scenario_decay);
DECLARE_double(scenario_strength);
DECLARE_int32(num_fields);
DECLARE_string(vocab_sizes);
DECLARE_double(zipf);
DECLARE_int32(num_dense);
DECLARE_double(val_fraction);
DECLARE_double(test_fraction);
DECLARE_int64(rows_per_block);
DECLARE_string(scenario_map);
DECLARE_int32(reader_threads);
DECLARE_int64(max_bad_rows);
DECLARE_bool(csv_multiline_quotes);
DECLARE_uint64(seed);
