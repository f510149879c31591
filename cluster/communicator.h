// Communicator: the collectives that keep data-parallel workers in step
// (all-reduce, broadcast, all-gather(v), barrier), with one contract and three
// backends: MPI (cluster/mpi_communicator.h, host buffers), NCCL
// (cluster/nccl_communicator.h, device buffers, MSREC_WITH_CUDA builds only)
// and in-process threads for tests (cluster/inprocess_communicator.h).
// See docs/cluster.md.
//
// The contract every backend keeps:
//  - Collective: every rank of the group makes the same calls in the same order
//    with matching arguments (same n / bytes / root on every rank, except the
//    per-rank size of AllGatherV).
//  - Every call waits at most options().timeout_s seconds for its peers. A dead,
//    missing or late peer gives Status::Timeout naming the operation, the rank
//    and the timeout, never a hang.
//  - After a Timeout or any backend failure the communicator is BROKEN: every
//    later call returns that same error at once and health() reports it. The
//    buffers of the call that failed may still be read or written by the
//    backend afterwards (MPI and NCCL cannot cancel a started collective), so
//    keep them alive or end the process (MpiEnv::Abort). A broken job should
//    stop: the ranks no longer agree on what was reduced.
//  - InvalidArgument (null buffer, root out of range, a size over the backend's
//    limit) is checked locally before anything is sent and does not break the
//    communicator.
//
// Thread safety: not thread-safe. Calls on one communicator come from one
// thread at a time (the owner, or a helper such as BucketedAllReduce that the
// owner hands it to); different communicators may be used concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/status.h"

namespace msrec {

struct CommunicatorOptions {
  // Seconds one collective may wait for all its peers before it fails with
  // Status::Timeout and breaks the communicator. Must be > 0. Default 300.
  double timeout_s = 300;
  // Seconds a waiting call polls its pending operation in a busy loop
  // (yielding the CPU) before it falls back to sleeping poll_sleep_us between
  // polls. Short collectives then finish at full speed; long waits do not burn
  // a core. Default 0.02 (20 ms). MPI and NCCL backends only.
  double spin_s = 0.02;
  // Microseconds slept between polls once spin_s has passed. Default 100.
  int poll_sleep_us = 100;
};

enum class DataType { kFloat32, kFloat64 };

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // This process's rank in the group (0 .. size() - 1) and the group size.
  int rank() const { return rank_; }
  int size() const { return size_; }
  const CommunicatorOptions& options() const { return options_; }
  // "mpi", "nccl" or "in-process".
  virtual const char* backend() const = 0;
  // OK, or the error that broke the communicator (see the contract above).
  const Status& health() const { return broken_; }

  // In place: data[i] becomes the sum over all ranks of data[i]. `n` elements.
  Status AllReduceSum(float* data, size_t n);
  Status AllReduceSum(double* data, size_t n);
  // Copies `bytes` bytes at `data` on rank `root` into `data` on every rank.
  Status Broadcast(void* data, size_t bytes, int root);
  // Each rank contributes `bytes` bytes at `in`; `out` (size() * bytes bytes,
  // not overlapping `in`) receives the contributions in rank order.
  Status AllGather(const void* in, size_t bytes, void* out);
  // Each rank contributes `bytes` bytes at `in` (may differ between ranks, may
  // be 0). On success *out holds all contributions concatenated in rank order
  // and, if `counts` is not null, (*counts)[r] is rank r's byte count. `out`
  // and `counts` are host vectors (the NCCL backend does not support this).
  Status AllGatherV(const void* in, size_t bytes, std::vector<uint8_t>* out,
                    std::vector<size_t>* counts);
  // Typed form: counts in elements of T. T must be trivially copyable.
  template <typename T>
  Status AllGatherV(const std::vector<T>& in, std::vector<T>* out,
                    std::vector<size_t>* counts = nullptr);
  // Returns once every rank has entered Barrier().
  Status Barrier();

  // Where each rank runs, e.g. "rank 1 (world rank 1) on node-b", for the
  // messages of a timed-out collective (which name the other ranks); empty
  // when the backend does not know.
  void set_peer_names(std::vector<std::string> names) { peer_names_ = std::move(names); }

 protected:
  // `rank` in [0, size); `options.timeout_s` > 0 (CHECKed).
  Communicator(int rank, int size, const CommunicatorOptions& options);

  // The backend's collectives. Arguments are already validated (non-null
  // buffers when the size is > 0, root in range) and the communicator is not
  // broken. A backend returns Status::Timeout with a short detail (what it was
  // waiting for); the base class adds the operation, rank and timeout and
  // marks the communicator broken on any error other than InvalidArgument.
  virtual Status DoAllReduceSum(void* data, size_t n, DataType type) = 0;
  virtual Status DoBroadcast(void* data, size_t bytes, int root) = 0;
  virtual Status DoAllGather(const void* in, size_t bytes, void* out) = 0;
  virtual Status DoAllGatherV(const void* in, size_t bytes, std::vector<uint8_t>* out,
                              std::vector<size_t>* counts) = 0;
  virtual Status DoBarrier() = 0;

 private:
  // Checks health, runs `status` (the backend's result) through the error
  // policy above. `op` describes the call, e.g. "AllReduceSum(n=1024, float32)".
  Status Finish(const std::string& op, Status status);

  const int rank_;
  const int size_;
  const CommunicatorOptions options_;
  Status broken_;  // OK until a collective fails
  std::vector<std::string> peer_names_;  // index = rank; see set_peer_names
};

// For backends: calls `poll` until it returns true (done) or an error (returned
// as is), or until options.timeout_s has passed since the first call
// (Status::Timeout "waiting for <what>"). Busy-yields for options.spin_s, then
// sleeps options.poll_sleep_us between calls.
Status PollWithTimeout(const CommunicatorOptions& options, const std::string& what,
                       const std::function<Result<bool>()>& poll);

template <typename T>
Status Communicator::AllGatherV(const std::vector<T>& in, std::vector<T>* out,
                                std::vector<size_t>* counts) {
  static_assert(std::is_trivially_copyable<T>::value, "AllGatherV needs trivially copyable T");
  std::vector<uint8_t> bytes;
  std::vector<size_t> byte_counts;
  MSREC_RETURN_IF_ERROR(AllGatherV(in.data(), in.size() * sizeof(T), &bytes, &byte_counts));
  out->resize(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(out->data(), bytes.data(), out->size() * sizeof(T));
  if (counts != nullptr) {
    counts->resize(byte_counts.size());
    for (size_t r = 0; r < byte_counts.size(); ++r) (*counts)[r] = byte_counts[r] / sizeof(T);
  }
  return Status::OK();
}

}  // namespace msrec
