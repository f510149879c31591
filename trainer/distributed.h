// Data-parallel training across worker processes: what the training session
// needs to know about the other workers, and the collectives it runs between
// them. The embedded default (one process) has no WorkerGroup and none of
// this runs.
//
// Per step, every worker:
//   1. AgreedSteps / AgreeOnStep: all-reduces (has a batch, batch rows); the
//      epoch ends when no worker has a batch left. A worker whose slice is
//      done while another's is not joins the step with an empty batch (zero
//      weight): it runs no forward, contributes zero gradients to every
//      collective and pushes an empty push, so slices of any length train
//      every row once per epoch and no collective hangs;
//   2. computes its local loss (mean over its own rows), scaled by
//      W * rows / global_rows (StepWeight), and backward;
//   3. DenseGradientSync: all-reduces the dense gradients (mean over
//      workers) in buckets, each bucket starting as soon as backward has
//      produced all its gradients (tensor hooks), overlapping the rest of
//      backward; a parameter without a gradient on every worker keeps none,
//      so the optimizer treats it as the single process would;
//   4. pushes its sparse gradients (empty on a zero-weight step);
//      synchronous servers average the W pushes.
// With the weights of 2., the mean over workers is the mean over the step's
// rows: one process training on the union batch, whatever the batch sizes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/bucketed_allreduce.h"
#include "cluster/communicator.h"
#include "common/status.h"
#include "models/model.h"
#include "parameter_server/ps_client.h"
#include "trainer/metrics.h"
#include "trainer/internal/step_source.h"

namespace msrec {

// How worker w's training rows are chosen.
enum class DataSharding {
  kChunks,   // "chunks": CSV chunks / shard blocks dealt round-robin (each byte read once)
  kBatches,  // "batches": every worker reads everything and takes batches w, w+W, ...
             // (W x the reading; step t's batches together are the single-process
             // batch t of W x the batch size: used to check exactness)
};
bool ParseDataSharding(const std::string& name, DataSharding* sharding);

// The other workers of a data-parallel job. Not owned by the trainer.
struct WorkerGroup {
  Communicator* comm = nullptr;  // the workers only; rank = worker index
  PsClient* ps = nullptr;        // the remote parameter servers (required)
  DataSharding sharding = DataSharding::kChunks;
  size_t bucket_bytes = size_t{25} << 20;  // dense gradient bucket size
  bool check_parameters = false;  // after the first step and every epoch, check every
                                  // worker holds the same dense parameters
  bool ps_sync = true;            // the servers are synchronous (a step waits for every push)
  // CUDA workers (MSREC_WITH_CUDA builds): NCCL between the workers' GPUs, for
  // the dense parameters and gradients (device buffers); `comm` stays the
  // host communicator (step agreement, metrics, SSIM's top-k). Null: the
  // dense sync goes through `comm` on the host.
  Communicator* device_comm = nullptr;
  std::string device;  // this worker's device when the job chose it ("cuda:<local rank>")

  int rank() const { return comm->rank(); }
  int size() const { return comm->size(); }
};

// Copies worker 0's dense parameters (`params`, the same list on every
// worker) to every worker.
Status BroadcastParameters(const std::vector<torch::Tensor>& params, Communicator& comm);

// Checks every worker holds bitwise the same dense parameters.
Status CheckSameParameters(const std::vector<torch::Tensor>& params, Communicator& comm);

// StepSource decorator of a data-parallel worker: reads `reader`'s next
// non-empty batch and agrees on the step with every worker (AgreeOnStep).
// Once its reader is done it yields empty batches while any other worker
// still has rows.
std::unique_ptr<StepSource> AgreedSteps(std::unique_ptr<Reader> reader,
                                        const std::atomic<bool>* stop_requested,
                                        Communicator& comm);

// Step agreement (see above): sets *with_batch to the number of workers
// that have a batch and *global_rows to the rows of this step over all
// workers; *stop (in: this worker was asked to stop) becomes true when any
// worker was.
Status AgreeOnStep(Communicator& comm, bool have_batch, int64_t rows, bool* stop, int* with_batch,
                   int64_t* global_rows);

// A pull or push of a synchronous server that timed out (`ps_error`, a
// Timeout) may wait for another worker's push rather than for a dead server:
// one all-reduce among the workers (every worker whose call timed out makes
// it) tells which. When it fails too, its message, which names the other
// workers and their hosts, is added to `ps_error`'s; otherwise `ps_error` is
// returned as it is. Other errors, and asynchronous servers, pass through.
Status ExplainServerTimeout(const WorkerGroup* workers, const Status& ps_error);

// The factor of a worker's mean loss that makes the workers' mean gradient the
// mean over the step's rows: workers * rows / global_rows (1 for equal
// batches, 0 for a worker joining the step with an empty batch).
double StepWeight(int workers, int64_t rows, int64_t global_rows);

// Averages the dense gradients over the workers during backward:
//   sync.StartStep(); loss.backward(); MSREC_RETURN_IF_ERROR(sync.Finish());
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual void StartStep() = 0;
  virtual Status Finish() = 0;
};

// The host implementation. Averages the dense gradients of `params` over the workers (see above):
//   sync.StartStep(); loss.backward(); MSREC_RETURN_IF_ERROR(sync.Finish());
// Hooks on the parameters copy each gradient into a flat buffer as backward
// produces it and start its bucket's all-reduce (BucketedAllReduce's thread);
// Finish waits and writes the means into the parameters' .grad.
// Thread safety: one step at a time, from the training thread; the modules must
// not run backward outside StartStep/Finish while this object lives.
class DenseGradientSync : public GradientSync {
 public:
  // `params` (the trained modules' parameters, the same list on every worker);
  // `comm` is not owned and must outlive this object.
  DenseGradientSync(std::vector<torch::Tensor> params, Communicator& comm, size_t bucket_bytes);
  ~DenseGradientSync() override;  // removes the hooks

  void StartStep() override;
  Status Finish() override;

 private:
  void OnGradient(size_t i, const torch::Tensor& grad);

  std::vector<torch::Tensor> params_;
  std::vector<size_t> offsets_;  // of each parameter in flat_
  std::vector<float> flat_;      // this step's gradients, then their means
  std::vector<unsigned> hooks_;
  std::vector<bool> seen_;       // per parameter: its hook fired this step
  Communicator& comm_;
  std::unique_ptr<BucketedAllReduce> reducer_;
  Status hook_error_;            // the first AddReady failure of the step
};

// Replaces `metrics`' instances by those of every worker (rank order), so each
// worker computes the exact metrics over all predictions.
Status GatherMetrics(Communicator& comm, MetricsAccumulator* metrics);

}  // namespace msrec
