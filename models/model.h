// The Model interface: every model (backbones, multi-scenario models, MI-DPG,
// SSIM's networks) maps a batch's embeddings to per-instance logits for the
// instance's own scenario, plus optional extra losses the trainer adds.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"

namespace msrec {

class Backbone;

// Shapes of a model's inputs and its hyperparameters. Filled from flags in launch/.
struct ModelConfig {
  int num_fields = 0;           // F: categorical fields (each embedded to embedding_dim)
  int embedding_dim = 16;       // d
  int num_dense = 0;            // dense features appended to the flattened embeddings
  int num_scenarios = 1;        // K
  std::vector<int64_t> hidden = {256, 128, 64};  // MLP / tower hidden sizes
  bool batch_norm = false;      // batch norm after each hidden linear layer
  double dropout = 0.0;         // dropout after each hidden activation (training only)
  std::map<std::string, std::string> extra;  // model-specific options ("key" -> "value")

  // The keys of `extra` the Extra* reads asked for, when set (shared by the
  // copies of this config): ModelRegistry::Create refuses options the model
  // never reads, so a misspelt key is an error, not a silent default.
  struct ExtraReads {
    std::mutex mu;
    std::set<std::string> keys;
  };
  std::shared_ptr<ExtraReads> extra_reads;

  // Typed reads of `extra` (model-specific options given as --model_opts
  // "key=value;key=value"). A missing key gives `fallback`; a malformed value
  // throws std::invalid_argument naming the key (the registry turns it into
  // InvalidArgument).
  int64_t ExtraInt(const std::string& key, int64_t fallback) const;
  double ExtraDouble(const std::string& key, double fallback) const;
  std::string ExtraString(const std::string& key, const std::string& fallback) const;
  // A comma-separated list, e.g. "64,32".
  std::vector<int64_t> ExtraInts(const std::string& key, const std::vector<int64_t>& fallback) const;

  // Records that `key` was asked for (see extra_reads).
  void NoteRead(const std::string& key) const;

  // Width of concat(flattened embeddings, dense features).
  int64_t input_dim() const { return int64_t(num_fields) * embedding_dim + num_dense; }
};

struct ModelInput {
  torch::Tensor embeddings;  // B x F x d, float
  torch::Tensor dense;       // B x num_dense, float (B x 0 when there are none)
  torch::Tensor scenario;    // B, int64, values in [0, K)
};

struct ModelOutput {
  torch::Tensor logits;  // B, float: logit of each instance for its own scenario
  // Extra terms the trainer adds to the task loss (already weighted), by name.
  std::vector<std::pair<std::string, torch::Tensor>> aux_losses;
};

class Model : public torch::nn::Module {
 public:
  ~Model() override = default;
  // Runs the model. Thread-compatible (one caller at a time).
  virtual ModelOutput Forward(const ModelInput& input) = 0;
  // Registered name ("dnn", "mt_backbone", ...).
  virtual std::string name() const = 0;
  // Every scenario's path for every instance: logits is B x K, column k the
  // logit instance i would get in scenario k; aux_losses are those of the
  // instance's own path. Used by the all-shared training mode (MT-Backbone-S)
  // and SSIM's shared-instance loss. The default runs Forward once as given
  // and once per scenario with the scenario column overwritten (so stateful
  // layers such as STAR's partitioned normalisation see each pass); models
  // override it with something cheaper.
  virtual ModelOutput ForwardAllScenarios(const ModelInput& input, int num_scenarios);
  // Floating-point operations (2 per multiply-add) of one instance's forward
  // pass on its own scenario's path, for `msrec info`; -1 if not computed.
  virtual int64_t FlopsPerInstance() const { return -1; }

  // Capabilities the training modes ask for (instead of model names):
  // The per-scenario towers of a model built from one full backbone per
  // scenario (MT-Backbone: tower k scores scenario k's instances), index =
  // scenario; empty for other models. SSIM routes shared rows through them.
  virtual std::vector<std::shared_ptr<Backbone>> ScenarioTowers() const { return {}; }
  // Finetune's hand-over: scenario 0's path (trained on every scenario's data)
  // becomes every scenario's starting point. InvalidArgument for a model
  // without per-scenario paths.
  virtual Status HandOverFirstScenario();
};

using ModelFactory = std::function<std::shared_ptr<Model>(const ModelConfig&)>;

// Maps names to model factories. Not a singleton: BuiltinModels() returns a
// registry holding every built-in model; tests may add their own.
class ModelRegistry {
 public:
  void Register(const std::string& name, ModelFactory factory);
  // Creates model `name`; NotFound lists the registered names. Catches
  // LibTorch exceptions (bad shapes) and returns them as InvalidArgument.
  // InvalidArgument when `config.extra` holds an option the model never reads
  // (a misspelt --model_opts key), unless `allow_unread_options` (tests that
  // give every model one shared option set).
  Result<std::shared_ptr<Model>> Create(const std::string& name, const ModelConfig& config,
                                        bool allow_unread_options = false) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, ModelFactory> factories_;
};

// The registry of every model msrec ships.
ModelRegistry BuiltinModels();

}  // namespace msrec
