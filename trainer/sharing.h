// Which instances of a training batch are shared (SSIM's retraining and its
// ablations, docs/ssim.md). A shared instance trains every scenario's path
// (Model::ForwardAllScenarios) with loss mean_k l(path k); the others train
// only their own scenario's path:
//   loss = mean_i [(1 - g_i) * l(path s_i) + g_i * mean_k l(path k)]   (SsimLoss)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cluster/communicator.h"
#include "common/status.h"
#include "models/model.h"
#include "models/ssim.h"
#include "trainer/data/batch.h"

namespace msrec {

// How the trainer picks shared instances; at most one source may be set.
struct SharingOptions {
  std::string selector_dir;  // an ssim-search artefact: top-k share by the frozen selector
  std::vector<std::string> shared_flags_files;  // one 0/1 line per record, one file per
                                                // training file (ssim-export's output)
  bool random = false;   // SSIM-R: a seeded random top-k share per mini-batch
  double topk = -1;      // share k of each (global) mini-batch (selector and random); < 0:
                         // the selector's learned share (its search's mean g), 0.95 for SSIM-R
  uint64_t seed = 2022;  // seed of the random selection
  // Number of sources set (0: no policy; the trainer rejects more than one).
  int sources() const {
    return int(!selector_dir.empty()) + int(!shared_flags_files.empty()) + int(random);
  }
};

// Gives each instance of a batch its sharing flag g (B float, 0 or 1, no
// gradient). Thread-compatible.
//
// Data-parallel jobs: after set_communicator(comm) the top-k rule of the
// selector and random policies runs over the GLOBAL mini-batch, the
// concatenation of every worker's batch of the step in rank order, so a
// worker's mask is its rows of the mask one process would compute on that
// global batch (exactly: the selector's scores are all-gathered; the random
// policy draws the global batch's scores from the same seeded stream on every
// worker and keeps its own slice). SharedMask then is a collective on `comm`:
// every worker calls it once per step, in the same order as its other
// collectives. A failed collective (a lost peer, a timeout) is returned as
// that Status. The flag-file policy is per record and needs no communicator.
class SharingPolicy {
 public:
  virtual ~SharingPolicy() = default;
  virtual Result<torch::Tensor> SharedMask(const Batch& batch) = 0;
  // `comm`: the workers of a data-parallel job (rank = worker index), not
  // owned, must outlive the policy; null (the default) = this process only.
  void set_communicator(Communicator* comm) { comm_ = comm; }

 protected:
  Communicator* communicator() const { return comm_; }
  // TopKShareMask(scores, topk) over the global mini-batch: all-gathers the
  // scores (B, this worker's) when a communicator is set.
  Result<torch::Tensor> GlobalTopKMask(const torch::Tensor& scores, double topk);

 private:
  Communicator* comm_ = nullptr;
};

// The policy of `options` (nullptr when options.sources() == 0;
// InvalidArgument when more than one source is set). `scenario_values` is the
// training job's scenario map (a selector must have been searched with the same).
Result<std::unique_ptr<SharingPolicy>> MakeSharingPolicy(
    const SharingOptions& options, const std::vector<std::string>& scenario_values);

// The frozen selector of an ssim-search artefact: its selection network scores
// each instance on the search-phase embeddings (pulled through its own bridge
// over a memory store loaded from the artefact; nothing is ever pushed), and
// the top-k share of each mini-batch is shared. Nothing of it trains.
class SelectorSharing : public SharingPolicy {
 public:
  static Result<std::unique_ptr<SelectorSharing>> Open(const std::string& dir, double topk);
  ~SelectorSharing() override;
  // Scores m_i of the batch's instances (B, no gradient); local, no collective.
  Result<torch::Tensor> Scores(const Batch& batch);
  Result<torch::Tensor> SharedMask(const Batch& batch) override;
  // The selection network (frozen: requires_grad is off).
  Model& selector();
  const std::vector<std::string>& scenario_values() const;
  const std::string& schema() const;

 private:
  struct State;
  explicit SelectorSharing(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// When `spec.model` is mt_backbone with the same shapes and backbone as the
// artefact's, loads the artefact's pre-search dense state into `model` and
// sets *restored; otherwise leaves the model as it is (fresh initialisation).
Status RestoreInitialBackbone(const std::string& selector_dir, const std::string& model_name,
                              const ModelConfig& config, Model* model, bool* restored);

struct SharedFlagsExportOptions {
  std::string selector_dir;         // an ssim-search artefact
  std::vector<std::string> inputs;  // data files, read in order as one stream
  std::string output;               // flags file: one 0/1 line per input record
  double topk = -1;                 // share of each mini-batch (< 0: the learned share)
  int batch_size = 2048;            // mini-batch of the top-k rule (use the training one)
  int intra_op_threads = 1;
  int reader_threads = 1;
  int64_t max_bad_rows = 100;
  bool csv_multiline_quotes = false;  // ReaderOptions::multiline_quotes
};

// Writes the selector's sharing flag of every input record (bad records get
// 0), with the top-k share taken per mini-batch of `batch_size` in file order,
// as training with the same batch size computes it. Returns the number of
// records written.
Result<int64_t> ExportSharedFlags(const SharedFlagsExportOptions& options);

}  // namespace msrec
