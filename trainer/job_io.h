// Saving and loading what a model directory holds besides the embeddings.
#pragma once

#include <string>

#include "common/status.h"
#include "models/model.h"
#include "trainer/trainer.h"

namespace msrec {

// job.txt: one `key=value` per line; unknown keys are an error (a newer format).
Status SaveJobSpec(const JobSpec& spec, const std::string& path);
Result<JobSpec> LoadJobSpec(const std::string& path);

// Dense parameters and buffers (e.g. batch-norm statistics) by name.
Status SaveDenseParameters(Model& model, const std::string& path);
Status LoadDenseParameters(Model* model, const std::string& path);

}  // namespace msrec
