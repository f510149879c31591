// `msrec train` under mpirun: roles from --num_servers (the last ranks serve),
// the servers' stores, the workers' communicator and remote client.
#include <cstdio>
#include <memory>

#include "cluster/messenger.h"
#include "cluster/mpi_communicator.h"
#include "cluster/mpi_env.h"
#include "launch/commands.h"
#include "launch/flags.h"
#include "parameter_server/ps_service.h"
#include "parameter_server/remote_client.h"

DECLARE_string(store);
DECLARE_int32(num_servers);
DECLARE_bool(ps_sync);
DECLARE_int64(ps_max_staleness);
DECLARE_double(ps_timeout_s);
DECLARE_double(ps_idle_timeout_s);
DECLARE_int64(store_memory_mb);
DECLARE_double(ps_stats_interval_s);
DECLARE_int64(ps_max_message_mb);
DECLARE_string(data_sharding);
DECLARE_double(bucket_mb);
DECLARE_bool(check_parameters);
DECLARE_double(comm_timeout_s);

namespace msrec {
namespace {

size_t MaxMessageBytes() { return static_cast<size_t>(FLAGS_ps_max_message_mb) << 20; }

Status Serve(const Topology& t) {
  const std::string dir = FLAGS_ps_dir.empty() ? FLAGS_model_dir + "/ps" : FLAGS_ps_dir;
  if (dir == "/ps") return Status::InvalidArgument("servers need --model_dir or --ps_dir");
  // A job starts from nothing or from a checkpoint (--resume loads it): rows
  // a previous job left in the server's database are not trusted.
  MSREC_RETURN_IF_ERROR(PrepareServerDirectory(dir, t.server_index(), t.num_servers));
  ServerOptions options;
  options.store = StoreAt(FLAGS_store, ServerStoreBase(dir, t.server_index()), FLAGS_store_memory_mb);
  options.server.server_index = t.server_index();
  options.server.num_workers = t.num_workers();
  options.server.num_servers = t.num_servers;
  options.server.sync = FLAGS_ps_sync;
  options.server.max_staleness = FLAGS_ps_max_staleness;
  options.server.idle_timeout_s = FLAGS_ps_idle_timeout_s;
  options.server.stats_interval_s = FLAGS_ps_stats_interval_s;
  MpiMessenger messenger(MPI_COMM_WORLD, MaxMessageBytes());
  InstallStopHandlers();  // a server keeps serving on SIGTERM until its workers are done
  LOG(INFO) << t.ToString() << ": serving from " << dir << " (" << FLAGS_store << ", "
            << (FLAGS_ps_sync ? "synchronous" : "asynchronous") << ")";
  return RunServer(options, &messenger);
}

Status Work(const MpiEnv& mpi) {
  const Topology& t = mpi.topology();
  MSREC_ASSIGN_OR_RETURN(JobSpec spec, JobSpecFromFlags());
  MSREC_ASSIGN_OR_RETURN(TrainOptions options, TrainOptionsFromFlags());
  MpiMessenger messenger(MPI_COMM_WORLD, MaxMessageBytes());
  RemoteClientOptions client_options;
  for (int s = 0; s < t.num_servers; ++s) client_options.server_ranks.push_back(t.ServerRank(s));
  client_options.worker_index = t.worker_index();
  client_options.timeout_s = FLAGS_ps_timeout_s;
  RemoteClient client(&messenger, client_options);
  CommunicatorOptions comm_options;
  comm_options.timeout_s = FLAGS_comm_timeout_s;
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> comm,
                         MakeMpiCommunicator(mpi.workers(), comm_options));
  WorkerGroup group;
  group.comm = comm.get();
  group.ps = &client;
  if (!ParseDataSharding(FLAGS_data_sharding, &group.sharding)) {
    return Status::InvalidArgument("--data_sharding: unknown '" + FLAGS_data_sharding +
                                   "' (chunks, batches)");
  }
  group.bucket_bytes = static_cast<size_t>(FLAGS_bucket_mb * 1048576.0);
  group.check_parameters = FLAGS_check_parameters;
  options.workers = &group;
  options.stop_requested = InstallStopHandlers();
  if (options.deterministic && !FLAGS_ps_sync) {
    return Status::InvalidArgument("--deterministic needs synchronous servers (--ps_sync)");
  }
  LOG(INFO) << t.ToString() << ": worker " << t.worker_index() << " of " << t.num_workers();
  MSREC_ASSIGN_OR_RETURN(TrainResult result, Train(spec, options));
  MSREC_RETURN_IF_ERROR(comm->Barrier());
  if (t.worker_index() == 0) {
    Result<std::vector<std::string>> stats = client.Stats();
    if (stats.ok()) {
      for (const std::string& line : stats.value()) LOG(INFO) << "parameter " << line;
    }
    MSREC_RETURN_IF_ERROR(PrintTrainResult(result, options));
  }
  return client.Done();
}

}  // namespace

Status RunTrainUnderMpi() {
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<MpiEnv> mpi,
                         MpiEnv::Init(nullptr, nullptr, FLAGS_num_servers));
  const Topology& t = mpi->topology();
  if (t.num_servers == 0 && t.world_size > 1) {
    std::fprintf(stderr, "msrec train: %d workers need parameter servers: add --num_servers N\n",
                 t.world_size);
    mpi->Abort(2);
  }
  // One rank, no servers: the embedded default under mpirun.
  if (t.num_servers == 0) return RunTrainEmbedded();
  const Status status = t.is_server() ? Serve(t) : Work(*mpi);
  if (!status.ok()) {
    std::fprintf(stderr, "msrec train failed on rank %d (%s): %s\n", t.rank,
                 t.is_server() ? "server" : "worker", status.ToString().c_str());
    std::fflush(stderr);
    mpi->Abort(1);  // the peers would wait for this rank until their timeouts
  }
  return status;
}

}  // namespace msrec
