#include "trainer/embedding_bridge.h"

#include <dlfcn.h>

#include "common/hash.h"

namespace msrec {

// A host tensor on `device`. To a GPU it goes through pinned memory without
// blocking the host (the copy is ordered on LibTorch's stream before the
// kernels that read it); on the CPU it is an owned copy.
torch::Tensor EmbeddingBridge::ToDevice(const torch::Tensor& host) const {
  if (!device_.is_cuda()) return host.to(device_, /*non_blocking=*/false, /*copy=*/true);
  torch::Tensor pinned = host.is_pinned() ? host : host.pin_memory();
  return pinned.to(device_, /*non_blocking=*/true);
}

Result<PendingLookup> EmbeddingBridge::Start(const Batch& batch, int64_t step) {
  PendingLookup out;
  const size_t n = batch.keys.size();
  CHECK_EQ(batch.offsets.size(), size_t(batch.size * batch.num_cat_fields + 1)) << "malformed batch";
  CHECK_EQ(batch.offsets.back(), int64_t(n)) << "malformed batch: offsets do not cover the keys";
  CHECK_EQ(batch.scenario.size(), size_t(batch.size)) << "malformed batch";
  const uint64_t* keys = batch.keys.data();
  if (per_scenario_keys_) {
    salted_.resize(n);
    const int64_t fields = batch.num_cat_fields;
    for (int64_t i = 0; i < batch.size; ++i) {
      for (int64_t j = batch.offsets[i * fields]; j < batch.offsets[(i + 1) * fields]; ++j) {
        salted_[j] = ScenarioKey(batch.keys[j], batch.scenario[i]);
      }
    }
    keys = salted_.data();
  }
  // De-duplicate with an open-addressing table sized to a power of two >= 2n.
  size_t capacity = 16;
  while (capacity < 2 * n) capacity <<= 1;
  slots_.assign(capacity, -1);
  out.inverse.resize(n);
  out.unique_keys.reserve(n / 2 + 1);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t key = keys[i];
    size_t slot = Mix64(key) & (capacity - 1);
    while (true) {
      const int64_t u = slots_[slot];
      if (u < 0) {
        slots_[slot] = int64_t(out.unique_keys.size());
        out.inverse[i] = int64_t(out.unique_keys.size());
        out.unique_keys.push_back(key);
        break;
      }
      if (out.unique_keys[u] == key) {
        out.inverse[i] = u;
        break;
      }
      slot = (slot + 1) & (capacity - 1);
    }
  }
  const int64_t num_unique = int64_t(out.unique_keys.size());
  // Pulled straight into pinned memory when the rows go on to a GPU.
  out.rows = torch::empty({num_unique, dim_},
                          torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(device_.is_cuda()));
  out.pull = client_->PullAsync(table_, out.unique_keys.data(), out.unique_keys.size(),
                                out.rows.data_ptr<float>(), step);
  return out;
}

Result<EmbeddingLookup> EmbeddingBridge::Finish(PendingLookup pending, const Batch& batch,
                                                bool requires_grad) {
  MSREC_RETURN_IF_ERROR(pending.pull->Wait(client_->default_timeout_s()));
  EmbeddingLookup out;
  out.unique_keys = std::move(pending.unique_keys);
  torch::Tensor rows = pending.rows;
  if (device_ != rows.device()) rows = ToDevice(rows);
  rows.set_requires_grad(requires_grad);
  out.rows = rows;

  const int64_t n = int64_t(pending.inverse.size());
  const int64_t bags = batch.size * batch.num_cat_fields;
  // Owned copies: autograd keeps the indices for backward.
  torch::Tensor indices = ToDevice(torch::from_blob(pending.inverse.data(), {n}, torch::kInt64));
  if (n == bags) {  // every field single-valued: a plain gather
    out.embeddings = rows.index_select(0, indices).view({batch.size, batch.num_cat_fields, dim_});
  } else {
    torch::Tensor offsets = ToDevice(
        torch::from_blob(const_cast<int64_t*>(batch.offsets.data()), {bags + 1}, torch::kInt64));
    auto bagged = torch::embedding_bag(rows, indices, offsets, /*scale_grad_by_freq=*/false,
                                       /*mode=mean*/ 1, /*sparse=*/false,
                                       /*per_sample_weights=*/{}, /*include_last_offset=*/true);
    out.embeddings = std::get<0>(bagged).view({batch.size, batch.num_cat_fields, dim_});
  }
  return out;
}

Result<EmbeddingLookup> EmbeddingBridge::Lookup(const Batch& batch, bool requires_grad) {
  MSREC_ASSIGN_OR_RETURN(PendingLookup pending, Start(batch, /*step=*/0));
  return Finish(std::move(pending), batch, requires_grad);
}

PendingPush EmbeddingBridge::StartPush(const EmbeddingLookup& lookup, int64_t step) {
  PendingPush out;
  out.timeout_s = client_->default_timeout_s();
  if (lookup.unique_keys.empty()) {
    // No rows (an empty batch): a synchronous server still waits for this
    // worker's push of the step.
    if (step > 0) out.push = client_->PushAsync(table_, nullptr, 0, nullptr, step);
    return out;
  }
  torch::Tensor grad = lookup.rows.grad();
  if (!grad.defined()) grad = torch::zeros_like(lookup.rows);
  out.grads = grad.to(torch::kCPU).contiguous();
  out.push = client_->PushAsync(table_, lookup.unique_keys.data(), lookup.unique_keys.size(),
                                out.grads.data_ptr<float>(), step);
  return out;
}

Status EmbeddingBridge::PushGradients(const EmbeddingLookup& lookup, int64_t step) {
  return StartPush(lookup, step).Wait();
}

void SetComputeThreads(int intra_op_threads) {
  at::set_num_threads(intra_op_threads);
  using SetThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set_blas(1);
  }
}

ModelInput BatchInput(const Batch& batch, torch::Tensor embeddings) {
  ModelInput in;
  const torch::Device device = embeddings.device();
  in.embeddings = std::move(embeddings);
  in.dense = torch::from_blob(const_cast<float*>(batch.dense.data()),
                              {batch.size, int64_t(batch.num_dense)}, torch::kFloat32)
                 .to(device, /*non_blocking=*/false, /*copy=*/true);
  in.scenario =
      torch::from_blob(const_cast<int32_t*>(batch.scenario.data()), {batch.size}, torch::kInt32)
          .to(device, torch::kInt64);
  return in;
}

torch::Tensor BatchLabels(const Batch& batch, int label_index) {
  torch::Tensor all = torch::from_blob(const_cast<float*>(batch.labels.data()),
                                       {batch.size, int64_t(batch.num_labels)}, torch::kFloat32);
  return all.select(1, label_index).clone();
}

}  // namespace msrec
