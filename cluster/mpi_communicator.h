// The MPI backend of Communicator (cluster/communicator.h): host buffers, any
// MPI communicator (normally MpiEnv::workers()). Each collective is started
// non-blocking (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather(v), MPI_Ibarrier)
// and polled with MPI_Test until it completes or options.timeout_s passes
// (busy-yield for options.spin_s, then sleeping options.poll_sleep_us between
// polls); a timed-out request is abandoned, never freed (MPI cannot cancel a
// collective) and the communicator is broken.
//
// Needs MPI initialized with MPI_THREAD_MULTIPLE when other threads use MPI
// at the same time (MpiEnv::Init does that).
#pragma once

#include <memory>

#include <mpi.h>

#include "cluster/communicator.h"
#include "common/status.h"

namespace msrec {

// Duplicates `comm` (MPI_Comm_idup, itself bounded by options.timeout_s) so
// that the collectives never mix with other traffic on `comm`; the caller
// keeps ownership of `comm`, the returned communicator owns the duplicate and
// frees it on destruction (which must happen before MPI_Finalize, i.e. before
// the MpiEnv is destroyed; the duplicate of a broken communicator with a
// request still pending is deliberately leaked). Collective over `comm`.
// InvalidArgument for MPI_COMM_NULL or when MPI is not initialized; Timeout if
// a peer does not join the duplication in time.
Result<std::unique_ptr<Communicator>> MakeMpiCommunicator(MPI_Comm comm,
                                                          const CommunicatorOptions& options);

}  // namespace msrec
