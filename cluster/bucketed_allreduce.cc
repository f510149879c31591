#include "cluster/bucketed_allreduce.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/hash.h"

namespace msrec {

BucketedAllReduce::BucketedAllReduce(Communicator* comm, std::vector<FloatSpan> tensors,
                                     const BucketOptions& options)
    : comm_(comm), tensors_(std::move(tensors)), options_(options) {
  CHECK(comm_ != nullptr);
  BuildBuckets(std::max<size_t>(1, options_.bucket_bytes / sizeof(float)));
  ready_.assign(tensors_.size(), false);
  remaining_.resize(buckets_.size());
  for (size_t b = 0; b < buckets_.size(); ++b) remaining_[b] = buckets_[b].num_tensors;
  thread_ = std::thread([this] { Loop(); });
}

BucketedAllReduce::~BucketedAllReduce() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BucketedAllReduce::BuildBuckets(size_t bucket_elems) {
  tensor_buckets_.resize(tensors_.size());
  size_t flat = 0;  // position of the current tensor in the flat stream
  for (size_t t = 0; t < tensors_.size(); ++t) {
    const size_t n = tensors_[t].size;
    CHECK(tensors_[t].data != nullptr || n == 0) << "tensor " << t << " has a null buffer";
    const size_t first = flat / bucket_elems;
    tensor_buckets_[t] = {first, n == 0 ? first : (flat + n - 1) / bucket_elems + 1};
    for (size_t off = 0; off < n;) {
      const size_t b = (flat + off) / bucket_elems;
      const size_t in_bucket = (flat + off) % bucket_elems;
      const size_t len = std::min(n - off, bucket_elems - in_bucket);
      if (buckets_.size() <= b) buckets_.resize(b + 1);
      buckets_[b].segments.push_back({t, off, len, in_bucket});
      buckets_[b].size = in_bucket + len;
      ++buckets_[b].num_tensors;
      off += len;
    }
    flat += n;
  }
}

Status BucketedAllReduce::AddReady(size_t index) {
  CHECK_LT(index, tensors_.size());
  std::lock_guard<std::mutex> lock(mu_);
  if (!error_.ok()) return error_;
  CHECK(!ready_[index]) << "tensor " << index << " marked ready twice in one step";
  ready_[index] = true;
  bool wake = false;
  for (size_t b = tensor_buckets_[index].first; b < tensor_buckets_[index].second; ++b) {
    if (--remaining_[b] == 0 && b == next_) wake = true;
  }
  if (wake) cv_.notify_all();
  return Status::OK();
}

Status BucketedAllReduce::Finish() {
  for (size_t t = 0; t < tensors_.size(); ++t) {
    bool is_ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_.ok()) return error_;
      is_ready = ready_[t];
    }
    if (!is_ready) MSREC_RETURN_IF_ERROR(AddReady(t));
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return next_ == buckets_.size(); });
  if (!error_.ok()) return error_;
  // Next step: nothing ready, start again at bucket 0.
  ready_.assign(tensors_.size(), false);
  for (size_t b = 0; b < buckets_.size(); ++b) remaining_[b] = buckets_[b].num_tensors;
  next_ = 0;
  return Status::OK();
}

void BucketedAllReduce::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || (next_ < buckets_.size() && remaining_[next_] == 0); });
    if (stop_) return;
    const size_t b = next_;
    lock.unlock();
    Status status = Reduce(buckets_[b]);
    lock.lock();
    if (status.ok()) {
      ++next_;
    } else {
      error_ = status.WithContext("bucket " + std::to_string(b) + " of " +
                                  std::to_string(buckets_.size()));
      next_ = buckets_.size();  // the rest is skipped; the communicator is broken
    }
    if (next_ == buckets_.size()) cv_.notify_all();
  }
}

Status BucketedAllReduce::Reduce(const Bucket& bucket) {
  const float scale = options_.average ? 1.0f / static_cast<float>(comm_->size()) : 1.0f;
  if (bucket.segments.size() == 1) {  // one contiguous piece: reduce in place, no copy
    const Segment& s = bucket.segments[0];
    float* p = tensors_[s.tensor].data + s.offset;
    MSREC_RETURN_IF_ERROR(comm_->AllReduceSum(p, s.length));
    if (options_.average) {
      for (size_t i = 0; i < s.length; ++i) p[i] *= scale;
    }
    return Status::OK();
  }
  staging_.resize(bucket.size);
  for (const Segment& s : bucket.segments) {
    std::memcpy(staging_.data() + s.bucket_offset, tensors_[s.tensor].data + s.offset,
                s.length * sizeof(float));
  }
  MSREC_RETURN_IF_ERROR(comm_->AllReduceSum(staging_.data(), staging_.size()));
  for (const Segment& s : bucket.segments) {
    const float* from = staging_.data() + s.bucket_offset;
    float* to = tensors_[s.tensor].data + s.offset;
    for (size_t i = 0; i < s.length; ++i) to[i] = from[i] * scale;
  }
  return Status::OK();
}

Status CheckSameAcrossRanks(Communicator& comm, const float* data, size_t n) {
  const uint64_t mine[2] = {n, Hash64(data, n * sizeof(float), 0x636865636bULL)};
  std::vector<uint64_t> all(2 * comm.size());
  MSREC_RETURN_IF_ERROR(comm.AllGather(mine, sizeof(mine), all.data()));
  for (int r = 1; r < comm.size(); ++r) {
    if (all[2 * r] != all[0] || all[2 * r + 1] != all[1]) {
      return Status::Internal("CheckSameAcrossRanks: rank " + std::to_string(r) +
                              " holds different values from rank 0 (" + std::to_string(all[2 * r]) +
                              " floats, hash " + std::to_string(all[2 * r + 1]) + " vs " +
                              std::to_string(all[0]) + " floats, hash " + std::to_string(all[1]) +
                              "; checked on rank " + std::to_string(comm.rank()) + ")");
    }
  }
  return Status::OK();
}

}  // namespace msrec
