// The subcommands of the msrec program; each reads its flags (launch/flags.h).
#pragma once

#include <atomic>

#include "common/status.h"
#include "trainer/trainer.h"

namespace msrec {

// `msrec train` as one rank of an mpirun job (launch/distributed_train.cc):
// server ranks serve until every worker is done; worker ranks train data-
// parallel. A rank that fails ends the whole job (MPI_Abort).
Status RunTrainUnderMpi();
// `msrec train` in this process alone (the embedded store).
Status RunTrainEmbedded();
// Makes SIGTERM and SIGINT set the returned flag (TrainOptions::stop_requested).
const std::atomic<bool>* InstallStopHandlers();
// Prints what `msrec train` prints at the end (throughput, val and test tables).
Status PrintTrainResult(const TrainResult& result, const TrainOptions& options);

Status RunGen();
Status RunConvert();
Status RunTrain();
Status RunEval();
Status RunPredict();
Status RunInfo();
Status RunSsimSearch();
Status RunSsimExport();
Status RunExport();

}  // namespace msrec
