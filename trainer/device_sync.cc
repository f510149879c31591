#include "trainer/device_sync.h"

#ifdef MSREC_WITH_CUDA

#include <cuda_runtime_api.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace msrec {
namespace {

Status CudaCall(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::OK();
  return Status::Unavailable(std::string(what) + ": " + cudaGetErrorString(e));
}

class DeviceGradientSync : public GradientSync {
 public:
  DeviceGradientSync(std::vector<torch::Tensor> params, Communicator& comm, size_t bucket_bytes)
      : params_(std::move(params)), comm_(comm) {
    int64_t total = 0;
    for (const torch::Tensor& p : params_) {
      offsets_.push_back(total);
      total += p.numel();
    }
    flat_ = torch::zeros({total}, torch::TensorOptions().dtype(torch::kFloat32).device(
                                      params_.front().device()));
    device_ = params_.front().device().index();
    // Buckets over the parameters in reverse order (backward's order).
    bucket_of_.assign(params_.size(), 0);
    size_t bytes = 0;
    for (size_t k = params_.size(); k-- > 0;) {
      if (buckets_.empty() || bytes >= bucket_bytes) {
        buckets_.push_back(Bucket{});
        bytes = 0;
      }
      Bucket& b = buckets_.back();
      b.begin = offsets_[k];  // reverse order: each new parameter starts lower
      if (b.params == 0) b.end = offsets_[k] + params_[k].numel();
      ++b.params;
      bucket_of_[k] = buckets_.size() - 1;
      bytes += size_t(params_[k].numel()) * sizeof(float);
    }
    for (Bucket& b : buckets_) cudaEventCreateWithFlags(&b.ready_event, cudaEventDisableTiming);
    seen_.assign(params_.size(), false);
    for (size_t i = 0; i < params_.size(); ++i) {
      hooks_.push_back(params_[i].register_hook([this, i](torch::Tensor g) { OnGradient(i, g); }));
    }
    thread_ = std::thread([this] { Reduce(); });
  }

  ~DeviceGradientSync() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (size_t i = 0; i < params_.size(); ++i) params_[i].remove_hook(hooks_[i]);
    for (Bucket& b : buckets_) cudaEventDestroy(b.ready_event);
  }

  void StartStep() override {
    flat_.zero_();
    seen_.assign(params_.size(), false);
    std::lock_guard<std::mutex> lock(mu_);
    for (Bucket& b : buckets_) b.waiting = b.params;
    ready_.assign(buckets_.size(), false);
    next_ = 0;
    error_ = Status::OK();
  }

  Status Finish() override {
    // Buckets with a parameter that got no gradient this step go as they are.
    for (size_t b = 0; b < buckets_.size(); ++b) MarkReady(b);
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return next_ == buckets_.size() || !error_.ok(); });
      MSREC_RETURN_IF_ERROR(error_.WithContext("all-reducing the dense gradients (NCCL)"));
    }
    // Which parameters have a gradient on some worker (one that has none
    // anywhere keeps none, as in one process).
    std::vector<float> defined(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) defined[i] = params_[i].grad().defined() ? 1.0f : 0.0f;
    torch::Tensor flags = torch::from_blob(defined.data(), {int64_t(defined.size())}, torch::kFloat32)
                              .to(flat_.device());
    MSREC_RETURN_IF_ERROR(comm_.AllReduceSum(flags.data_ptr<float>(), defined.size()));
    flags = flags.cpu();
    torch::NoGradGuard no_grad;
    flat_.div_(static_cast<double>(comm_.size()));
    const float* any = flags.data_ptr<float>();
    for (size_t i = 0; i < params_.size(); ++i) {
      if (any[i] == 0) continue;
      torch::Tensor& p = params_[i];
      torch::Tensor mean = flat_.narrow(0, offsets_[i], p.numel()).view(p.sizes());
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      p.mutable_grad().copy_(mean);
    }
    return Status::OK();
  }

 private:
  struct Bucket {
    int64_t begin = 0, end = 0;  // element range in flat_
    size_t params = 0;           // parameters in the bucket
    size_t waiting = 0;          // this step: gradients not yet copied
    cudaEvent_t ready_event = nullptr;
  };

  void OnGradient(size_t i, const torch::Tensor& grad) {
    torch::NoGradGuard no_grad;
    torch::Tensor slot = flat_.narrow(0, offsets_[i], params_[i].numel());
    torch::Tensor g = grad.detach().reshape({-1}).to(torch::kFloat32);
    if (seen_[i]) {  // a second gradient for the same leaf in one backward
      slot.add_(g);
      return;
    }
    slot.copy_(g);
    seen_[i] = true;
    const size_t b = bucket_of_[i];
    bool complete = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      complete = --buckets_[b].waiting == 0;
    }
    if (complete) MarkReady(b);
  }

  // Records the bucket's event after the copies enqueued so far and hands it
  // to the reducing thread (once per step).
  void MarkReady(size_t b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ready_[b]) return;
    cudaSetDevice(device_);
    cudaEventRecord(buckets_[b].ready_event, /*stream=*/0);
    ready_[b] = true;
    cv_.notify_all();
  }

  // The reducing thread: bucket 0, 1, ... in order, each once its event has fired.
  void Reduce() {
    cudaSetDevice(device_);
    while (true) {
      size_t b;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || (next_ < ready_.size() && ready_[next_]); });
        if (stop_) return;
        b = next_;
      }
      Status s = CudaCall(cudaEventSynchronize(buckets_[b].ready_event), "cudaEventSynchronize");
      if (s.ok()) {
        float* data = flat_.data_ptr<float>() + buckets_[b].begin;
        s = comm_.AllReduceSum(data, size_t(buckets_[b].end - buckets_[b].begin));
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (!s.ok() && error_.ok()) error_ = s;
      ++next_;
      cv_.notify_all();
    }
  }

  std::vector<torch::Tensor> params_;
  Communicator& comm_;
  int device_ = 0;
  std::vector<int64_t> offsets_;
  torch::Tensor flat_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;
  std::vector<bool> seen_;  // training thread only
  std::vector<unsigned> hooks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> ready_;  // guarded by mu_
  size_t next_ = 0;          // guarded by mu_
  Status error_;             // guarded by mu_
  bool stop_ = false;        // guarded by mu_
  std::thread thread_;       // last: starts after the members above
};

}  // namespace

std::unique_ptr<GradientSync> MakeDeviceGradientSync(std::vector<torch::Tensor> params,
                                                     Communicator& nccl, size_t bucket_bytes) {
  return std::make_unique<DeviceGradientSync>(std::move(params), nccl, bucket_bytes);
}

Status BroadcastParametersOnDevice(const std::vector<torch::Tensor>& params, Communicator& nccl) {
  if (params.empty()) return Status::OK();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  for (const torch::Tensor& p : params) flat_parts.push_back(p.detach().reshape({-1}).to(torch::kFloat32));
  torch::Tensor flat = torch::cat(flat_parts).contiguous();
  // The NCCL stream is not LibTorch's: the buffer must be written first.
  MSREC_RETURN_IF_ERROR(CudaCall(cudaDeviceSynchronize(), "cudaDeviceSynchronize"));
  MSREC_RETURN_IF_ERROR(nccl.Broadcast(flat.data_ptr<float>(), size_t(flat.numel()) * sizeof(float), 0)
                            .WithContext("broadcasting the dense parameters from worker 0 (NCCL)"));
  int64_t offset = 0;
  for (torch::Tensor p : params) {
    p.copy_(flat.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
  return Status::OK();
}

}  // namespace msrec

#endif  // MSREC_WITH_CUDA
