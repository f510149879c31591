#include "trainer/sharing.h"

#include <fstream>
#include <random>

#include "trainer/data/reader.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"
#include "trainer/embedding_bridge.h"
#include "trainer/job_io.h"
#include "trainer/model_dir.h"
#include "trainer/ssim_artefact.h"
#include "trainer/internal/model_store.h"

namespace msrec {
namespace {
// The share when neither --ssim_topk nor a learned share says otherwise.
constexpr double kDefaultTopK = 0.95;
}  // namespace

struct SelectorSharing::State {
  SsimArtefact artefact;
  std::shared_ptr<SelectionNetwork> net;
  std::unique_ptr<EmbeddedPs> store;  // the selector's rows
  std::unique_ptr<EmbeddingBridge> bridge;
  std::vector<std::string> scenario_values;
  double topk = 0.95;
};

SelectorSharing::SelectorSharing(std::unique_ptr<State> state) : state_(std::move(state)) {}
SelectorSharing::~SelectorSharing() = default;

Result<torch::Tensor> SharingPolicy::GlobalTopKMask(const torch::Tensor& scores, double topk) {
  if (comm_ == nullptr) return TopKShareMask(scores, topk);
  torch::Tensor local = scores.detach().to(torch::kFloat32).contiguous();
  std::vector<float> mine(local.data_ptr<float>(), local.data_ptr<float>() + local.numel());
  std::vector<float> all;
  std::vector<size_t> counts;
  MSREC_RETURN_IF_ERROR(
      comm_->AllGatherV(mine, &all, &counts).WithContext("SSIM top-k over the global batch"));
  int64_t offset = 0;
  for (int r = 0; r < comm_->rank(); ++r) offset += int64_t(counts[r]);
  torch::Tensor global = torch::from_blob(all.data(), {int64_t(all.size())}, torch::kFloat32);
  ScoreGather gathered = [&](const torch::Tensor&, int64_t* at) {
    *at = offset;
    return global;
  };
  return TopKShareMask(local, topk, gathered);
}

Result<std::unique_ptr<SelectorSharing>> SelectorSharing::Open(const std::string& dir,
                                                               double topk) {
  if (!(topk <= 1)) {
    return Status::InvalidArgument("--ssim_topk must be in [0, 1], got " + std::to_string(topk));
  }
  auto s = std::make_unique<State>();
  MSREC_RETURN_IF_ERROR(ModelDir(dir).Verify().WithContext("ssim-search artefact"));
  MSREC_ASSIGN_OR_RETURN(s->artefact, LoadSsimArtefact(dir));
  if (topk < 0) {
    // "auto": the share the search's validation sweep chose, else the share it learned.
    const SsimSettings& settings = s->artefact.settings;
    const char* source = "no learned share in the artefact";
    topk = kDefaultTopK;
    if (settings.validated_share >= 0) {
      topk = settings.validated_share;
      source = "the share the search's validation sweep chose";
    } else if (settings.learned_share >= 0) {
      topk = settings.learned_share;
      source = "the share the search learned";
    }
    LOG(INFO) << "SSIM: sharing the top " << topk << " of each mini-batch (" << source
              << "; --ssim_topk overrides)";
  }
  const JobSpec& job = s->artefact.backbone;
  const ModelConfig& c = job.model_config;
  s->net = std::make_shared<SelectionNetwork>(
      c.num_fields, job.table.dim, s->artefact.settings.selector_hidden, c.num_scenarios);
  MSREC_RETURN_IF_ERROR(LoadDenseParameters(s->net.get(), ModelDir(dir).selector()));
  for (auto& p : s->net->parameters()) p.set_requires_grad(false);
  s->net->eval();
  MSREC_ASSIGN_OR_RETURN(ScenarioMap map, ScenarioMap::Load(ModelDir(dir).scenario_map()));
  s->scenario_values = map.values();
  MSREC_ASSIGN_OR_RETURN(s->store,
                         StartModelStore("memory", dir, ModelStoreUse::kRead, ServerSettings()));
  MSREC_RETURN_IF_ERROR(s->store->client()->CreateTable(job.table));
  s->bridge =
      std::make_unique<EmbeddingBridge>(s->store->client(), job.table.name, job.table.dim);
  s->topk = topk;
  return std::unique_ptr<SelectorSharing>(new SelectorSharing(std::move(s)));
}

Result<torch::Tensor> SelectorSharing::Scores(const Batch& batch) {
  MSREC_ASSIGN_OR_RETURN(EmbeddingLookup lookup,
                         state_->bridge->Lookup(batch, /*requires_grad=*/false));
  torch::NoGradGuard no_grad;
  try {
    return state_->net->Forward(BatchInput(batch, lookup.embeddings)).logits;
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("selector forward failed: ") + e.what_without_backtrace());
  }
}

Result<torch::Tensor> SelectorSharing::SharedMask(const Batch& batch) {
  if (batch.size == 0) return GlobalTopKMask(torch::empty({0}), state_->topk);  // joins the gather
  MSREC_ASSIGN_OR_RETURN(torch::Tensor scores, Scores(batch));
  return GlobalTopKMask(scores, state_->topk);
}

Model& SelectorSharing::selector() { return *state_->net; }
const std::vector<std::string>& SelectorSharing::scenario_values() const {
  return state_->scenario_values;
}
const std::string& SelectorSharing::schema() const { return state_->artefact.backbone.schema; }

namespace {

// SSIM-R: the top-k share of uniform random scores (seeded, one stream per
// job). With a communicator every worker draws the scores of the whole global
// mini-batch (the workers' row counts are all-gathered) and keeps its slice,
// so the streams stay in step and the masks are those of one process.
class RandomSharing : public SharingPolicy {
 public:
  RandomSharing(double topk, uint64_t seed) : topk_(topk), rng_(seed) {}
  Result<torch::Tensor> SharedMask(const Batch& batch) override {
    int64_t total = batch.size, offset = 0;
    if (Communicator* comm = communicator()) {
      std::vector<int64_t> sizes;
      MSREC_RETURN_IF_ERROR(comm->AllGatherV(std::vector<int64_t>{batch.size}, &sizes)
                                .WithContext("SSIM-R batch sizes of the global batch"));
      total = 0;
      for (int r = 0; r < int(sizes.size()); ++r) {
        if (r < comm->rank()) offset += sizes[r];
        total += sizes[r];
      }
    }
    torch::Tensor scores = torch::empty({total}, torch::kFloat32);
    float* p = scores.data_ptr<float>();
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    for (int64_t i = 0; i < total; ++i) p[i] = uniform(rng_);
    ScoreGather whole = [&](const torch::Tensor&, int64_t* at) {
      *at = offset;
      return scores;
    };
    return TopKShareMask(scores.narrow(0, offset, batch.size), topk_, whole);
  }

 private:
  double topk_;
  std::mt19937_64 rng_;
};

// Flags exported by ssim-export, indexed by the batch's record index (across
// the training files, in order).
class FlagFileSharing : public SharingPolicy {
 public:
  static Result<std::unique_ptr<SharingPolicy>> Open(const std::vector<std::string>& files) {
    auto p = std::make_unique<FlagFileSharing>();
    for (const std::string& file : files) {
      std::ifstream in(file);
      if (!in) return Status::IoError("cannot open shared flags file " + file);
      std::string line;
      int64_t line_no = 0;
      while (std::getline(in, line)) {
        ++line_no;
        if (line != "0" && line != "1") {
          return Status::InvalidArgument(file + ":" + std::to_string(line_no) +
                                         ": expected 0 or 1, got '" + line + "'");
        }
        p->flags_.push_back(line == "1");
      }
    }
    return std::unique_ptr<SharingPolicy>(std::move(p));
  }
  Result<torch::Tensor> SharedMask(const Batch& batch) override {
    torch::Tensor g = torch::empty({batch.size}, torch::kFloat32);
    float* p = g.data_ptr<float>();
    for (int64_t i = 0; i < batch.size; ++i) {
      const int64_t r = batch.record[i];
      if (r < 0 || r >= int64_t(flags_.size())) {
        return Status::InvalidArgument("shared flags cover " + std::to_string(flags_.size()) +
                                       " records; record " + std::to_string(r) +
                                       " has no flag (one file per training file, in order)");
      }
      p[i] = flags_[r];
    }
    return g;
  }

 private:
  std::vector<uint8_t> flags_;
};

}  // namespace

Result<std::unique_ptr<SharingPolicy>> MakeSharingPolicy(
    const SharingOptions& options, const std::vector<std::string>& scenario_values) {
  if (options.sources() == 0) return std::unique_ptr<SharingPolicy>();
  if (options.sources() > 1) {
    return Status::InvalidArgument("give one of --ssim_selector, --shared_flags, --ssim_random");
  }
  if (!(options.topk <= 1)) {
    return Status::InvalidArgument("--ssim_topk must be in [0, 1] (or < 0: the learned share)");
  }
  if (options.random) {
    return std::unique_ptr<SharingPolicy>(std::make_unique<RandomSharing>(
        options.topk < 0 ? kDefaultTopK : options.topk, options.seed));
  }
  if (!options.shared_flags_files.empty()) return FlagFileSharing::Open(options.shared_flags_files);
  MSREC_ASSIGN_OR_RETURN(auto selector, SelectorSharing::Open(options.selector_dir, options.topk));
  if (selector->scenario_values() != scenario_values) {
    return Status::InvalidArgument("the selector in " + options.selector_dir +
                                   " was searched with another scenario map; train with "
                                   "--scenario_map " +
                                   ModelDir(options.selector_dir).scenario_map());
  }
  return std::unique_ptr<SharingPolicy>(std::move(selector));
}

Status RestoreInitialBackbone(const std::string& selector_dir, const std::string& model_name,
                              const ModelConfig& c, Model* model, bool* restored) {
  *restored = false;
  if (selector_dir.empty() || model_name != "mt_backbone") return Status::OK();
  MSREC_ASSIGN_OR_RETURN(SsimArtefact a, LoadSsimArtefact(selector_dir));
  const ModelConfig& s = a.backbone.model_config;
  if (a.backbone.model != model_name || s.num_fields != c.num_fields ||
      s.embedding_dim != c.embedding_dim || s.num_dense != c.num_dense ||
      s.num_scenarios != c.num_scenarios || s.hidden != c.hidden || s.batch_norm != c.batch_norm ||
      s.ExtraString("backbone", "dnn") != c.ExtraString("backbone", "dnn")) {
    LOG(WARNING) << "the selector's backbone has other shapes: the model starts from a fresh "
                    "initialisation";
    return Status::OK();
  }
  MSREC_RETURN_IF_ERROR(LoadDenseParameters(model, ModelDir(selector_dir).initial_dense()));
  *restored = true;
  return Status::OK();
}

Result<int64_t> ExportSharedFlags(const SharedFlagsExportOptions& options) {
  if (options.inputs.empty()) return Status::InvalidArgument("no input files (--input)");
  if (options.output.empty()) return Status::InvalidArgument("no output file (--output)");
  SetComputeThreads(options.intra_op_threads);
  MSREC_ASSIGN_OR_RETURN(auto selector, SelectorSharing::Open(options.selector_dir, options.topk));
  MSREC_ASSIGN_OR_RETURN(SchemaSpec schema, SchemaSpec::Parse(selector->schema()));
  MSREC_ASSIGN_OR_RETURN(ScenarioMap map,
                         ScenarioMap::Load(ModelDir(options.selector_dir).scenario_map()));
  map.set_fixed(true);
  ReaderOptions ro;
  ro.schema = schema;
  ro.scenario_map = &map;
  ro.batch_size = options.batch_size;
  ro.num_threads = options.reader_threads;
  ro.max_bad_rows = options.max_bad_rows;
  ro.multiline_quotes = options.csv_multiline_quotes;
  MSREC_ASSIGN_OR_RETURN(auto reader, OpenReader(options.inputs, ro));
  std::ofstream out(options.output);
  if (!out) return Status::IoError("cannot open " + options.output);
  int64_t next = 0, shared = 0;
  Batch batch;
  while (true) {
    MSREC_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
    if (!more) break;
    if (batch.size == 0) continue;
    MSREC_ASSIGN_OR_RETURN(torch::Tensor g, selector->SharedMask(batch));
    const float* p = g.data_ptr<float>();
    for (int64_t i = 0; i < batch.size; ++i) {
      for (; next < batch.record[i]; ++next) out << "0\n";
      out << (p[i] > 0.5f ? "1\n" : "0\n");
      shared += p[i] > 0.5f;
      ++next;
    }
  }
  for (; next < reader->stats().rows_ok + reader->stats().total_bad(); ++next) out << "0\n";
  out.close();
  if (!out) return Status::IoError("writing " + options.output + " failed");
  LOG(INFO) << "exported " << next << " flags (" << shared << " shared) to " << options.output
            << ": " << reader->stats().ToString();
  return next;
}

}  // namespace msrec
