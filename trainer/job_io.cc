#include "trainer/job_io.h"

#include "common/file_util.h"
#include "common/key_value_file.h"
#include "models/layers.h"
#include "trainer/model_dir.h"

#include <unistd.h>

#include <cstdio>
#include <set>

#include <fstream>
#include <sstream>

namespace msrec {

std::string JoinInts(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::vector<int64_t> ParseInts(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::stoll(item));
  }
  return out;
}


bool ParseTrainMode(const std::string& name, TrainMode* mode) {
  if (name == "mt") *mode = TrainMode::kMultiTask;
  else if (name == "all_shared") *mode = TrainMode::kAllShared;
  else if (name == "st") *mode = TrainMode::kSingle;
  else if (name == "finetune") *mode = TrainMode::kFinetune;
  else return false;
  return true;
}

Status SaveJobSpec(const JobSpec& spec, const std::string& path) {
  return WriteAtomically(path, [&](const std::string& tmp) {
  std::ofstream out(tmp);
  const ModelConfig& c = spec.model_config;
  const SparseOptimizerConfig& o = spec.table.optimizer;
  out << "format=1\n"
      << "model=" << spec.model << "\n"
      << "num_fields=" << c.num_fields << "\nembedding_dim=" << c.embedding_dim
      << "\nnum_dense=" << c.num_dense << "\nnum_scenarios=" << c.num_scenarios
      << "\nhidden=" << JoinInts(c.hidden) << "\nbatch_norm=" << c.batch_norm
      << "\ndropout=" << c.dropout << "\n";
  for (const auto& kv : c.extra) out << "extra." << kv.first << "=" << kv.second << "\n";
  out << "schema=" << spec.schema << "\n"
      << "table=" << spec.table.name << "\ndim=" << spec.table.dim
      << "\ninit_scale=" << spec.table.init_scale << "\nseed=" << spec.table.seed
      << "\nsparse_optimizer=" << int(o.kind) << "\nsparse_lr=" << o.learning_rate
      << "\nsparse_beta1=" << o.beta1 << "\nsparse_beta2=" << o.beta2
      << "\nsparse_epsilon=" << o.epsilon << "\nsparse_initial_accumulator="
      << o.initial_accumulator << "\nsparse_weight_decay=" << o.weight_decay << "\n"
      << "store=" << spec.store << "\nlabel_index=" << spec.label_index << "\n"
      << "scenario_private_embeddings=" << spec.scenario_private_embeddings << "\n";
  out.close();
  return out ? Status::OK() : Status::IoError("cannot write " + tmp);
  });
}

Result<JobSpec> LoadJobSpec(const std::string& path) {
  JobSpec spec;
  ModelConfig& c = spec.model_config;
  SparseOptimizerConfig& o = spec.table.optimizer;
  MSREC_RETURN_IF_ERROR(ReadKeyValueFile(
      path, "a model directory", 1, [&](const std::string& key, const std::string& value) {
        if (key == "model") spec.model = value;
        else if (key == "num_fields") c.num_fields = std::stoi(value);
        else if (key == "embedding_dim") c.embedding_dim = std::stoi(value);
        else if (key == "num_dense") c.num_dense = std::stoi(value);
        else if (key == "num_scenarios") c.num_scenarios = std::stoi(value);
        else if (key == "hidden") c.hidden = ParseInts(value);
        else if (key == "batch_norm") c.batch_norm = value == "1";
        else if (key == "dropout") c.dropout = std::stod(value);
        else if (key.rfind("extra.", 0) == 0) c.extra[key.substr(6)] = value;
        else if (key == "schema") spec.schema = value;
        else if (key == "table") spec.table.name = value;
        else if (key == "dim") spec.table.dim = std::stoi(value);
        else if (key == "init_scale") spec.table.init_scale = std::stof(value);
        else if (key == "seed") spec.table.seed = std::stoull(value);
        else if (key == "sparse_optimizer") o.kind = SparseOptimizerKind(std::stoi(value));
        else if (key == "sparse_lr") o.learning_rate = std::stof(value);
        else if (key == "sparse_beta1") o.beta1 = std::stof(value);
        else if (key == "sparse_beta2") o.beta2 = std::stof(value);
        else if (key == "sparse_epsilon") o.epsilon = std::stof(value);
        else if (key == "sparse_initial_accumulator") o.initial_accumulator = std::stof(value);
        else if (key == "sparse_weight_decay") o.weight_decay = std::stof(value);
        else if (key == "store") spec.store = value;
        else if (key == "label_index") spec.label_index = std::stoi(value);
        else if (key == "scenario_private_embeddings") spec.scenario_private_embeddings = value == "1";
        else return false;
        return true;
      }));
  return spec;
}

Status SaveDenseParameters(torch::nn::Module& module, const std::string& path) {
  // Serialized in memory, then written by us: LibTorch's file writer throws
  // from a destructor on a full disk (std::terminate); ours reports it.
  std::ostringstream bytes;
  try {
    torch::serialize::OutputArchive archive;
    module.save(archive);
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    return Status::IoError("saving " + path + ": " + e.what_without_backtrace());
  }
  return WriteFileDurably(path, bytes.str());
}

Status LoadDenseParameters(torch::nn::Module* model, const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return Status::NotFound(path + " does not exist");
  try {
    // Loaded onto the device the module lives on (an archive saved from a GPU
    // loads on a CPU-only machine and the other way round).
    const std::vector<torch::Tensor> params = model->parameters();
    c10::optional<torch::Device> device;
    if (!params.empty()) device = params.front().device();
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    model->load(archive);
  } catch (const c10::Error& e) {
    return Status::Corruption("loading " + path + ": " + e.what_without_backtrace());
  }
  // A model whose weights are not finite would score NaN for every row.
  for (const auto& p : model->named_parameters()) {
    if (!torch::isfinite(p.value()).all().item<bool>()) {
      return Status::Corruption(path + ": parameter " + p.key() + " holds NaN or Inf");
    }
  }
  return Status::OK();
}

namespace {

// Copies `from` into `to` when the shapes agree, or into the first rows of
// `to` when only the first dimension grew. False: nothing (fully) copied.
bool CopyMatching(const torch::Tensor& from, torch::Tensor to) {
  if (from.sizes() == to.sizes()) {
    to.copy_(from);
    return true;
  }
  if (from.dim() == to.dim() && from.dim() > 0 && from.size(0) < to.size(0) &&
      from.sizes().slice(1) == to.sizes().slice(1)) {
    to.narrow(0, 0, from.size(0)).copy_(from);
  }
  return false;
}

void LoadMatching(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                  const std::string& prefix, std::vector<std::string>* kept) {
  for (auto& p : module.named_parameters(/*recurse=*/false)) {
    torch::Tensor t;
    if (!archive.try_read(p.key(), t) || !CopyMatching(t, p.value())) kept->push_back(prefix + p.key());
  }
  for (auto& b : module.named_buffers(/*recurse=*/false)) {
    torch::Tensor t;
    if (!archive.try_read(b.key(), t, /*is_buffer=*/true) || !CopyMatching(t, b.value())) {
      kept->push_back(prefix + b.key());
    }
  }
  for (auto& child : module.named_children()) {
    torch::serialize::InputArchive sub;
    if (archive.try_read(child.key(), sub)) {
      LoadMatching(*child.value(), sub, prefix + child.key() + ".", kept);
    } else {
      kept->push_back(prefix + child.key() + ".*");
    }
  }
}

}  // namespace

Status LoadMatchingParameters(torch::nn::Module* module, const std::string& path,
                              std::vector<std::string>* kept) {
  if (::access(path.c_str(), F_OK) != 0) return Status::NotFound(path + " does not exist");
  try {
    torch::NoGradGuard no_grad;
    const std::vector<torch::Tensor> params = module->parameters();
    c10::optional<torch::Device> device;
    if (!params.empty()) device = params.front().device();
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    LoadMatching(*module, archive, "", kept);
  } catch (const c10::Error& e) {
    return Status::Corruption("loading " + path + ": " + e.what_without_backtrace());
  }
  return Status::OK();
}

namespace {
// Names of the parameters that receive a non-zero gradient from a random batch
// whose instances all belong to `scenario`.
std::set<std::string> ParametersTouchedBy(Model& model, const ModelConfig& c, int64_t scenario) {
  model.zero_grad();
  const int64_t b = 64;
  ModelInput in;
  in.embeddings = torch::randn({b, c.num_fields, c.embedding_dim});
  in.dense = torch::randn({b, c.num_dense});
  in.scenario = torch::full({b}, scenario, torch::kInt64);
  ModelOutput out = model.Forward(in);
  torch::Tensor loss = out.logits.sum();
  for (auto& aux : out.aux_losses) loss = loss + aux.second;
  loss.backward();
  std::set<std::string> touched;
  for (const auto& p : model.named_parameters()) {
    if (p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) {
      touched.insert(p.key());
    }
  }
  return touched;
}
}  // namespace

Result<std::string> DescribeModel(const JobSpec& spec) {
  const ModelConfig& c = spec.model_config;
  MSREC_ASSIGN_OR_RETURN(std::shared_ptr<Model> model, BuiltinModels().Create(spec.model, c));
  int64_t shared = 0, scenario0 = 0;
  if (c.num_scenarios >= 2) {
    const std::set<std::string> t0 = ParametersTouchedBy(*model, c, 0);
    const std::set<std::string> t1 = ParametersTouchedBy(*model, c, 1);
    for (const auto& p : model->named_parameters()) {
      if (t0.count(p.key()) && t1.count(p.key())) shared += p.value().numel();
      if (t0.count(p.key()) && !t1.count(p.key())) scenario0 += p.value().numel();
    }
  }
  std::ostringstream out;
  out << "model=" << spec.model << " fields=" << c.num_fields << " dim=" << c.embedding_dim
      << " dense=" << c.num_dense << " scenarios=" << c.num_scenarios << "\n"
      << "dense_parameters=" << CountParameters(*model) << "\n"
      << "shared_parameters=" << shared << "\n"
      << "per_scenario_parameters=" << scenario0 << "\n";
  const int64_t flops = model->FlopsPerInstance();
  if (flops >= 0) out << "flops_per_instance=" << flops << "\n";
  out << "embedding_parameters=per key: " << c.embedding_dim << " floats + optimizer state\n";
  return out.str();
}

}  // namespace msrec
