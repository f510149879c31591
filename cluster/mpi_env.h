// MpiEnv: MPI for the life of one object (MPI_Init_thread with
// MPI_THREAD_MULTIPLE on creation, MPI_Finalize on destruction), the job's
// Topology and the communicator of the worker ranks. No globals: the object is
// created once in main() and passed to whatever needs MPI.
//
//   if (LaunchedByMpirun()) {
//     MSREC_ASSIGN_OR_RETURN(auto mpi, MpiEnv::Init(&argc, &argv, num_servers));
//     if (mpi->topology().is_server()) return RunServer(*mpi, ...);
//   }
#pragma once

#include <memory>

#include <mpi.h>

#include "cluster/topology.h"
#include "common/status.h"

namespace msrec {

// True when this process was started by mpirun/mpiexec (Open MPI, MPICH or a
// PMI launcher set their environment variables). A plain start is the
// embedded default and never touches MPI.
bool LaunchedByMpirun();

// Thread safety: the accessors are const and safe; MPI calls on the
// communicators may come from any thread (MPI_THREAD_MULTIPLE).
class MpiEnv {
 public:
  // Initializes MPI and splits MPI_COMM_WORLD into workers and `num_servers`
  // servers (the last ranks). InvalidArgument if num_servers < 0 or leaves no
  // worker; Unavailable if MPI lacks MPI_THREAD_MULTIPLE. At most one MpiEnv
  // per process (MPI cannot be initialized twice).
  static Result<std::unique_ptr<MpiEnv>> Init(int* argc, char*** argv, int num_servers);

  ~MpiEnv();  // frees the communicators, MPI_Finalize
  MpiEnv(const MpiEnv&) = delete;
  MpiEnv& operator=(const MpiEnv&) = delete;

  const Topology& topology() const { return topology_; }
  MPI_Comm world() const { return MPI_COMM_WORLD; }
  // The worker ranks only (rank i in it = worker i); MPI_COMM_NULL on servers.
  MPI_Comm workers() const { return workers_; }

  // Ends the whole job now (MPI_Abort): for a process that cannot go on and
  // must not leave its peers waiting.
  [[noreturn]] void Abort(int code) const;

 private:
  MpiEnv() = default;
  Topology topology_;
  MPI_Comm workers_ = MPI_COMM_NULL;
  MPI_Comm split_ = MPI_COMM_NULL;  // this rank's half of the split (workers_ or the servers)
};

}  // namespace msrec
