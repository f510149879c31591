// Gradient bucketing (PyTorch DDP's Reducer, Horovod's tensor fusion) over
// plain float buffers: many small all-reduces become a few large ones, and a
// bucket is all-reduced on a background thread while the caller is still
// producing the next one (the trainer marks a gradient ready from backward).
//
//   BucketedAllReduce reducer(&comm, grads, {.bucket_bytes = 4 << 20});
//   for (size_t i : order_in_which_backward_finishes) reducer.AddReady(i);
//   MSREC_RETURN_IF_ERROR(reducer.Finish());  // grads now hold the mean
//
// Layout: the tensors, in the given order, form one flat stream of floats that
// is cut into buckets of bucket_bytes (the last may be shorter); a tensor may
// span buckets and a bucket may hold many tensors. Buckets are all-reduced
// strictly in index order on every rank, whatever order AddReady comes in, so
// ranks never issue collectives in different orders; list the tensors in the
// order their gradients become ready (backward: last layer first) to overlap.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster/communicator.h"
#include "common/status.h"

namespace msrec {

// A float buffer that is not owned: a tensor's gradient.
struct FloatSpan {
  float* data = nullptr;
  size_t size = 0;  // elements
};

struct BucketOptions {
  // Bytes of gradient per bucket, i.e. per all-reduce. Rounded down to whole
  // floats, at least one. Default 25 MiB (PyTorch DDP's default).
  size_t bucket_bytes = size_t{25} << 20;
  // Divide the sums by the group size, giving the mean over ranks. Default true.
  bool average = true;
};

// One step at a time: AddReady for each tensor (any order), then Finish; the
// object is then ready for the next step with the same tensors.
//
// Thread safety: AddReady and Finish are called from one thread (the
// producer). Between the first AddReady of a step and the return of Finish,
// the background thread is the only user of the communicator and of the
// tensors' memory once they are marked ready: do not touch either.
class BucketedAllReduce {
 public:
  // `comm` is not owned and must outlive this object. Every rank passes
  // tensors of the same sizes in the same order. The buffers must stay valid
  // for the life of this object (their contents may change between steps).
  BucketedAllReduce(Communicator* comm, std::vector<FloatSpan> tensors,
                    const BucketOptions& options);
  // Stops the background thread; waits for the bucket in flight, which the
  // communicator's timeout bounds.
  ~BucketedAllReduce();
  BucketedAllReduce(const BucketedAllReduce&) = delete;
  BucketedAllReduce& operator=(const BucketedAllReduce&) = delete;

  size_t num_buckets() const { return buckets_.size(); }

  // Marks tensor `index` final for this step (CHECK: index in range, not yet
  // marked this step). A bucket starts when all its tensors are ready and the
  // buckets before it have started. Does not block; returns the error of an
  // earlier bucket, if one failed.
  Status AddReady(size_t index);

  // Marks every tensor not yet ready as ready (its current contents are
  // reduced), waits for all buckets and returns the first error (for example
  // the communicator's Timeout; the wait is bounded by num_buckets() times
  // the communicator's timeout). On OK the tensors hold the sums (or means).
  // After an error the object is unusable: every later call returns it.
  Status Finish();

 private:
  struct Segment {
    size_t tensor;         // index into tensors_
    size_t offset;         // first element within the tensor
    size_t length;         // elements
    size_t bucket_offset;  // first element within the bucket
  };
  struct Bucket {
    std::vector<Segment> segments;
    size_t size = 0;      // elements
    int num_tensors = 0;  // tensors that overlap it
  };

  void BuildBuckets(size_t bucket_elems);
  void Loop();                     // the background thread
  Status Reduce(const Bucket& b);  // pack, all-reduce, unpack

  Communicator* const comm_;
  const std::vector<FloatSpan> tensors_;
  const BucketOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> tensor_buckets_;  // [first, last) bucket of a tensor
  std::vector<float> staging_;                             // background thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> ready_;     // guarded by mu_; per tensor, this step
  std::vector<int> remaining_;  // guarded by mu_; per bucket, tensors not yet ready
  size_t next_ = 0;             // guarded by mu_; next bucket the thread reduces
  Status error_;                // guarded by mu_; first failure, sticky
  bool stop_ = false;           // guarded by mu_
  std::thread thread_;          // last member: starts after everything above
};

// Checks that every rank holds bitwise the same `n` floats (for example the
// dense parameters after a step): all-gathers (n, 64-bit hash) and compares
// with rank 0. Internal error naming the first rank that differs; any
// communicator error as is. Collective.
Status CheckSameAcrossRanks(Communicator& comm, const float* data, size_t n);

}  // namespace msrec
