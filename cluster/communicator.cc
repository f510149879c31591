#include "cluster/communicator.h"

#include <chrono>
#include <sstream>
#include <thread>

namespace msrec {

Communicator::Communicator(int rank, int size, const CommunicatorOptions& options)
    : rank_(rank), size_(size), options_(options) {
  CHECK_GE(rank, 0);
  CHECK_LT(rank, size);
  CHECK_GT(options.timeout_s, 0) << "CommunicatorOptions::timeout_s must be > 0";
}

Status Communicator::Finish(const std::string& op, Status status) {
  if (status.ok() || status.code() == Status::Code::kInvalidArgument) return status;
  std::ostringstream msg;
  msg << op << " on rank " << rank_ << " of " << size_ << " (" << backend() << ") ";
  if (status.code() == Status::Code::kTimeout) {
    msg << "did not complete within " << options_.timeout_s << " s (" << status.message()
        << "): a peer is dead, unreachable, late or skipped the collective";
    if (!peer_names_.empty()) {
      // Which peer cannot be told from here; name them (the first 8).
      msg << " (the other ranks: ";
      int listed = 0;
      for (int r = 0; r < static_cast<int>(peer_names_.size()) && listed < 8; ++r) {
        if (r == rank_) continue;
        msg << (listed++ > 0 ? ", " : "") << peer_names_[r];
      }
      if (size_ - 1 > listed) msg << ", ...";
      msg << ")";
    }
    broken_ = Status::Timeout(msg.str() + "; the communicator is unusable from now on");
  } else {
    msg << "failed: " << status.ToString();
    broken_ = Status::Unavailable(msg.str() + "; the communicator is unusable from now on");
  }
  return broken_;
}

namespace {
const char* TypeName(DataType t) { return t == DataType::kFloat32 ? "float32" : "float64"; }
}  // namespace

Status Communicator::AllReduceSum(float* data, size_t n) {
  if (!broken_.ok()) return broken_;
  if (data == nullptr && n > 0) return Status::InvalidArgument("AllReduceSum: null buffer");
  const std::string op =
      "AllReduceSum(n=" + std::to_string(n) + ", " + TypeName(DataType::kFloat32) + ")";
  return Finish(op, DoAllReduceSum(data, n, DataType::kFloat32));
}

Status Communicator::AllReduceSum(double* data, size_t n) {
  if (!broken_.ok()) return broken_;
  if (data == nullptr && n > 0) return Status::InvalidArgument("AllReduceSum: null buffer");
  const std::string op =
      "AllReduceSum(n=" + std::to_string(n) + ", " + TypeName(DataType::kFloat64) + ")";
  return Finish(op, DoAllReduceSum(data, n, DataType::kFloat64));
}

Status Communicator::Broadcast(void* data, size_t bytes, int root) {
  if (!broken_.ok()) return broken_;
  if (data == nullptr && bytes > 0) return Status::InvalidArgument("Broadcast: null buffer");
  if (root < 0 || root >= size_) {
    return Status::InvalidArgument("Broadcast: root " + std::to_string(root) +
                                   " out of range for group size " + std::to_string(size_));
  }
  const std::string op =
      "Broadcast(bytes=" + std::to_string(bytes) + ", root=" + std::to_string(root) + ")";
  return Finish(op, DoBroadcast(data, bytes, root));
}

Status Communicator::AllGather(const void* in, size_t bytes, void* out) {
  if (!broken_.ok()) return broken_;
  if ((in == nullptr || out == nullptr) && bytes > 0) {
    return Status::InvalidArgument("AllGather: null buffer");
  }
  return Finish("AllGather(bytes=" + std::to_string(bytes) + ")", DoAllGather(in, bytes, out));
}

Status Communicator::AllGatherV(const void* in, size_t bytes, std::vector<uint8_t>* out,
                                std::vector<size_t>* counts) {
  if (!broken_.ok()) return broken_;
  if ((in == nullptr && bytes > 0) || out == nullptr) {
    return Status::InvalidArgument("AllGatherV: null buffer");
  }
  std::vector<size_t> local_counts;
  if (counts == nullptr) counts = &local_counts;
  return Finish("AllGatherV(bytes=" + std::to_string(bytes) + ")",
                DoAllGatherV(in, bytes, out, counts));
}

Status PollWithTimeout(const CommunicatorOptions& options, const std::string& what,
                       const std::function<Result<bool>()>& poll) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(options.timeout_s));
  const auto spin_until = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.spin_s));
  for (;;) {
    MSREC_ASSIGN_OR_RETURN(const bool done, poll());
    if (done) return Status::OK();
    const auto now = Clock::now();
    if (now >= deadline) return Status::Timeout("waiting for " + what);
    if (now < spin_until) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(options.poll_sleep_us));
    }
  }
}

Status Communicator::Barrier() {
  if (!broken_.ok()) return broken_;
  return Finish("Barrier()", DoBarrier());
}

}  // namespace msrec
