// `msrec report`: one self-contained HTML file (inline SVG, no network, no
// script) of a training run read from its model directory: training loss and
// samples/s over steps, validation AUC and logloss per epoch (overall and per
// scenario), the test table, calibration (mean prediction vs positive rate per
// scenario), the time split read/pull/compute/push and the job's settings.
// With several directories the runs are overlaid (e.g. MT-Backbone vs SSIM vs
// MI-DPG). Torch-free.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace msrec {

struct ReportOptions {
  std::vector<std::string> model_dirs;  // one run, or several to compare
  std::string output = "report.html";
};

// Reads each directory's metrics.jsonl (the last run in it), job.txt and
// scenario_map.tsv and writes the report.
Status WriteReport(const ReportOptions& options);

}  // namespace msrec
