// Per-step time of every registered model beside the DNN's, in one run, on
// random inputs (no data loading, no sparse store: the dense model only).
// One step = forward + BCE + auxiliary losses + backward + dense Adam step,
// with the embeddings a leaf that needs gradient (as in the trainer).
// Usage: model_step_bench [batch=2048] [fields=10] [dim=16] [dense=4]
//          [scenarios=4] [steps=20] [threads=1]
// Prints one line per model: median ms/step, time relative to DNN, FLOPs
// relative to DNN, and their quotient `x_flops` (1 = as slow as its FLOPs justify).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "models/layers.h"
#include "models/model.h"

namespace msrec {
namespace {

constexpr int kWarmup = 8;

double MedianStepMs(Model& model, const ModelConfig& c, int64_t batch, int steps) {
  model.train();
  torch::optim::Adam opt(model.parameters(), torch::optim::AdamOptions(1e-3));
  std::vector<double> times;
  for (int s = 0; s < steps + kWarmup; ++s) {
    ModelInput in;
    in.embeddings = torch::randn({batch, c.num_fields, c.embedding_dim}).requires_grad_(true);
    in.dense = torch::randn({batch, c.num_dense});
    in.scenario = torch::randint(c.num_scenarios, {batch}, torch::kInt64);
    torch::Tensor labels = torch::randint(2, {batch}).to(torch::kFloat32);
    const auto start = std::chrono::steady_clock::now();
    ModelOutput out = model.Forward(in);
    torch::Tensor loss = torch::binary_cross_entropy_with_logits(out.logits, labels);
    for (auto& aux : out.aux_losses) loss = loss + aux.second;
    opt.zero_grad();
    loss.backward();
    opt.step();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (s >= kWarmup) times.push_back(ms);  // the first steps warm up allocators and kernels
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> args = {{"batch", "2048"}, {"fields", "10"}, {"dim", "16"},
                                             {"dense", "4"},    {"scenarios", "4"}, {"steps", "20"},
                                             {"threads", "1"}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (eq == std::string::npos || !args.count(a.substr(0, eq))) {
      std::fprintf(stderr, "unknown argument '%s' (see the usage at the top of the file)\n", argv[i]);
      return 2;
    }
    args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  at::set_num_threads(std::stoi(args["threads"]));
  torch::manual_seed(1);
  ModelConfig c;
  c.num_fields = std::stoi(args["fields"]);
  c.embedding_dim = std::stoi(args["dim"]);
  c.num_dense = std::stoi(args["dense"]);
  c.num_scenarios = std::stoi(args["scenarios"]);
  const int64_t batch = std::stoll(args["batch"]);
  const int steps = std::stoi(args["steps"]);
  std::printf("batch=%lld fields=%d dim=%d scenarios=%d threads=%s steps=%d\n",
              static_cast<long long>(batch), c.num_fields, c.embedding_dim, c.num_scenarios,
              args["threads"].c_str(), steps);
  ModelRegistry registry = BuiltinModels();
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> variants;
  for (const std::string& name : registry.Names()) variants.push_back({name, {}});
  variants.push_back({"mt_backbone", {{"backbone", "deepfm"}}});
  variants.push_back({"mt_backbone", {{"backbone", "dcn"}}});
  double dnn_ms = 0, dnn_flops = 0;
  std::printf("%-24s %10s %8s %9s %8s %10s\n", "model", "ms/step", "x_dnn", "flops_x", "x_flops",
              "params");
  // DNN first: every other row is relative to it.
  std::stable_partition(variants.begin(), variants.end(),
                        [](const auto& v) { return v.first == "dnn"; });
  for (const auto& [name, extra] : variants) {
    ModelConfig vc = c;
    vc.extra = extra;
    auto model = registry.Create(name, vc);
    if (!model.ok()) {
      std::printf("%s: %s\n", name.c_str(), model.status().ToString().c_str());
      continue;
    }
    const double ms = MedianStepMs(**model, vc, batch, steps);
    const double flops = double((*model)->FlopsPerInstance());
    if (name == "dnn") {
      dnn_ms = ms;
      dnn_flops = flops;
    }
    std::string label = name;
    for (const auto& kv : extra) label += "(" + kv.first + "=" + kv.second + ")";
    std::printf("%-24s %10.2f %8.2f %9.2f %8.2f %10lld\n", label.c_str(), ms, ms / dnn_ms,
                flops / dnn_flops, (ms / dnn_ms) / (flops / dnn_flops),
                static_cast<long long>(CountParameters(**model)));
  }
  return 0;
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) { return msrec::Main(argc, argv); }
