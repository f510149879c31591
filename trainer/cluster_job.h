// How a training or search job runs: in this process alone (the embedded
// default: no mpirun, or mpirun with one rank and no servers), or as one rank
// of an mpirun job whose last `num_servers` ranks are parameter servers and
// whose other ranks are data-parallel workers. launch/ fills ClusterOptions
// from flags and hands RunJob the work of one worker.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "parameter_server/ps_service.h"
#include "trainer/distributed.h"

namespace msrec {

struct ClusterOptions {
  int num_servers = 0;             // server ranks (the last ones) under mpirun
  std::string model_dir;           // the job's model directory (servers: <model_dir>/ps)
  std::string ps_dir;              // the servers' directory instead of <model_dir>/ps
  std::string store = "memory";    // the servers' store: "memory" or "rocksdb"
  ServerSettings server_settings;  // each server's store budget and threads
  bool ps_sync = true;             // synchronous servers (step semantics)
  int64_t ps_max_staleness = 0;    // asynchronous servers: bounded staleness
  double ps_timeout_s = 120;       // a worker's wait for a server reply
  double ps_idle_timeout_s = 600;  // a server fails after this long without a request
  double ps_stats_interval_s = 60; // server statistics line every N seconds
  int64_t ps_max_message_mb = 512;  // largest message between ranks
  std::string data_sharding = "chunks";  // "chunks" or "batches" (DataSharding)
  double bucket_mb = 25;           // dense gradient bucket size
  bool check_parameters = false;   // WorkerGroup::check_parameters
  double comm_timeout_s = 300;     // worker collectives' timeout
  bool deterministic = false;      // needs synchronous servers
  std::string device = "cpu";      // the workers' device: "cuda" = the GPU of the local rank
                                   // (one worker per GPU), "cuda:N" = GPU N; CUDA workers of
                                   // an MSREC_WITH_CUDA build sync dense gradients over NCCL
};

// Runs `work` once per worker: with no parameter-server ranks,
// work(nullptr) in this process; under mpirun with servers, the server ranks
// serve until every worker is done and each worker rank calls work(&group).
// A rank that fails ends the whole job (MPI_Abort).
Status RunJob(const ClusterOptions& options,
              const std::function<Status(const WorkerGroup* workers)>& work);

}  // namespace msrec
