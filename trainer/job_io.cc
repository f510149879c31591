#include "trainer/job_io.h"

#include "common/key_value_file.h"

#include <fstream>
#include <sstream>

namespace msrec {
namespace {

std::string JoinInts(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

// "64,32" -> {64, 32}; throws std::invalid_argument on a bad item.
std::vector<int64_t> ParseInts(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::stoll(item));
  }
  return out;
}

}  // namespace

Status SaveJobSpec(const JobSpec& spec, const std::string& path) {
  std::ofstream out(path + ".tmp");
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
  if (!out) return Status::IoError("cannot write " + path + ".tmp");
  if (std::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot rename " + path + ".tmp to " + path);
  }
  return Status::OK();
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

Status SaveDenseParameters(Model& model, const std::string& path) {
  try {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    archive.save_to(path + ".tmp");
  } catch (const c10::Error& e) {
    return Status::IoError("saving " + path + ": " + e.what_without_backtrace());
  }
  if (std::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot rename " + path + ".tmp to " + path);
  }
  return Status::OK();
}

Status LoadDenseParameters(Model* model, const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    model->load(archive);
  } catch (const c10::Error& e) {
    return Status::Corruption("loading " + path + ": " + e.what_without_backtrace());
  }
  return Status::OK();
}

}  // namespace msrec
