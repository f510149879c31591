// The model registry and the list of built-in models.
#include <sstream>

#include "models/model.h"
#include "models/internal/registry_parts.h"

namespace msrec {

Status Model::HandOverFirstScenario() {
  return Status::InvalidArgument("train mode finetune needs a model with per-scenario paths "
                                 "(mt_backbone); " + name() + " has none");
}

ModelOutput Model::ForwardAllScenarios(const ModelInput& input, int num_scenarios) {
  ModelOutput out = Forward(input);
  std::vector<torch::Tensor> cols;
  ModelInput as_k = input;
  for (int64_t k = 0; k < num_scenarios; ++k) {
    as_k.scenario = torch::full_like(input.scenario, k);
    cols.push_back(Forward(as_k).logits);
  }
  out.logits = torch::stack(cols, 1);
  return out;
}

void ModelConfig::NoteRead(const std::string& key) const {
  if (extra_reads == nullptr) return;
  std::lock_guard<std::mutex> lock(extra_reads->mu);
  extra_reads->keys.insert(key);
}

int64_t ModelConfig::ExtraInt(const std::string& key, int64_t fallback) const {
  NoteRead(key);
  auto it = extra.find(key);
  if (it == extra.end()) return fallback;
  try {
    size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    throw std::invalid_argument("model option '" + key + "': not an integer: '" + it->second + "'");
  }
}

double ModelConfig::ExtraDouble(const std::string& key, double fallback) const {
  NoteRead(key);
  auto it = extra.find(key);
  if (it == extra.end()) return fallback;
  try {
    size_t used = 0;
    const double v = std::stod(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    throw std::invalid_argument("model option '" + key + "': not a number: '" + it->second + "'");
  }
}

std::string ModelConfig::ExtraString(const std::string& key, const std::string& fallback) const {
  NoteRead(key);
  auto it = extra.find(key);
  return it == extra.end() ? fallback : it->second;
}

std::vector<int64_t> ModelConfig::ExtraInts(const std::string& key,
                                            const std::vector<int64_t>& fallback) const {
  NoteRead(key);
  auto it = extra.find(key);
  if (it == extra.end()) return fallback;
  std::vector<int64_t> out;
  std::stringstream in(it->second);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    try {
      out.push_back(std::stoll(item));
    } catch (const std::exception&) {
      throw std::invalid_argument("model option '" + key + "': not an integer list: '" +
                                  it->second + "'");
    }
  }
  return out;
}

void ModelRegistry::Register(const std::string& name, ModelFactory factory) {
  factories_[name] = std::move(factory);
}

Result<std::shared_ptr<Model>> ModelRegistry::Create(const std::string& name,
                                                     const ModelConfig& config,
                                                     bool allow_unread_options) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    std::ostringstream names;
    for (const auto& kv : factories_) names << " " << kv.first;
    return Status::NotFound("unknown model '" + name + "'; registered:" + names.str());
  }
  if (config.num_fields <= 0 || config.embedding_dim <= 0 || config.num_scenarios <= 0) {
    return Status::InvalidArgument("model '" + name + "' needs num_fields, embedding_dim and " +
                                   "num_scenarios > 0");
  }
  try {
    ModelConfig checked = config;
    checked.extra_reads = std::make_shared<ModelConfig::ExtraReads>();
    std::shared_ptr<Model> model = it->second(checked);
    std::lock_guard<std::mutex> lock(checked.extra_reads->mu);
    const std::set<std::string>& read = checked.extra_reads->keys;
    std::string unknown;
    for (const auto& kv : config.extra) {
      if (read.count(kv.first) == 0) unknown += (unknown.empty() ? "'" : ", '") + kv.first + "'";
    }
    if (!unknown.empty() && !allow_unread_options) {
      std::string known;
      for (const std::string& key : read) known += (known.empty() ? "" : ", ") + key;
      return Status::InvalidArgument("model '" + name + "' has no option " + unknown +
                                     " (--model_opts); its options: " +
                                     (known.empty() ? "none" : known));
    }
    return model;
  } catch (const c10::Error& e) {
    return Status::InvalidArgument("creating model '" + name + "': " + e.what_without_backtrace());
  } catch (const std::invalid_argument& e) {
    return Status::InvalidArgument("creating model '" + name + "': " + e.what());
  }
}

std::vector<std::string> ModelRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& kv : factories_) names.push_back(kv.first);
  return names;
}

ModelRegistry BuiltinModels() {
  ModelRegistry registry;
  RegisterBackbones(&registry);
  RegisterMultiScenarioModels(&registry);
  RegisterMidpg(&registry);
  return registry;
}

}  // namespace msrec
