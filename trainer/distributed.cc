#include "trainer/distributed.h"

#include <algorithm>
#include <cstring>

#include "cluster/bucketed_allreduce.h"

namespace msrec {
namespace {

// The dense parameters as one contiguous CPU float vector, in parameters() order.
std::vector<float> FlattenParameters(const std::vector<torch::Tensor>& params) {
  std::vector<float> flat;
  for (const torch::Tensor& p : params) {
    torch::Tensor c = p.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    flat.insert(flat.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return flat;
}

// StepSource decorator: a worker's steps agreed with every other worker.
class AgreedStepSource : public StepSource {
 public:
  AgreedStepSource(std::unique_ptr<Reader> reader, const std::atomic<bool>* stop_requested,
                   Communicator& comm)
      : reader_(std::move(reader)), stop_requested_(stop_requested), comm_(comm) {}

  Result<bool> Next(Batch* batch, int64_t* global_rows) override {
    bool stop = stop_requested_ != nullptr && stop_requested_->load();
    bool have = false;
    while (!have && !reader_done_) {
      MSREC_ASSIGN_OR_RETURN(bool more, reader_->Next(batch));
      reader_done_ = !more;
      have = more && batch->size > 0;
    }
    // This slice is done: an empty batch (zero weight) while others train.
    if (!have) batch->ClearRows();
    int with_batch = 0;
    MSREC_RETURN_IF_ERROR(
        AgreeOnStep(comm_, have, have ? batch->size : 0, &stop, &with_batch, global_rows));
    stopped_ = stop;
    exhausted_ = !stop && with_batch == 0;
    return with_batch > 0 && !stop;
  }
  Reader& reader() override { return *reader_; }

 private:
  std::unique_ptr<Reader> reader_;
  const std::atomic<bool>* stop_requested_;
  Communicator& comm_;
  bool reader_done_ = false;
};

}  // namespace

std::unique_ptr<StepSource> AgreedSteps(std::unique_ptr<Reader> reader,
                                        const std::atomic<bool>* stop_requested,
                                        Communicator& comm) {
  return std::make_unique<AgreedStepSource>(std::move(reader), stop_requested, comm);
}

bool ParseDataSharding(const std::string& name, DataSharding* sharding) {
  if (name == "chunks") *sharding = DataSharding::kChunks;
  else if (name == "batches") *sharding = DataSharding::kBatches;
  else return false;
  return true;
}

Status BroadcastParameters(const std::vector<torch::Tensor>& params, Communicator& comm) {
  std::vector<float> flat = FlattenParameters(params);
  MSREC_RETURN_IF_ERROR(comm.Broadcast(flat.data(), flat.size() * sizeof(float), 0)
                            .WithContext("broadcasting the dense parameters from worker 0"));
  torch::NoGradGuard no_grad;
  size_t offset = 0;
  for (torch::Tensor p : params) {
    const int64_t n = p.numel();
    p.copy_(torch::from_blob(flat.data() + offset, p.sizes(), torch::kFloat32).to(p.device()));
    offset += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status CheckSameParameters(const std::vector<torch::Tensor>& params, Communicator& comm) {
  const std::vector<float> flat = FlattenParameters(params);
  return CheckSameAcrossRanks(comm, flat.data(), flat.size())
      .WithContext("the workers' dense parameters differ");
}

Status AgreeOnStep(Communicator& comm, bool have_batch, int64_t rows, bool* stop, int* with_batch,
                   int64_t* global_rows) {
  double v[3] = {have_batch ? 1.0 : 0.0, static_cast<double>(have_batch ? rows : 0),
                 *stop ? 1.0 : 0.0};
  MSREC_RETURN_IF_ERROR(comm.AllReduceSum(v, 3).WithContext("agreeing on the next step"));
  *with_batch = static_cast<int>(v[0]);
  *global_rows = static_cast<int64_t>(v[1]);
  *stop = v[2] > 0;
  return Status::OK();
}

Status ExplainServerTimeout(const WorkerGroup* workers, const Status& ps_error) {
  if (ps_error.ok() || ps_error.code() != Status::Code::kTimeout || workers == nullptr ||
      !workers->ps_sync || workers->size() < 2) {
    return ps_error;
  }
  double one = 1;
  const Status probe = workers->comm->AllReduceSum(&one, 1);
  if (probe.ok()) return ps_error;
  return Status::Timeout(ps_error.message() +
                         "; a synchronous server waits for every worker's push of the step, and "
                         "the workers' check that followed failed too, so a worker is gone: " +
                         probe.message());
}

double StepWeight(int workers, int64_t rows, int64_t global_rows) {
  if (global_rows <= 0 || rows * workers == global_rows) return 1.0;  // equal batches: exactly 1
  return static_cast<double>(workers) * static_cast<double>(rows) / static_cast<double>(global_rows);
}

DenseGradientSync::DenseGradientSync(std::vector<torch::Tensor> params, Communicator& comm,
                                     size_t bucket_bytes)
    : params_(std::move(params)), comm_(comm) {
  std::vector<FloatSpan> spans;
  size_t total = 0;
  for (const torch::Tensor& p : params_) {
    offsets_.push_back(total);
    total += static_cast<size_t>(p.numel());
  }
  flat_.assign(total, 0.0f);
  for (size_t i = 0; i < params_.size(); ++i) {
    spans.push_back(FloatSpan{flat_.data() + offsets_[i], static_cast<size_t>(params_[i].numel())});
  }
  BucketOptions options;
  options.bucket_bytes = bucket_bytes;
  options.average = true;
  reducer_ = std::make_unique<BucketedAllReduce>(&comm_, std::move(spans), options);
  seen_.assign(params_.size(), false);
  for (size_t i = 0; i < params_.size(); ++i) {
    hooks_.push_back(params_[i].register_hook([this, i](torch::Tensor grad) { OnGradient(i, grad); }));
  }
}

DenseGradientSync::~DenseGradientSync() {
  for (size_t i = 0; i < params_.size(); ++i) params_[i].remove_hook(hooks_[i]);
}

void DenseGradientSync::StartStep() {
  std::fill(flat_.begin(), flat_.end(), 0.0f);
  seen_.assign(params_.size(), false);
  hook_error_ = Status::OK();
}

void DenseGradientSync::OnGradient(size_t i, const torch::Tensor& grad) {
  torch::Tensor g = grad.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  float* dst = flat_.data() + offsets_[i];
  const float* src = g.data_ptr<float>();
  if (seen_[i]) {  // a second gradient for the same leaf in one backward: add it
    for (int64_t j = 0; j < g.numel(); ++j) dst[j] += src[j];
    return;
  }
  std::memcpy(dst, src, g.numel() * sizeof(float));
  seen_[i] = true;
  Status s = reducer_->AddReady(i);
  if (!s.ok() && hook_error_.ok()) hook_error_ = s;
}

Status DenseGradientSync::Finish() {
  MSREC_RETURN_IF_ERROR(hook_error_.WithContext("all-reducing the dense gradients"));
  MSREC_RETURN_IF_ERROR(reducer_->Finish().WithContext("all-reducing the dense gradients"));
  // Which parameters have a gradient on some worker (a tower whose scenario
  // was in no worker's batch, ever, has none anywhere and must keep none).
  std::vector<float> defined(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) defined[i] = params_[i].grad().defined() ? 1.0f : 0.0f;
  MSREC_RETURN_IF_ERROR(comm_.AllReduceSum(defined.data(), defined.size()));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (defined[i] == 0) continue;
    torch::Tensor& p = params_[i];
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    p.mutable_grad().copy_(
        torch::from_blob(flat_.data() + offsets_[i], p.sizes(), torch::kFloat32).to(p.device()));
  }
  return Status::OK();
}

Status GatherMetrics(Communicator& comm, MetricsAccumulator* metrics) {
  std::vector<float> merged;
  MSREC_RETURN_IF_ERROR(comm.AllGatherV(metrics->probs(), &merged));
  metrics->probs().swap(merged);
  MSREC_RETURN_IF_ERROR(comm.AllGatherV(metrics->labels(), &merged));
  metrics->labels().swap(merged);
  MSREC_RETURN_IF_ERROR(comm.AllGatherV(metrics->oracle(), &merged));
  metrics->oracle().swap(merged);
  std::vector<int32_t> scenarios;
  MSREC_RETURN_IF_ERROR(comm.AllGatherV(metrics->scenario(), &scenarios));
  metrics->scenario().swap(scenarios);
  std::vector<uint64_t> groups;  // gAUC: every worker's groups, so gAUC is exact
  MSREC_RETURN_IF_ERROR(comm.AllGatherV(metrics->groups(), &groups));
  metrics->groups().swap(groups);
  if (!metrics->oracle().empty() && metrics->oracle().size() != metrics->probs().size()) {
    metrics->oracle().clear();  // some worker had no oracle column: drop it everywhere
  }
  return Status::OK();
}

}  // namespace msrec
