#include "trainer/cluster_job.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cluster/messenger.h"
#include "cluster/mpi_communicator.h"
#include "cluster/mpi_env.h"
#ifdef MSREC_WITH_CUDA
#include "cluster/nccl_communicator.h"
#endif
#include "parameter_server/ps_service.h"
#include "parameter_server/remote_client.h"
#include "trainer/model_dir.h"

namespace msrec {
namespace {

size_t MaxMessageBytes(const ClusterOptions& o) {
  return static_cast<size_t>(o.ps_max_message_mb) << 20;
}

Status Serve(const ClusterOptions& o, const Topology& t) {
  const std::string dir = o.ps_dir.empty() ? ModelDir(o.model_dir).parameter_servers() : o.ps_dir;
  if (o.ps_dir.empty() && o.model_dir.empty()) {
    return Status::InvalidArgument("servers need --model_dir or --ps_dir");
  }
  // A job starts from nothing or from a checkpoint (--resume loads it): rows
  // a previous job left in the server's database are not trusted.
  MSREC_RETURN_IF_ERROR(PrepareServerDirectory(dir, t.server_index(), t.num_servers));
  ServerOptions options =
      ServerOptionsAt(o.store, ServerStoreBase(dir, t.server_index()), o.server_settings);
  options.server.server_index = t.server_index();
  options.server.num_workers = t.num_workers();
  options.server.num_servers = t.num_servers;
  options.server.sync = o.ps_sync;
  options.server.max_staleness = o.ps_max_staleness;
  options.server.idle_timeout_s = o.ps_idle_timeout_s;
  options.server.stats_interval_s = o.ps_stats_interval_s;
  MpiMessenger messenger(MPI_COMM_WORLD, MaxMessageBytes(o));
  LOG(INFO) << t.ToString() << ": serving from " << dir << " (" << o.store << ", "
            << (o.ps_sync ? "synchronous" : "asynchronous") << ")";
  return RunServer(options, &messenger);
}

// CUDA workers: their GPU (`--device cuda`: the local rank's, one worker per
// GPU) and the NCCL communicator between the workers' GPUs. Null (and no
// device) for CPU workers and in builds without CUDA.
Result<std::unique_ptr<Communicator>> MakeDeviceCommunicator(const ClusterOptions& o,
                                                             const MpiEnv& mpi,
                                                             const CommunicatorOptions& options,
                                                             std::string* device) {
  if (o.device.rfind("cuda", 0) != 0) return std::unique_ptr<Communicator>();
#ifdef MSREC_WITH_CUDA
  const size_t colon = o.device.find(':');
  const int index = colon == std::string::npos ? mpi.topology().local_rank
                                               : std::atoi(o.device.c_str() + colon + 1);
  *device = "cuda:" + std::to_string(index);
  return MakeNcclCommunicator(mpi.workers(), index, /*stream=*/nullptr, options);
#else
  (void)mpi;
  (void)options;
  (void)device;
  return std::unique_ptr<Communicator>();  // ParseDevice reports the missing CUDA
#endif
}

Status Work(const ClusterOptions& o, const MpiEnv& mpi,
            const std::function<Status(const WorkerGroup*)>& work) {
  const Topology& t = mpi.topology();
  MpiMessenger messenger(MPI_COMM_WORLD, MaxMessageBytes(o));
  RemoteClientOptions client_options;
  for (int s = 0; s < t.num_servers; ++s) client_options.server_ranks.push_back(t.ServerRank(s));
  client_options.worker_index = t.worker_index();
  client_options.timeout_s = o.ps_timeout_s;
  RemoteClient client(&messenger, client_options);
  CommunicatorOptions comm_options;
  comm_options.timeout_s = o.comm_timeout_s;
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> comm,
                         MakeMpiCommunicator(mpi.workers(), comm_options));
  WorkerGroup group;
  group.comm = comm.get();
  group.ps = &client;
  if (!ParseDataSharding(o.data_sharding, &group.sharding)) {
    return Status::InvalidArgument("--data_sharding: unknown '" + o.data_sharding +
                                   "' (chunks, batches)");
  }
  group.bucket_bytes = static_cast<size_t>(o.bucket_mb * 1048576.0);
  group.check_parameters = o.check_parameters;
  group.ps_sync = o.ps_sync;
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> device_comm,
                         MakeDeviceCommunicator(o, mpi, comm_options, &group.device));
  group.device_comm = device_comm.get();
  if (device_comm != nullptr) {
    LOG(INFO) << t.ToString() << ": dense sync over " << device_comm->backend() << " on "
              << group.device;
  }
  LOG(INFO) << t.ToString() << ": worker " << t.worker_index() << " of " << t.num_workers();
  MSREC_RETURN_IF_ERROR(work(&group));
  MSREC_RETURN_IF_ERROR(comm->Barrier());
  if (t.worker_index() == 0) {
    Result<std::vector<std::string>> stats = client.Stats();
    if (stats.ok()) {
      for (const std::string& line : stats.value()) LOG(INFO) << "parameter " << line;
    }
  }
  return client.Done();
}

}  // namespace

Status RunJob(const ClusterOptions& options,
              const std::function<Status(const WorkerGroup* workers)>& work) {
  if (!LaunchedByMpirun()) return work(nullptr);
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<MpiEnv> mpi,
                         MpiEnv::Init(nullptr, nullptr, options.num_servers));
  const Topology& t = mpi->topology();
  if (t.num_servers == 0 && t.world_size > 1) {
    std::fprintf(stderr, "msrec: %d workers need parameter servers: add --num_servers N\n",
                 t.world_size);
    mpi->Abort(2);
  }
  // One rank, no servers: the embedded default under mpirun.
  if (t.num_servers == 0) return work(nullptr);
  if (options.deterministic && !options.ps_sync) {
    return Status::InvalidArgument("--deterministic needs synchronous servers (--ps_sync)");
  }
  const Status status = t.is_server() ? Serve(options, t) : Work(options, *mpi, work);
  if (!status.ok()) {
    std::fprintf(stderr, "msrec failed on rank %d (%s): %s\n", t.rank,
                 t.is_server() ? "server" : "worker", status.ToString().c_str());
    std::fflush(stderr);
    mpi->Abort(1);  // the peers would wait for this rank until their timeouts
  }
  return status;
}

}  // namespace msrec
