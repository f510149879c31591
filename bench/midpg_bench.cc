// Training-step time of MI-DPG against the plain DNN, MT-Backbone and MI-DPG's
// materialised reference (which builds every instance's din x dout Omega).
// One step = forward + BCE (+ MI term) + backward + Adam step on the dense
// parameters, with the embeddings a leaf that needs gradient (as in the trainer).
// Usage: midpg_bench [key=value ...], keys (defaults): batch (2048), fields (10),
//   dim (16), hidden (256,128,64), scenarios (4), rank (4), steps (30),
//   materialized_steps (5), warmup (3), threads (1,2), midpg_opts (extra MI-DPG
//   options, "k=v;k=v"), only (comma-separated subset of dnn,mt_backbone,midpg,
//   midpg_materialized; default all), clock (wall, or cpu: the calling
//   thread's CPU time, steadier on a shared machine; only with threads=1, where
//   LibTorch computes on the calling thread).
// Prints `name=value` lines: per-step median milliseconds per model and thread
// count, the ratios to DNN, and parameter counts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "models/internal/backbones.h"
#include "models/layers.h"
#include "models/midpg.h"
#include "models/multi_scenario.h"

namespace msrec {
namespace {

std::vector<int64_t> Ints(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoll(item));
  return out;
}

// Milliseconds on the chosen clock.
double NowMs(bool cpu) {
  if (cpu) {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
  }
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Median step time in milliseconds over `steps` timed steps after `warmup`.
double MedianStepMs(Model& model, const ModelConfig& c, int64_t batch, int steps, int warmup,
                    bool cpu_clock) {
  model.train();
  torch::optim::Adam opt(model.parameters(), torch::optim::AdamOptions(1e-3));
  ModelInput in;
  in.dense = torch::zeros({batch, 0});
  in.scenario = torch::randint(c.num_scenarios, {batch}, torch::kLong);
  torch::Tensor embeddings = torch::randn({batch, c.num_fields, c.embedding_dim}) * 0.1;
  torch::Tensor labels = torch::randint(2, {batch}).to(torch::kFloat);
  std::vector<double> times;
  for (int step = 0; step < warmup + steps; ++step) {
    in.embeddings = embeddings.clone().requires_grad_(true);
    const double start = NowMs(cpu_clock);
    ModelOutput out = model.Forward(in);
    torch::Tensor loss = torch::binary_cross_entropy_with_logits(out.logits, labels);
    for (const auto& aux : out.aux_losses) loss = loss + aux.second;
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step >= warmup) times.push_back(NowMs(cpu_clock) - start);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> args = {
      {"batch", "2048"},  {"fields", "10"},   {"dim", "16"},      {"hidden", "256,128,64"},
      {"scenarios", "4"}, {"rank", "4"},      {"steps", "30"},    {"materialized_steps", "5"},
      {"warmup", "3"},    {"threads", "1,2"}, {"midpg_opts", ""}, {"only", ""},
      {"clock", "wall"}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (eq == std::string::npos || !args.count(a.substr(0, eq))) {
      std::fprintf(stderr, "unknown argument '%s' (see the usage at the top of midpg_bench.cc)\n",
                   a.c_str());
      return 2;
    }
    args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  ModelConfig c;
  c.num_fields = std::stoi(args["fields"]);
  c.embedding_dim = std::stoi(args["dim"]);
  c.num_scenarios = std::stoi(args["scenarios"]);
  c.hidden = Ints(args["hidden"]);
  const int64_t batch = std::stoll(args["batch"]);
  const int steps = std::stoi(args["steps"]);
  const int mat_steps = std::stoi(args["materialized_steps"]);
  const int warmup = std::stoi(args["warmup"]);
  const bool cpu_clock = args["clock"] == "cpu";
  if (args["clock"] != "cpu" && args["clock"] != "wall") {
    std::fprintf(stderr, "clock must be wall or cpu\n");
    return 2;
  }
  if (cpu_clock && args["threads"] != "1") {
    std::fprintf(stderr, "clock=cpu needs threads=1\n");
    return 2;
  }
  ModelConfig mc = c;
  mc.extra["rank"] = args["rank"];
  std::stringstream opts(args["midpg_opts"]);
  for (std::string kv; std::getline(opts, kv, ';');) {
    if (kv.find('=') != std::string::npos)
      mc.extra[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  }

  torch::manual_seed(1);
  DnnModel dnn(c);
  MtBackboneModel mt(c);
  MidpgModel midpg(mc);
  ModelConfig ref_config = mc;
  ref_config.extra["materialize"] = "1";
  MidpgModel materialized(ref_config);
  std::printf("batch=%lld fields=%d dim=%d hidden=%s scenarios=%d rank=%s\n",
              static_cast<long long>(batch), c.num_fields, c.embedding_dim, args["hidden"].c_str(),
              c.num_scenarios, args["rank"].c_str());
  std::printf("params.dnn=%lld\nparams.mt_backbone=%lld\nparams.midpg=%lld\n",
              static_cast<long long>(CountParameters(dnn)),
              static_cast<long long>(CountParameters(mt)),
              static_cast<long long>(CountParameters(midpg)));
  std::printf("flops.dnn=%lld\nflops.midpg=%lld\n", static_cast<long long>(dnn.FlopsPerInstance()),
              static_cast<long long>(midpg.FlopsPerInstance()));
  struct Entry {
    const char* name;
    Model* model;
    const ModelConfig* config;
    int steps, warmup;
  };
  std::vector<Entry> entries = {{"dnn", &dnn, &c, steps, warmup},
                                {"mt_backbone", &mt, &c, steps, warmup},
                                {"midpg", &midpg, &mc, steps, warmup},
                                {"midpg_materialized", &materialized, &mc, mat_steps, 1}};
  const std::string only = "," + args["only"] + ",";
  for (int64_t threads : Ints(args["threads"])) {
    at::set_num_threads(int(threads));
    const std::string t = "threads" + std::to_string(threads) + ".";
    std::map<std::string, double> ms;
    for (const Entry& e : entries) {
      if (only != ",," && only.find("," + std::string(e.name) + ",") == std::string::npos) continue;
      ms[e.name] = MedianStepMs(*e.model, *e.config, batch, e.steps, e.warmup, cpu_clock);
      std::printf("%s%s_ms=%.2f\n", t.c_str(), e.name, ms[e.name]);
      std::fflush(stdout);
    }
    auto ratio = [&](const char* name, const char* num, const char* den) {
      if (ms.count(num) && ms.count(den))
        std::printf("%s%s=%.2f\n", t.c_str(), name, ms[num] / ms[den]);
    };
    ratio("mt_backbone_over_dnn", "mt_backbone", "dnn");
    ratio("midpg_over_dnn", "midpg", "dnn");
    ratio("materialized_over_dnn", "midpg_materialized", "dnn");
    ratio("materialized_over_midpg", "midpg_materialized", "midpg");
  }
  return 0;
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) { return msrec::Main(argc, argv); }
