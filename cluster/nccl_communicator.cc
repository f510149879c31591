#include "cluster/nccl_communicator.h"

#include <string>

#include <nccl.h>

#include "cluster/mpi_communicator.h"

namespace msrec {
namespace {

Status CudaCall(cudaError_t e, const char* call) {
  if (e == cudaSuccess) return Status::OK();
  return Status::Unavailable(std::string(call) + ": " + cudaGetErrorString(e));
}

// ncclInProgress is not an error for a non-blocking communicator.
Status NcclCall(ncclResult_t r, const char* call) {
  if (r == ncclSuccess || r == ncclInProgress) return Status::OK();
  return Status::Unavailable(std::string(call) + ": " + ncclGetErrorString(r));
}

class NcclCommunicator : public Communicator {
 public:
  // Takes ownership of `comm`, `scratch` and, if `owns_stream`, `stream`.
  NcclCommunicator(ncclComm_t comm, int rank, int size, int device, cudaStream_t stream,
                   bool owns_stream, float* scratch, const CommunicatorOptions& options)
      : Communicator(rank, size, options),
        comm_(comm),
        device_(device),
        stream_(stream),
        owns_stream_(owns_stream),
        scratch_(scratch) {}

  ~NcclCommunicator() override {
    cudaSetDevice(device_);
    if (comm_ != nullptr) ncclCommDestroy(comm_);  // finalizes (blocking) if needed
    cudaFree(scratch_);
    if (owns_stream_) cudaStreamDestroy(stream_);
  }

  const char* backend() const override { return "nccl"; }

 protected:
  Status DoAllReduceSum(void* data, size_t n, DataType type) override {
    const ncclDataType_t dt = type == DataType::kFloat32 ? ncclFloat32 : ncclFloat64;
    return Run("ncclAllReduce",
               [&] { return ncclAllReduce(data, data, n, dt, ncclSum, comm_, stream_); });
  }
  Status DoBroadcast(void* data, size_t bytes, int root) override {
    return Run("ncclBroadcast",
               [&] { return ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_); });
  }
  Status DoAllGather(const void* in, size_t bytes, void* out) override {
    return Run("ncclAllGather",
               [&] { return ncclAllGather(in, out, bytes, ncclUint8, comm_, stream_); });
  }
  Status DoAllGatherV(const void*, size_t, std::vector<uint8_t>*, std::vector<size_t>*) override {
    return Status::InvalidArgument(
        "the NCCL communicator has no AllGatherV: gather host data with the MPI communicator");
  }
  Status DoBarrier() override {
    return Run("ncclAllReduce (barrier)", [&] {
      return ncclAllReduce(scratch_, scratch_, 1, ncclFloat32, ncclSum, comm_, stream_);
    });
  }

 private:
  // Enqueues one collective with `enqueue()` and waits for the stream.
  template <typename Enqueue>
  Status Run(const char* call, Enqueue enqueue) {
    MSREC_RETURN_IF_ERROR(CudaCall(cudaSetDevice(device_), "cudaSetDevice"));
    Status status = NcclCall(enqueue(), call);
    if (status.ok()) status = WaitForStream(call);
    if (!status.ok()) Abort();
    return status;
  }

  // Done when NCCL has no pending error or enqueue and the stream is idle.
  Status WaitForStream(const char* call) {
    return PollWithTimeout(options(), call, [this, call]() -> Result<bool> {
      ncclResult_t async = ncclSuccess;
      MSREC_RETURN_IF_ERROR(
          NcclCall(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError"));
      MSREC_RETURN_IF_ERROR(NcclCall(async, call));
      if (async == ncclInProgress) return false;
      const cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaErrorNotReady) return false;
      MSREC_RETURN_IF_ERROR(CudaCall(q, "cudaStreamQuery"));
      return true;
    });
  }

  // Releases kernels stuck waiting for a dead peer; the communicator is gone.
  void Abort() {
    if (comm_ == nullptr) return;
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }

  ncclComm_t comm_;  // nullptr once aborted
  const int device_;
  const cudaStream_t stream_;
  const bool owns_stream_;
  float* const scratch_;  // one device float for Barrier
};

// Creates the non-blocking NCCL communicator and waits until it is ready.
Result<ncclComm_t> InitNccl(const ncclUniqueId& id, int rank, int size,
                            const CommunicatorOptions& options) {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  ncclUniqueId id_copy = id;
  MSREC_RETURN_IF_ERROR(NcclCall(ncclCommInitRankConfig(&comm, size, id_copy, rank, &config),
                                 "ncclCommInitRankConfig"));
  Status status = PollWithTimeout(options, "ncclCommInitRankConfig", [comm]() -> Result<bool> {
    ncclResult_t async = ncclSuccess;
    MSREC_RETURN_IF_ERROR(NcclCall(ncclCommGetAsyncError(comm, &async), "ncclCommGetAsyncError"));
    MSREC_RETURN_IF_ERROR(NcclCall(async, "ncclCommInitRankConfig"));
    return async == ncclSuccess;
  });
  if (!status.ok()) {
    ncclCommAbort(comm);
    return status.WithContext("creating the NCCL communicator on rank " + std::to_string(rank));
  }
  return comm;
}

}  // namespace

Result<std::unique_ptr<Communicator>> MakeNcclCommunicator(MPI_Comm mpi_comm, int device,
                                                           cudaStream_t stream,
                                                           const CommunicatorOptions& options) {
  MSREC_ASSIGN_OR_RETURN(auto mpi, MakeMpiCommunicator(mpi_comm, options));
  ncclUniqueId id;
  if (mpi->rank() == 0) {
    MSREC_RETURN_IF_ERROR(NcclCall(ncclGetUniqueId(&id), "ncclGetUniqueId"));
  }
  MSREC_RETURN_IF_ERROR(mpi->Broadcast(&id, sizeof(id), 0));
  MSREC_RETURN_IF_ERROR(CudaCall(cudaSetDevice(device), "cudaSetDevice"));
  const bool owns_stream = stream == nullptr;
  if (owns_stream) {
    MSREC_RETURN_IF_ERROR(CudaCall(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
                                   "cudaStreamCreateWithFlags"));
  }
  float* scratch = nullptr;
  Status status = CudaCall(cudaMalloc(&scratch, sizeof(float)), "cudaMalloc");
  Result<ncclComm_t> comm =
      status.ok() ? InitNccl(id, mpi->rank(), mpi->size(), options) : Result<ncclComm_t>(status);
  if (!comm.ok()) {
    cudaFree(scratch);
    if (owns_stream) cudaStreamDestroy(stream);
    return comm.status();
  }
  return std::unique_ptr<Communicator>(new NcclCommunicator(*comm, mpi->rank(), mpi->size(), device,
                                                            stream, owns_stream, scratch, options));
}

}  // namespace msrec
