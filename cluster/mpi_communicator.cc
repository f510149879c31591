#include "cluster/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

namespace msrec {
namespace {

// MPI counts are int; bigger buffers go in chunks of at most this many elements.
constexpr size_t kMaxChunk = size_t{1} << 30;

std::string MpiErrorString(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(text, len);
}

Status MpiCall(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return Status::OK();
  return Status::Unavailable(std::string(call) + ": " + MpiErrorString(rc));
}

// Polls `request` until it completes or options.timeout_s passes. On Timeout
// the request is still pending; the caller must not free it.
Status WaitRequest(MPI_Request* request, const CommunicatorOptions& options, const char* what) {
  return PollWithTimeout(options, what, [request]() -> Result<bool> {
    int done = 0;
    MSREC_RETURN_IF_ERROR(MpiCall(MPI_Test(request, &done, MPI_STATUS_IGNORE), "MPI_Test"));
    return done != 0;
  });
}

// Thread safety: one thread at a time (the Communicator contract).
class MpiCommunicator : public Communicator {
 public:
  // Takes ownership of `comm` (a duplicate made by MakeMpiCommunicator).
  MpiCommunicator(MPI_Comm comm, int rank, int size, const CommunicatorOptions& options)
      : Communicator(rank, size, options), comm_(comm) {}

  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    if (pending_ != MPI_REQUEST_NULL) {
      // A timed-out collective may still complete if the late peer joined.
      int done = 0;
      if (MPI_Test(&pending_, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || !done) {
        LOG(WARNING) << "MpiCommunicator: leaking a communicator with a timed-out collective";
        return;
      }
    }
    MPI_Comm_free(&comm_);
  }

  const char* backend() const override { return "mpi"; }

 protected:
  Status DoAllReduceSum(void* data, size_t n, DataType type) override {
    const MPI_Datatype dt = type == DataType::kFloat32 ? MPI_FLOAT : MPI_DOUBLE;
    const size_t elem = type == DataType::kFloat32 ? sizeof(float) : sizeof(double);
    for (size_t off = 0; off < n; off += kMaxChunk) {
      const int count = static_cast<int>(std::min(kMaxChunk, n - off));
      void* p = static_cast<char*>(data) + off * elem;
      MSREC_RETURN_IF_ERROR(Run("MPI_Iallreduce", [&](MPI_Request* r) {
        return MPI_Iallreduce(MPI_IN_PLACE, p, count, dt, MPI_SUM, comm_, r);
      }));
    }
    return Status::OK();
  }

  Status DoBroadcast(void* data, size_t bytes, int root) override {
    for (size_t off = 0; off < bytes; off += kMaxChunk) {
      const int count = static_cast<int>(std::min(kMaxChunk, bytes - off));
      void* p = static_cast<char*>(data) + off;
      MSREC_RETURN_IF_ERROR(Run("MPI_Ibcast", [&](MPI_Request* r) {
        return MPI_Ibcast(p, count, MPI_BYTE, root, comm_, r);
      }));
    }
    return Status::OK();
  }

  Status DoAllGather(const void* in, size_t bytes, void* out) override {
    if (bytes * static_cast<size_t>(size()) > INT_MAX) {
      return Status::InvalidArgument("AllGather: " + std::to_string(bytes) + " bytes x " +
                                     std::to_string(size()) + " ranks exceeds the MPI int limit");
    }
    const int count = static_cast<int>(bytes);
    return Run("MPI_Iallgather", [&](MPI_Request* r) {
      return MPI_Iallgather(in, count, MPI_BYTE, out, count, MPI_BYTE, comm_, r);
    });
  }

  Status DoAllGatherV(const void* in, size_t bytes, std::vector<uint8_t>* out,
                      std::vector<size_t>* counts) override {
    uint64_t mine = bytes;
    std::vector<uint64_t> all(size());
    MSREC_RETURN_IF_ERROR(Run("MPI_Iallgather (sizes)", [&](MPI_Request* r) {
      return MPI_Iallgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_, r);
    }));
    std::vector<int> int_counts(size()), displs(size());
    uint64_t total = 0;
    for (int i = 0; i < size(); ++i) {
      displs[i] = static_cast<int>(total);
      int_counts[i] = static_cast<int>(all[i]);
      total += all[i];
      if (total > INT_MAX) {  // every rank sees the same sizes, so all return this
        return Status::InvalidArgument("AllGatherV: total size exceeds the MPI int limit");
      }
    }
    counts->assign(all.begin(), all.end());
    out->resize(total);
    return Run("MPI_Iallgatherv", [&](MPI_Request* r) {
      return MPI_Iallgatherv(in, static_cast<int>(bytes), MPI_BYTE, out->data(), int_counts.data(),
                             displs.data(), MPI_BYTE, comm_, r);
    });
  }

  Status DoBarrier() override {
    return Run("MPI_Ibarrier", [&](MPI_Request* r) { return MPI_Ibarrier(comm_, r); });
  }

 private:
  // Starts one non-blocking collective with `start(&request)` and waits for it.
  template <typename Start>
  Status Run(const char* call, Start start) {
    MPI_Request request = MPI_REQUEST_NULL;
    MSREC_RETURN_IF_ERROR(MpiCall(start(&request), call));
    Status status = WaitRequest(&request, options(), call);
    if (!status.ok()) pending_ = request;  // abandoned: MPI cannot cancel a collective
    return status;
  }

  MPI_Comm comm_;                           // owned duplicate
  MPI_Request pending_ = MPI_REQUEST_NULL;  // the collective that failed, if any
};

}  // namespace

Result<std::unique_ptr<Communicator>> MakeMpiCommunicator(MPI_Comm comm,
                                                          const CommunicatorOptions& options) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) return Status::InvalidArgument("MakeMpiCommunicator: MPI is not initialized");
  if (comm == MPI_COMM_NULL) {
    return Status::InvalidArgument("MakeMpiCommunicator: MPI_COMM_NULL (not a member?)");
  }
  if (options.timeout_s <= 0) {
    return Status::InvalidArgument("MakeMpiCommunicator: timeout_s must be > 0");
  }
  MPI_Comm dup = MPI_COMM_NULL;
  MPI_Request request = MPI_REQUEST_NULL;
  MSREC_RETURN_IF_ERROR(MpiCall(MPI_Comm_idup(comm, &dup, &request), "MPI_Comm_idup"));
  Status status = WaitRequest(&request, options, "MPI_Comm_idup");
  if (!status.ok()) {
    return status.WithContext("MakeMpiCommunicator: duplicating the communicator (" +
                              std::to_string(options.timeout_s) + " s timeout)");
  }
  MSREC_RETURN_IF_ERROR(
      MpiCall(MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler"));
  int rank = 0, size = 0;
  MPI_Comm_rank(dup, &rank);
  MPI_Comm_size(dup, &size);
  std::unique_ptr<Communicator> communicator(new MpiCommunicator(dup, rank, size, options));
  // Where every rank runs, for the messages of a collective that times out.
  constexpr int kNameBytes = 128;
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  int host_len = 0;
  MPI_Get_processor_name(host, &host_len);
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  std::string mine = "rank " + std::to_string(rank) + " (world rank " +
                     std::to_string(world_rank) + ") on " + std::string(host, host_len);
  mine.resize(kNameBytes - 1);
  mine.push_back('\0');
  std::vector<char> all(static_cast<size_t>(size) * kNameBytes);
  MSREC_RETURN_IF_ERROR(communicator->AllGather(mine.data(), kNameBytes, all.data())
                            .WithContext("MakeMpiCommunicator: gathering the ranks' hosts"));
  std::vector<std::string> names;
  for (int r = 0; r < size; ++r) names.emplace_back(all.data() + static_cast<size_t>(r) * kNameBytes);
  communicator->set_peer_names(std::move(names));
  return communicator;
}

}  // namespace msrec
