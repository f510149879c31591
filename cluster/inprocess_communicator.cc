#include "cluster/inprocess_communicator.h"

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>

namespace msrec {
namespace {

using Clock = std::chrono::steady_clock;

enum class Op { kAllReduce, kBroadcast, kAllGather, kAllGatherV, kBarrier };

// What one rank posted for the current collective. Pointers are read by the
// other ranks between the arrive and depart barriers only.
struct Slot {
  Op op = Op::kBarrier;
  const void* in = nullptr;
  size_t bytes = 0;  // for kAllReduce: n * element size
  int root = 0;
  DataType type = DataType::kFloat32;

  std::string Describe() const {
    static const char* const kNames[] = {"AllReduceSum", "Broadcast", "AllGather", "AllGatherV",
                                         "Barrier"};
    return std::string(kNames[static_cast<int>(op)]) + "(bytes=" + std::to_string(bytes) +
           ", root=" + std::to_string(root) + ")";
  }
  // True if `other` is the same collective (AllGatherV sizes may differ).
  bool Matches(const Slot& other) const {
    if (op != other.op) return false;
    if (op == Op::kAllGatherV || op == Op::kBarrier) return true;
    return bytes == other.bytes && root == other.root && type == other.type;
  }
};

// Shared by the members of one group. Thread-safe.
class Rendezvous {
 public:
  explicit Rendezvous(int size) : size_(size), slots_(size) {}

  // Posts this rank's slot and waits until every rank has posted (phase 1).
  Status Arrive(int rank, const Slot& slot, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    slots_[rank] = slot;
    return BarrierLocked(&lock, deadline, "arrival");
  }
  // Waits until every rank has finished reading the others' slots (phase 2).
  Status Depart(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return BarrierLocked(&lock, deadline, "departure");
  }
  // Valid between Arrive and Depart: no rank writes its slot in that window.
  const Slot& slot(int rank) const { return slots_[rank]; }
  int size() const { return size_; }

 private:
  Status BarrierLocked(std::unique_lock<std::mutex>* lock, Clock::time_point deadline,
                       const char* phase) {
    if (!broken_.ok()) return broken_;
    const uint64_t generation = generation_;
    if (++waiting_ == size_) {
      waiting_ = 0;
      ++generation_;
      cv_.notify_all();
      return Status::OK();
    }
    while (generation_ == generation) {
      if (!broken_.ok()) return broken_;
      if (cv_.wait_until(*lock, deadline) == std::cv_status::timeout && generation_ == generation &&
          broken_.ok()) {
        broken_ = Status::Timeout(std::to_string(waiting_) + " of " + std::to_string(size_) +
                                  " ranks reached the " + phase + " barrier");
        cv_.notify_all();
        return broken_;
      }
    }
    return Status::OK();
  }

  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;          // guarded by mu_
  uint64_t generation_ = 0;  // guarded by mu_; +1 each time a barrier opens
  Status broken_;            // guarded by mu_; the first timeout, then sticky
  std::vector<Slot> slots_;  // written under mu_, read between the barriers
};

template <typename T>
void SumInto(const Rendezvous& rv, size_t n, std::vector<uint8_t>* sum) {
  sum->resize(n * sizeof(T));
  if (n == 0) return;
  T* acc = reinterpret_cast<T*>(sum->data());
  std::memcpy(acc, rv.slot(0).in, n * sizeof(T));
  for (int r = 1; r < rv.size(); ++r) {
    const T* in = static_cast<const T*>(rv.slot(r).in);
    for (size_t i = 0; i < n; ++i) acc[i] += in[i];
  }
}

// Thread safety: one thread at a time (the Communicator contract).
class InProcessCommunicator : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<Rendezvous> rv, int rank,
                        const CommunicatorOptions& options)
      : Communicator(rank, rv->size(), options), rv_(std::move(rv)) {}
  const char* backend() const override { return "in-process"; }

 protected:
  Status DoAllReduceSum(void* data, size_t n, DataType type) override {
    const size_t elem = type == DataType::kFloat32 ? sizeof(float) : sizeof(double);
    std::vector<uint8_t> sum;
    MSREC_RETURN_IF_ERROR(Exchange({Op::kAllReduce, data, n * elem, 0, type}, [&] {
      if (type == DataType::kFloat32) {
        SumInto<float>(*rv_, n, &sum);
      } else {
        SumInto<double>(*rv_, n, &sum);
      }
    }));
    // Only after the departure barrier: the others read `data` until then.
    if (n > 0) std::memcpy(data, sum.data(), sum.size());
    return Status::OK();
  }
  Status DoBroadcast(void* data, size_t bytes, int root) override {
    return Exchange({Op::kBroadcast, data, bytes, root, DataType::kFloat32}, [&] {
      if (rank() != root && bytes > 0) std::memcpy(data, rv_->slot(root).in, bytes);
    });
  }
  Status DoAllGather(const void* in, size_t bytes, void* out) override {
    return Exchange({Op::kAllGather, in, bytes, 0, DataType::kFloat32}, [&] {
      for (int r = 0; r < size() && bytes > 0; ++r) {
        std::memcpy(static_cast<uint8_t*>(out) + r * bytes, rv_->slot(r).in, bytes);
      }
    });
  }
  Status DoAllGatherV(const void* in, size_t bytes, std::vector<uint8_t>* out,
                      std::vector<size_t>* counts) override {
    return Exchange({Op::kAllGatherV, in, bytes, 0, DataType::kFloat32}, [&] {
      counts->assign(size(), 0);
      out->clear();
      for (int r = 0; r < size(); ++r) {
        const Slot& s = rv_->slot(r);
        (*counts)[r] = s.bytes;
        const uint8_t* p = static_cast<const uint8_t*>(s.in);
        out->insert(out->end(), p, p + s.bytes);
      }
    });
  }
  Status DoBarrier() override {
    return Exchange(Slot(), [] {});
  }

 private:
  // Arrive, check that all ranks make the same call, run `read` (which may
  // read every slot and write only memory no other rank reads), depart.
  template <typename F>
  Status Exchange(const Slot& mine, F read) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options().timeout_s));
    MSREC_RETURN_IF_ERROR(rv_->Arrive(rank(), mine, deadline));
    Status status;
    for (int r = 0; r < size() && status.ok(); ++r) {
      if (!rv_->slot(r).Matches(rv_->slot(0))) {
        status =
            Status::Internal("mismatched collectives: rank 0 called " + rv_->slot(0).Describe() +
                             ", rank " + std::to_string(r) + " called " + rv_->slot(r).Describe());
      }
    }
    if (status.ok()) read();
    MSREC_RETURN_IF_ERROR(rv_->Depart(deadline));
    return status;
  }

  std::shared_ptr<Rendezvous> rv_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> MakeInProcessGroup(int size,
                                                              const CommunicatorOptions& options) {
  CHECK_GE(size, 1);
  auto rv = std::make_shared<Rendezvous>(size);
  std::vector<std::unique_ptr<Communicator>> group;
  for (int r = 0; r < size; ++r) {
    group.push_back(std::make_unique<InProcessCommunicator>(rv, r, options));
  }
  return group;
}

}  // namespace msrec
