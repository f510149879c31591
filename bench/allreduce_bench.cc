// All-reduce bandwidth of the MPI Communicator for float buffers of 4 KB to
// 64 MB (x4 steps), compared with a plain blocking MPI_Allreduce and with
// MPI_Iallreduce + MPI_Wait on the same ranks (what the non-blocking
// algorithms cost, and what the timeout polling adds). Run under mpirun:
//   mpirun --allow-run-as-root --oversubscribe -np 2 build/bench/allreduce_bench [max_bytes]
// Rank 0 prints one line per size: the median over repetitions of the slowest
// rank's time, algorithm bandwidth (bytes / time) and bus bandwidth
// (algbw * 2 (n-1) / n, the nccl-tests convention), in GB/s (1e9 bytes/s).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cluster/mpi_communicator.h"
#include "cluster/mpi_env.h"

namespace msrec {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median over repetitions of the slowest rank's seconds.
Result<double> MedianOfSlowest(Communicator& comm, std::vector<double> local) {
  std::vector<double> all(local.size() * comm.size());
  MSREC_RETURN_IF_ERROR(comm.AllGather(local.data(), local.size() * sizeof(double), all.data()));
  std::vector<double> slowest(local.size(), 0);
  for (int r = 0; r < comm.size(); ++r) {
    for (size_t i = 0; i < local.size(); ++i) {
      slowest[i] = std::max(slowest[i], all[r * local.size() + i]);
    }
  }
  std::nth_element(slowest.begin(), slowest.begin() + slowest.size() / 2, slowest.end());
  return slowest[slowest.size() / 2];
}

enum class Mode { kCommunicator, kMpiBlocking, kMpiIallreduceWait };

// Times `reps` all-reduces of `buf` in `mode`.
Result<double> TimeAllReduce(Communicator& comm, MPI_Comm raw, std::vector<float>* buf, int reps,
                             Mode mode) {
  std::vector<double> seconds;
  for (int i = -2; i < reps; ++i) {  // two warm-up rounds
    MSREC_RETURN_IF_ERROR(comm.Barrier());
    const double start = Now();
    const int count = static_cast<int>(buf->size());
    if (mode == Mode::kMpiBlocking) {
      MPI_Allreduce(MPI_IN_PLACE, buf->data(), count, MPI_FLOAT, MPI_SUM, raw);
    } else if (mode == Mode::kMpiIallreduceWait) {
      MPI_Request request;
      MPI_Iallreduce(MPI_IN_PLACE, buf->data(), count, MPI_FLOAT, MPI_SUM, raw, &request);
      MPI_Wait(&request, MPI_STATUS_IGNORE);
    } else {
      MSREC_RETURN_IF_ERROR(comm.AllReduceSum(buf->data(), buf->size()));
    }
    if (i >= 0) seconds.push_back(Now() - start);
  }
  return MedianOfSlowest(comm, seconds);
}

Status Run(MpiEnv& env, size_t max_bytes) {
  CommunicatorOptions options;
  options.timeout_s = 120;
  MSREC_ASSIGN_OR_RETURN(auto comm, MakeMpiCommunicator(env.world(), options));
  const int n = comm->size();
  if (comm->rank() == 0) {
    std::printf("# allreduce_bench: %d ranks, float32 sum, median of the slowest rank\n", n);
    std::printf("%12s %6s %12s %12s %12s %16s %16s\n", "bytes", "reps", "median_us", "algbw_GBps",
                "busbw_GBps", "mpi_allreduce_us", "mpi_iallreduce_us");
  }
  for (size_t bytes = 4096; bytes <= max_bytes; bytes *= 4) {
    std::vector<float> buf(bytes / sizeof(float), 1.0f);
    const int reps = static_cast<int>(std::clamp<size_t>((size_t{256} << 20) / bytes, 5, 200));
    MSREC_ASSIGN_OR_RETURN(double ours,
                           TimeAllReduce(*comm, env.world(), &buf, reps, Mode::kCommunicator));
    MSREC_ASSIGN_OR_RETURN(double mpi,
                           TimeAllReduce(*comm, env.world(), &buf, reps, Mode::kMpiBlocking));
    MSREC_ASSIGN_OR_RETURN(double nbc,
                           TimeAllReduce(*comm, env.world(), &buf, reps, Mode::kMpiIallreduceWait));
    if (comm->rank() == 0) {
      const double algbw = bytes / ours / 1e9;
      std::printf("%12zu %6d %12.1f %12.3f %12.3f %16.1f %16.1f\n", bytes, reps, ours * 1e6, algbw,
                  algbw * 2.0 * (n - 1) / n, mpi * 1e6, nbc * 1e6);
      std::fflush(stdout);
    }
  }
  return Status::OK();
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) {
  auto env = msrec::MpiEnv::Init(&argc, &argv, /*num_servers=*/0);
  if (!env.ok()) {
    std::fprintf(stderr, "allreduce_bench: %s\n", env.status().ToString().c_str());
    return 1;
  }
  const size_t max_bytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : size_t{64} << 20;
  msrec::Status s = msrec::Run(**env, max_bytes);
  if (!s.ok()) {
    std::fprintf(stderr, "allreduce_bench: %s\n", s.ToString().c_str());
    (*env)->Abort(1);
  }
  return 0;
}
