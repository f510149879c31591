// The embedding bridge between the sparse store and LibTorch.
//   Lookup: the batch's keys -> de-duplicated -> Pull rows -> a leaf tensor U
//           (num_unique x d, requires grad) -> gathered to E (B x F x d); a
//           multi-valued field's keys are mean-pooled (an empty one gives zeros).
//   PushGradients: after backward, U.grad rows are pushed for the unique keys.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/hash.h"
#include "common/status.h"
#include "models/model.h"
#include "parameter_server/ps_client.h"
#include "trainer/data/batch.h"

namespace msrec {

// A lookup whose rows are still being pulled (EmbeddingBridge::Start).
struct PendingLookup {
  std::vector<uint64_t> unique_keys;  // first-seen order
  std::vector<int64_t> inverse;       // per key of the batch: its row in unique_keys
  torch::Tensor rows;                 // host num_unique x d, filled by `pull`
  std::unique_ptr<PsFuture> pull;
};

// A push in flight (EmbeddingBridge::StartPush); Wait before the next push.
struct PendingPush {
  torch::Tensor grads;  // kept alive for the client until the push completes
  std::unique_ptr<PsFuture> push;
  double timeout_s = 0;
  Status Wait() { return push ? push->Wait(timeout_s) : Status::OK(); }
};

struct EmbeddingLookup {
  std::vector<uint64_t> unique_keys;  // keys of the rows of `rows`, first-seen order
  torch::Tensor rows;                 // num_unique x d leaf (requires grad when training)
  torch::Tensor embeddings;           // B x F x d, a function of `rows`
};

// The key of `key` in a scenario-private table (a bijection per scenario).
inline uint64_t ScenarioKey(uint64_t key, int32_t scenario) {
  return Mix64(key ^ (0xA24BAED4963EE407ULL * uint64_t(scenario + 1)));
}

// Thread-compatible. Does not own the client.
class EmbeddingBridge {
 public:
  // `per_scenario_keys` gives every scenario its own rows (ST-Backbone): row
  // i's keys become ScenarioKey(key, scenario_i).
  EmbeddingBridge(PsClient* client, std::string table, int dim, bool per_scenario_keys = false)
      : client_(client), table_(std::move(table)), dim_(dim), per_scenario_keys_(per_scenario_keys) {}

  // Pulls the rows of `batch` and builds E. `requires_grad` makes `rows` a leaf
  // that collects gradients (training); false for evaluation.
  Result<EmbeddingLookup> Lookup(const Batch& batch, bool requires_grad);

  // Lookup in two halves, so that the pull of the next batch overlaps the
  // current step: Start de-duplicates and starts pulling the rows for global
  // step `step` (0: any; a synchronous server answers once step - 1 is
  // applied); Finish waits for them (the client's default timeout) and builds
  // E. `batch` must be the same object, unchanged, in both calls.
  Result<PendingLookup> Start(const Batch& batch, int64_t step);
  Result<EmbeddingLookup> Finish(PendingLookup pending, const Batch& batch, bool requires_grad);

  // Where `rows` and `embeddings` live (default CPU). Rows are pulled into host
  // memory (pinned for a GPU) and copied once per batch without blocking the
  // host; gradients come back to the host to push.
  void set_device(torch::Device device) { device_ = device; }

  // Pushes rows.grad() for lookup.unique_keys at `step`. Rows without a
  // gradient (unused) are pushed as zeros: the optimizer still sees them.
  Status PushGradients(const EmbeddingLookup& lookup, int64_t step);
  // The same, asynchronous: returns once the push is under way.
  PendingPush StartPush(const EmbeddingLookup& lookup, int64_t step);

 private:
  torch::Tensor ToDevice(const torch::Tensor& host) const;

  PsClient* client_;
  std::string table_;
  int dim_;
  bool per_scenario_keys_;
  torch::Device device_ = torch::kCPU;
  std::vector<int64_t> slots_;    // scratch: open-addressing table of unique indices
  std::vector<uint64_t> salted_;  // scratch: per-scenario keys
};

// Sets LibTorch's intra-op threads to `intra_op_threads` and OpenBLAS's own
// thread pool (when OpenBLAS is the BLAS in use) to one thread: LibTorch
// already parallelises around BLAS calls, and a second pool of spinning BLAS
// threads on top of the OpenMP ones and the reader threads oversubscribed a
// 2-core machine (2 intra-op threads ran 3x slower than 1).
void SetComputeThreads(int intra_op_threads);

// The model inputs of `batch` besides the embeddings: dense features and
// scenario ids (int64), as owned tensors.
ModelInput BatchInput(const Batch& batch, torch::Tensor embeddings);

// Column `label_index` of the batch's labels: B floats.
torch::Tensor BatchLabels(const Batch& batch, int label_index);

}  // namespace msrec
