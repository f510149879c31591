// Topology: where this process sits in a job (rank, role, local rank).
// The embedded default is one process that is both worker and server. Under
// mpirun with --num_servers S, the LAST S ranks of MPI_COMM_WORLD are servers
// and ranks 0 .. world_size - S - 1 are workers (so rank 0, which logs the
// metrics, is always a worker).
#pragma once

#include <string>

namespace msrec {

enum class Role { kWorker, kServer, kWorkerAndServer };

struct Topology {
  int rank = 0;             // global rank in the job
  int world_size = 1;       // number of processes in the job
  int local_rank = 0;       // rank among the processes on this host
  int num_servers = 0;      // server ranks; 0 = the embedded (in-process) store
  Role role = Role::kWorkerAndServer;

  bool embedded() const { return world_size == 1 && num_servers == 0; }

  int num_workers() const { return num_servers == 0 ? world_size : world_size - num_servers; }
  bool is_worker() const { return role != Role::kServer; }
  bool is_server() const { return role == Role::kServer; }
  // Index of this worker among the workers (0 .. num_workers - 1); -1 on a server.
  int worker_index() const { return is_worker() ? rank : -1; }
  // Index of this server among the servers (0 .. num_servers - 1); -1 on a worker.
  int server_index() const { return is_server() ? rank - num_workers() : -1; }
  // Global rank of server `s` (0 <= s < num_servers).
  int ServerRank(int s) const { return num_workers() + s; }

  std::string ToString() const;
};

}  // namespace msrec
