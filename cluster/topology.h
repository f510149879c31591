// Topology: where this process sits in a job (rank, role, local rank).
// The embedded default is one process that is both worker and server.
// Multi-process roles (mpirun) arrive with the parameter-server issue.
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

  // The embedded default: one process, store in-process.
  static Topology Embedded() { return Topology(); }
  bool embedded() const { return world_size == 1 && num_servers == 0; }
  std::string ToString() const;
};

}  // namespace msrec
