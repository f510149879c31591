#include "trainer/ssim_search.h"

#include "common/key_value_file.h"
#include "common/file_util.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/timer.h"
#include "models/multi_scenario.h"
#include "trainer/data/reader.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"
#include "trainer/embedding_bridge.h"
#include "trainer/job_io.h"
#include "trainer/sharing.h"
#include "trainer/model_store.h"

namespace msrec {
namespace {

Result<std::unique_ptr<Reader>> OpenSearchReader(const std::vector<std::string>& files,
                                                 const SchemaSpec& schema, ScenarioMap& map,
                                                 int batch_size, const SsimSearchOptions& o) {
  ReaderOptions ro;
  ro.schema = schema;
  ro.scenario_map = &map;
  ro.batch_size = batch_size;
  ro.num_threads = o.reader_threads;
  ro.max_bad_rows = o.max_bad_rows;
  return OpenReader(files, ro);
}

// Non-empty batches of one pass over the training files.
Result<int64_t> CountBatches(const SchemaSpec& schema, ScenarioMap& map,
                             const SsimSearchOptions& o) {
  MSREC_ASSIGN_OR_RETURN(auto reader,
                         OpenSearchReader(o.train_files, schema, map, o.settings.batch_size, o));
  Batch batch;
  int64_t n = 0;
  while (true) {
    MSREC_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
    if (!more) break;
    if (batch.size > 0) ++n;
  }
  return n;
}

std::string JoinInts(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

Status SaveSsimSettings(const SsimSettings& s, const std::string& path) {
  std::ofstream out(path);
  char buf[64];
  auto num = [&](double v) {
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    return std::string(buf);
  };
  out << "format=1\n"
      << "selector_hidden=" << JoinInts(s.selector_hidden) << "\n"
      << "eps=" << num(s.eps) << "\nt_final=" << num(s.t_final)
      << "\nmask_lambda=" << num(s.mask_lambda) << "\nmask_loss=" << MaskLossFormName(s.mask_loss)
      << "\nbackbone_lr=" << num(s.backbone_lr)
      << "\nbackbone_weight_decay=" << num(s.backbone_weight_decay)
      << "\nselector_lr=" << num(s.selector_lr) << "\nbatch_size=" << s.batch_size
      << "\nsteps_in_epoch=" << s.steps_in_epoch << "\n";
  out.close();
  if (!out) return Status::IoError("cannot write " + path);
  return Status::OK();
}

Result<SsimSettings> LoadSsimSettings(const std::string& path) {
  SsimSettings s;
  MSREC_RETURN_IF_ERROR(ReadKeyValueFile(
      path, "an ssim-search artefact", 1, [&](const std::string& key, const std::string& value) {
        if (key == "selector_hidden") {
          s.selector_hidden.clear();
          std::stringstream items(value);
          std::string item;
          while (std::getline(items, item, ',')) {
            if (!item.empty()) s.selector_hidden.push_back(std::stoll(item));
          }
        } else if (key == "eps") s.eps = std::stod(value);
        else if (key == "t_final") s.t_final = std::stod(value);
        else if (key == "mask_lambda") s.mask_lambda = std::stod(value);
        else if (key == "mask_loss") {
          if (!ParseMaskLossForm(value, &s.mask_loss)) throw std::invalid_argument(value);
        } else if (key == "backbone_lr") s.backbone_lr = std::stod(value);
        else if (key == "backbone_weight_decay") s.backbone_weight_decay = std::stod(value);
        else if (key == "selector_lr") s.selector_lr = std::stod(value);
        else if (key == "batch_size") s.batch_size = std::stoi(value);
        else if (key == "steps_in_epoch") s.steps_in_epoch = std::stoll(value);
        else return false;
        return true;
      }));
  return s;
}

Result<SsimArtefact> LoadSsimArtefact(const std::string& dir) {
  SsimArtefact a;
  a.dir = dir;
  MSREC_ASSIGN_OR_RETURN(a.backbone, LoadJobSpec(dir + "/job.txt"));
  MSREC_ASSIGN_OR_RETURN(a.settings, LoadSsimSettings(dir + "/ssim.txt"));
  return a;
}

Result<SsimSearchResult> SsimSearch(JobSpec spec, const SsimSearchOptions& options) {
  const SsimSettings& set = options.settings;
  if (options.train_files.empty()) return Status::InvalidArgument("no training files (--train)");
  if (options.output_dir.empty())
    return Status::InvalidArgument("no artefact directory (--output)");
  if (spec.model != "mt_backbone") {
    return Status::InvalidArgument(
        "ssim-search trains MT-Backbone (--model mt_backbone, "
        "--model_opts backbone=dnn|deepfm|dcn), not " +
        spec.model);
  }
  if (set.batch_size <= 0) return Status::InvalidArgument("batch size must be positive");
  MSREC_RETURN_IF_ERROR(MakeDirs(options.output_dir));
  torch::manual_seed(options.seed);
  SetComputeThreads(options.intra_op_threads);

  MSREC_ASSIGN_OR_RETURN(SchemaSpec schema_spec, SchemaSpec::Parse(spec.schema));
  ScenarioMap map;
  if (!options.scenario_map_file.empty()) {
    MSREC_ASSIGN_OR_RETURN(map, ScenarioMap::Load(options.scenario_map_file));
  } else {
    MSREC_ASSIGN_OR_RETURN(map, ScenarioMap::Scan(options.train_files, schema_spec));
  }
  map.set_fixed(true);
  Schema schema;
  {
    MSREC_ASSIGN_OR_RETURN(
        auto probe, OpenSearchReader({options.train_files[0]}, schema_spec, map, 1, options));
    schema = probe->schema();
  }
  if (spec.label_index < 0 || spec.label_index >= schema.num_labels()) {
    return Status::InvalidArgument("label index out of range");
  }
  spec.model_config.num_fields = schema.num_cat_fields();
  spec.model_config.num_dense = schema.num_dense();
  spec.model_config.num_scenarios = int(map.size());
  spec.model_config.embedding_dim = spec.table.dim;
  spec.table.seed = options.seed;
  spec.store = "memory";
  spec.scenario_private_embeddings = false;
  const std::string& out_dir = options.output_dir;
  MSREC_RETURN_IF_ERROR(SaveJobSpec(spec, out_dir + "/job.txt"));
  MSREC_RETURN_IF_ERROR(map.Save(out_dir + "/scenario_map.tsv"));

  SsimSettings saved = set;
  if (saved.steps_in_epoch <= 0) {
    Timer count_timer;
    MSREC_ASSIGN_OR_RETURN(saved.steps_in_epoch, CountBatches(schema_spec, map, options));
    LOG(INFO) << "ssim-search: " << saved.steps_in_epoch << " batches per epoch (counted in "
              << count_timer.Seconds() << " s)";
  }
  if (options.max_steps > 0)
    saved.steps_in_epoch = std::min(saved.steps_in_epoch, options.max_steps);
  MSREC_RETURN_IF_ERROR(SaveSsimSettings(saved, out_dir + "/ssim.txt"));

  MSREC_ASSIGN_OR_RETURN(std::shared_ptr<Model> created,
                         BuiltinModels().Create(spec.model, spec.model_config));
  auto backbone = std::dynamic_pointer_cast<MtBackboneModel>(created);
  CHECK(backbone != nullptr) << "mt_backbone is not an MtBackboneModel";
  MSREC_RETURN_IF_ERROR(SaveDenseParameters(*backbone, out_dir + "/initial_dense.pt"));
  auto selector = std::make_shared<SelectionNetwork>(spec.model_config.num_fields, spec.table.dim,
                                                     set.selector_hidden, map.size());

  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedPs> store,
                         StartModelStore("memory", out_dir, ModelStoreUse::kTrain,
                                         /*memory_mb=*/1024));
  MSREC_RETURN_IF_ERROR(store->client()->CreateTable(spec.table));
  EmbeddingBridge bridge(store->client(), spec.table.name, spec.table.dim);
  torch::optim::Adam backbone_opt(
      backbone->parameters(),
      torch::optim::AdamOptions(set.backbone_lr).weight_decay(set.backbone_weight_decay));
  torch::optim::Adam selector_opt(selector->parameters(),
                                  torch::optim::AdamOptions(set.selector_lr));

  MSREC_ASSIGN_OR_RETURN(auto reader, OpenSearchReader(options.train_files, schema_spec, map,
                                                       set.batch_size, options));
  SsimSearchResult result;
  double shared_sum = 0, loss_sum = 0;
  int64_t window = 0;
  Timer timer;
  Batch batch;
  backbone->train();
  selector->train();
  while (options.max_steps <= 0 || result.steps < options.max_steps) {
    MSREC_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
    if (!more) break;
    if (batch.size == 0) continue;
    const int64_t step = ++result.steps;
    MSREC_ASSIGN_OR_RETURN(EmbeddingLookup lookup, bridge.Lookup(batch, /*requires_grad=*/true));
    const double t = TemperatureAt(step - 1, saved.steps_in_epoch, set.t_final);
    double loss_value = 0, shared = 0;
    try {
      ModelInput input = BatchInput(batch, lookup.embeddings);
      torch::Tensor labels = BatchLabels(batch, spec.label_index);
      torch::Tensor g = SharingMask(selector->Forward(input).logits, t, set.eps);
      // Every tower's logit of every row (the selector's gradient needs them),
      // with gradient only where the loss weights it (g_i = 1 or own tower).
      torch::Tensor all =
          SharedInstanceForward(*backbone, input, g, spec.model_config.num_scenarios,
                                /*all_values=*/true)
              .logits;
      torch::Tensor loss = SsimLoss(all, labels, input.scenario, g);
      if (set.mask_loss != MaskLossForm::kNone) {
        loss = loss + set.mask_lambda * MaskLoss(g, set.mask_loss);
      }
      backbone_opt.zero_grad();
      selector_opt.zero_grad();
      loss.backward();
      backbone_opt.step();
      selector_opt.step();
      loss_value = loss.item<double>();
      shared = g.mean().item<double>();
    } catch (const c10::Error& e) {
      return Status::Internal("search step " + std::to_string(step) +
                              " failed: " + e.what_without_backtrace());
    }
    MSREC_RETURN_IF_ERROR(bridge.PushGradients(lookup, step));
    if (!std::isfinite(loss_value)) {
      return Status::Internal("search loss is not finite at step " + std::to_string(step));
    }
    result.samples += batch.size;
    shared_sum += shared * batch.size;
    result.last_shared_fraction = shared;
    loss_sum += loss_value;
    ++window;
    if (step % options.log_every == 0) {
      char line[200];
      std::snprintf(line, sizeof(line),
                    "search step %lld/%lld loss %.5f t %.1f shared %.3f samples/s %.0f",
                    static_cast<long long>(step), static_cast<long long>(saved.steps_in_epoch),
                    loss_sum / window, t, shared, result.samples / std::max(timer.Seconds(), 1e-9));
      LOG(INFO) << line;
      loss_sum = 0;
      window = 0;
    }
  }
  result.seconds = timer.Seconds();
  result.shared_fraction = result.samples > 0 ? shared_sum / result.samples : 0;
  LOG(INFO) << "search read: " << reader->stats().ToString();
  MSREC_RETURN_IF_ERROR(SaveDenseParameters(*selector, out_dir + "/selector.pt"));
  MSREC_RETURN_IF_ERROR(store->Stop());  // writes <out_dir>/embeddings.bin
  return result;
}

}  // namespace msrec
