// The subcommands of the msrec program; each reads its flags (launch/flags.h).
#pragma once

#include "common/status.h"

namespace msrec {

// Each command reads its flags, calls one entry point of trainer/ and prints.
// `msrec train` and `msrec ssim-search` run through RunJob (trainer/
// cluster_job.h): alone, or as one rank of an mpirun job with servers.
Status RunGen();
Status RunConvert();
Status RunTrain();
Status RunEval();
Status RunPredict();
Status RunInfo();
Status RunSsimSearch();
Status RunSsimExport();
Status RunExport();
Status RunReport();

}  // namespace msrec
