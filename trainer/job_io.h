// Saving and loading what a model directory holds besides the embeddings
// (the layout: model_dir.h).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "models/model.h"
#include "trainer/job_spec.h"

namespace msrec {

// "64,32" <-> {64, 32} (ParseInts throws std::invalid_argument on a bad item).
std::string JoinInts(const std::vector<int64_t>& v);
std::vector<int64_t> ParseInts(const std::string& s);

// job.txt: one `key=value` per line; unknown keys are an error (a newer format).
Status SaveJobSpec(const JobSpec& spec, const std::string& path);
Result<JobSpec> LoadJobSpec(const std::string& path);

// Dense parameters and buffers (e.g. batch-norm statistics) by name, of a
// model or of any other trained module (SSIM's selector). Written atomically.
Status SaveDenseParameters(torch::nn::Module& module, const std::string& path);
Status LoadDenseParameters(torch::nn::Module* module, const std::string& path);

// Loads from `path` every parameter and buffer of `module` that the archive
// holds with the same shape; one whose first dimension grew (a per-scenario
// table after new scenarios were added) gets the archive's rows first and
// keeps the rest; the others keep their values. Appends the names of what was
// not (fully) loaded to *kept.
Status LoadMatchingParameters(torch::nn::Module* module, const std::string& path,
                              std::vector<std::string>* kept);

// What `msrec info` prints about a model of `spec`'s shapes: its dense,
// shared and per-scenario parameter counts and FLOPs per instance.
Result<std::string> DescribeModel(const JobSpec& spec);

}  // namespace msrec
