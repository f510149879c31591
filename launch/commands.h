// The subcommands of the msrec program; each reads its flags (launch/flags.h).
#pragma once

#include "common/status.h"

namespace msrec {

Status RunGen();
Status RunConvert();
Status RunTrain();
Status RunEval();
Status RunPredict();
Status RunInfo();
Status RunSsimSearch();
Status RunSsimExport();

}  // namespace msrec
