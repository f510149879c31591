// TrainingSession: everything one training job (or one data-parallel worker of
// it) trains with, built from the options in one place: the data (schema,
// fixed scenario map), the model and every trained dense module with its
// optimizer, the parameter-server client (the embedded server on a thread of
// this process, or the job's server ranks), the embedding bridge, the dense
// gradient sync between workers, the checkpointer and the model directory.
// The TrainLoop (train_loop.h) drives it; a StepRunner (step_runner.h) trains
// one batch with it.
//
//   auto session = TrainingSession::Open(spec, options);   // data, model, rows
//   auto step = MakeTrainStep(*session);                   // may add dense parts
//   auto start = session->Start();                         // sync, --resume
//   TrainLoop(*session, *step).Run(start);
//   session->Finish();                                     // dense.pt, rows durable
#pragma once

#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer/data/scenario_map.h"
#include "trainer/distributed.h"
#include "trainer/embedding_bridge.h"
#include "trainer/evaluation.h"
#include "trainer/model_dir.h"
#include "trainer/tensorboard.h"
#include "trainer/internal/step_source.h"
#include "trainer/internal/train_checkpoint.h"
#include "trainer/train_options.h"

namespace msrec {

class EmbeddedPs;

// Thread safety: one training thread.
class TrainingSession {
 public:
  // Resolves the data (schema, scenario map), completes `spec`'s shapes, writes
  // job.txt and scenario_map.tsv (worker 0), creates the model (seeded),
  // opens the rows and the model's dense optimizer (Adam).
  static Result<std::unique_ptr<TrainingSession>> Open(JobSpec spec, const TrainOptions& options);
  ~TrainingSession();

  // Runs `create` (which draws initial weights from LibTorch's generator) on
  // this session's initialisation stream: seeded with options.seed before the
  // model, continued by every later call (SSIM's selector), so workers on
  // threads draw what separate processes would.
  void Initialise(const std::function<void()>& create);
  // Another trained module with its own Adam (SSIM's selector); before Start.
  void AddDensePart(std::string name, std::shared_ptr<torch::nn::Module> module, double lr,
                    double weight_decay);
  // Makes every worker hold worker 0's parameters, hooks the dense gradient
  // sync and, with --resume, restores the newest checkpoint. Returns where
  // training starts.
  Result<TrainingPosition> Start();

  // Trains every dense part on `loss`: zeroes the gradients, runs backward
  // (gradients averaged over the workers), steps every optimizer. `loss` is
  // scaled by the step weight first. An undefined `loss` is a worker's
  // zero-weight step (an empty batch): no backward, zero gradients into the
  // all-reduce, the same optimizer step as every other worker.
  Status Backward(const torch::Tensor& loss);
  // The factor of the next Backward's loss (StepWeight in distributed.h; 1
  // in one process), set by the training loop before each step.
  void set_step_weight(double weight) { step_weight_ = weight; }
  // The batches of epoch `epoch` on this worker: its part of the data,
  // shuffled (--shuffle_buffer), agreed with the other workers.
  Result<std::unique_ptr<StepSource>> OpenEpoch(int epoch);
  // Per-scenario metrics of the model on `files` (over every worker's part).
  Result<EvalMetrics> Evaluate(const std::vector<std::string>& files);
  // With workers and --check_parameters: every worker holds the same parameters.
  Status CheckSameParameters();
  // Writes dense.pt (worker 0) and makes the rows durable.
  Status Finish();

  const JobSpec& spec() const { return spec_; }
  const TrainOptions& options() const { return options_; }
  const ModelDir& dir() const { return dir_; }
  const ScenarioMap& scenario_map() const { return scenario_map_; }
  Model& model() { return *model_; }
  torch::nn::Module* part(const std::string& name);
  EmbeddingBridge& bridge() { return *bridge_; }
  PsClient* ps() { return ps_; }
  const WorkerGroup* workers() const { return options_.workers; }
  bool chief() const { return workers() == nullptr || workers()->rank() == 0; }
  // "worker W" in a data-parallel job, else "the process" (for logs).
  std::string WorkerName() const {
    return workers() == nullptr ? "the process" : "worker " + std::to_string(workers()->rank());
  }
  torch::Device device() const { return device_; }
  TrainCheckpointer& checkpointer() { return *checkpointer_; }
  // The metrics file (worker 0), null on the other workers.
  std::ostream* metrics() { return chief() ? &metrics_out_ : nullptr; }
  // TensorBoard events (worker 0 with --tensorboard_dir), else null.
  EventWriter* events() { return events_.get(); }

 private:
  TrainingSession(JobSpec spec, const TrainOptions& options);
  Status OpenData();
  Result<ScenarioMap> InitialScenarioMap();
  Status InitFromModel();
  Status CreateModel();
  Status OpenRows();
  std::vector<torch::Tensor> DenseParameters() const;

  JobSpec spec_;
  TrainOptions options_;
  ModelDir dir_;
  ScenarioMap scenario_map_;
  JobData data_;
  std::shared_ptr<Model> model_;
  torch::Device device_ = torch::kCPU;
  std::vector<DensePart> parts_;
  std::unique_ptr<EmbeddedPs> embedded_;  // the embedded default's server
  PsClient* ps_ = nullptr;
  std::unique_ptr<EmbeddingBridge> bridge_;
  std::unique_ptr<GradientSync> gradient_sync_;
  double step_weight_ = 1.0;
  std::unique_ptr<TrainCheckpointer> checkpointer_;
  std::ofstream metrics_out_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<ModelDir::WriterLock> lock_;  // worker 0: the directory's writer lock
  torch::Tensor init_rng_state_;  // the initialisation stream (Initialise)
};

}  // namespace msrec
