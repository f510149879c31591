#include "cluster/mpi_env.h"

#include <cstdlib>
#include <string>

namespace msrec {

bool LaunchedByMpirun() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

Result<std::unique_ptr<MpiEnv>> MpiEnv::Init(int* argc, char*** argv, int num_servers) {
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
    return Status::Unavailable("MPI_Init_thread failed");
  }
  // Errors come back as codes that become Status, never as an abort inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  std::unique_ptr<MpiEnv> env(new MpiEnv());
  if (provided < MPI_THREAD_MULTIPLE) {
    return Status::Unavailable("the MPI library gives thread level " + std::to_string(provided) +
                               ", msrec needs MPI_THREAD_MULTIPLE");
  }
  Topology& t = env->topology_;
  MPI_Comm_rank(MPI_COMM_WORLD, &t.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &t.world_size);
  if (num_servers < 0 || num_servers >= t.world_size) {
    return Status::InvalidArgument("--num_servers " + std::to_string(num_servers) + " with " +
                                   std::to_string(t.world_size) +
                                   " MPI ranks leaves no worker (need 0 <= num_servers < ranks)");
  }
  t.num_servers = num_servers;
  t.role = t.rank >= t.world_size - num_servers ? Role::kServer
           : num_servers == 0                    ? Role::kWorkerAndServer
                                                 : Role::kWorker;
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, t.rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &t.local_rank);
  MPI_Comm_free(&local);
  MPI_Comm_split(MPI_COMM_WORLD, t.is_server() ? 1 : 0, t.rank, &env->split_);
  MPI_Comm_set_errhandler(env->split_, MPI_ERRORS_RETURN);
  if (!t.is_server()) env->workers_ = env->split_;
  return env;
}

MpiEnv::~MpiEnv() {
  if (split_ != MPI_COMM_NULL) MPI_Comm_free(&split_);
  MPI_Finalize();
}

void MpiEnv::Abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace msrec
