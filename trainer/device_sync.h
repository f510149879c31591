// Dense sync of CUDA workers over NCCL, on the device (MSREC_WITH_CUDA builds
// only; CPU builds compile none of it and never call it).
//
// DeviceGradientSync: every parameter's gradient is copied, as backward
// produces it (a tensor hook), into its slot of one flat float buffer on the
// GPU; the buffer is cut into buckets (reverse parameter order, the order
// backward produces them). When a bucket's last gradient has been copied, an
// event is recorded on LibTorch's stream and a background thread waits for it
// and all-reduces the bucket with the NCCL communicator on the
// communicator's own stream, while backward goes on. Buckets are reduced in
// index order on every worker (a collective order all workers share).
// Finish flushes buckets whose parameters got no gradient, waits for the
// thread, all-reduces which parameters had a gradient anywhere, and writes the
// means into .grad, on the device. Nothing goes through the host but the
// per-parameter "has a gradient" flags (one float each).
//
// Streams: msrec does not set LibTorch streams, so its kernels run on the
// device's default stream; the events are recorded there.
#pragma once

#ifdef MSREC_WITH_CUDA

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "cluster/communicator.h"
#include "common/status.h"
#include "trainer/distributed.h"

namespace msrec {

// `params` live on one CUDA device; `nccl` is the NCCL communicator of the
// workers on their devices (not owned, must outlive the sync).
std::unique_ptr<GradientSync> MakeDeviceGradientSync(std::vector<torch::Tensor> params,
                                                     Communicator& nccl, size_t bucket_bytes);

// Copies worker 0's parameters to every worker, device to device over `nccl`.
Status BroadcastParametersOnDevice(const std::vector<torch::Tensor>& params, Communicator& nccl);

}  // namespace msrec

#endif  // MSREC_WITH_CUDA
