// Training: the options of a training job and its entry point. Train builds a
// TrainingSession (training_session.h) and runs a TrainLoop (train_loop.h)
// with the StepRunner of its train mode (step_runner.h); `msrec ssim-search`
// runs the same loop with the search step (ssim_search.h). The model
// directory it writes: model_dir.h. Evaluation and prediction: evaluation.h.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer/evaluation.h"
#include "trainer/job_spec.h"
#include "trainer/train_options.h"

namespace msrec {

// Trains `spec` (shapes are completed from the data) and saves it into
// options.model_dir. Progress goes to LOG(INFO); metrics to the JSON-lines file.
Result<TrainResult> Train(JobSpec spec, const TrainOptions& options);

}  // namespace msrec
