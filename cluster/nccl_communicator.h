// The NCCL backend of Communicator (cluster/communicator.h): collectives over
// CUDA device memory between the ranks of an MPI communicator, one GPU each.
// Built only when MSREC_WITH_CUDA is ON (CMake option; LibTorch with CUDA).
//
// Set-up: rank 0 creates the ncclUniqueId (ncclGetUniqueId) and broadcasts it
// over `mpi_comm` with the MPI backend (so the exchange has the same timeout),
// then every rank creates a non-blocking NCCL communicator
// (ncclCommInitRankConfig with config.blocking = 0) and polls
// ncclCommGetAsyncError until it is ready.
//
// Each collective is enqueued on the communicator's CUDA stream and the call
// returns when the stream has finished it: it polls cudaStreamQuery and
// ncclCommGetAsyncError (spin, then sleep; CommunicatorOptions). On timeout or
// an NCCL/CUDA error it calls ncclCommAbort (which releases the GPU kernels
// waiting for the dead peer) and the communicator is broken.
//
// Buffers: every pointer given to AllReduceSum, Broadcast, AllGather is device
// memory on `device`. AllGatherV (host vectors) is not supported and returns
// InvalidArgument: gather variable-size host data with the MPI backend.
// Thread safety: the Communicator contract (one thread at a time); each call
// sets the CUDA device itself, so the calling thread may change.
#pragma once

#include <memory>

#include <cuda_runtime_api.h>
#include <mpi.h>

#include "cluster/communicator.h"
#include "common/status.h"

namespace msrec {

// Creates the NCCL communicator of the ranks of `mpi_comm` (not owned; only
// used during the call) on CUDA device `device`. `stream` is where the
// collectives run: pass the producer's stream (for example LibTorch's current
// stream) so that they follow the kernels that wrote the buffers; it is not
// owned and must outlive the communicator. With stream == nullptr the
// communicator creates and owns a non-blocking stream, and the caller must
// finish writing the buffers (cudaDeviceSynchronize or an event) before each
// call. Collective over `mpi_comm`. Timeout if a peer does not join in
// options.timeout_s; Unavailable on a CUDA or NCCL error.
Result<std::unique_ptr<Communicator>> MakeNcclCommunicator(MPI_Comm mpi_comm, int device,
                                                           cudaStream_t stream,
                                                           const CommunicatorOptions& options);

}  // namespace msrec
