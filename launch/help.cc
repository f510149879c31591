#include "launch/help.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include <gflags/gflags.h>

namespace msrec {
namespace {

struct Group {
  const char* name;
  std::vector<const char*> flags;
};

const std::vector<Group>& Groups() {
  static const std::vector<Group> groups = {
      {"data", {"train", "val", "test", "input", "output", "schema", "schema_file", "scenario_map",
                "label_index", "reader_threads", "max_bad_rows", "csv_multiline_quotes",
                "gauc_column"}},
      {"generator", {"rows", "first_row", "num_scenarios", "scenario_decay", "scenario_strength", "num_fields", "vocab_sizes", "zipf",
                     "num_dense", "val_fraction", "test_fraction"}},
      {"convert", {"rows_per_block"}},
      {"report", {"compare"}},
      {"model", {"model", "hidden", "batch_norm", "dropout", "model_opts", "embedding_dim",
                 "init_scale"}},
      {"training", {"model_dir", "init_from", "epochs", "max_steps", "batch_size", "shuffle_buffer",
                    "reshuffle_each_epoch", "eval_batch_size", "lr", "weight_decay", "threads",
                    "omp_wait", "malloc_keep_mb", "device", "train_mode",
                    "finetune_shared_epochs", "early_stopping_patience", "log_every",
                    "metrics_file", "tensorboard_dir", "seed", "deterministic"}},
      {"store", {"store", "store_memory_mb", "store_mmap_reads", "ps_threads",
                 "ps_prefetch_threads", "sparse_optimizer", "sparse_lr", "sparse_weight_decay",
                 "ftrl_beta", "ftrl_l1", "ftrl_l2", "admit_after", "ttl_steps"}},
      {"cluster", {"num_servers", "ps_sync", "ps_max_staleness", "ps_timeout_s", "ps_idle_timeout_s",
                   "ps_dir", "ps_stats_interval_s", "ps_max_message_mb", "data_sharding",
                   "bucket_mb", "check_parameters", "comm_timeout_s"}},
      {"checkpoint", {"checkpoint_dir", "checkpoint_every_steps", "checkpoint_at_epoch_end",
                      "keep_checkpoints", "resume", "resume_skip_corrupt"}},
      {"ssim", {"ssim_selector", "ssim_topk", "ssim_random", "shared_flags", "ssim_hidden",
                "ssim_eps", "ssim_t_final", "ssim_lambda", "ssim_mask_loss", "ssim_backbone_lr",
                "ssim_backbone_weight_decay", "ssim_selector_lr", "ssim_steps_in_epoch",
                "ssim_share_sweep", "ssim_sweep_epochs"}},
  };
  return groups;
}

// The groups each command reads.
std::vector<std::string> GroupsOf(const std::string& command) {
  static const std::map<std::string, std::vector<std::string>> of = {
      {"gen", {"data", "generator", "training"}},
      {"convert", {"data", "convert"}},
      {"train", {"data", "model", "training", "store", "checkpoint", "cluster", "ssim"}},
      {"eval", {"data", "training", "store"}},
      {"predict", {"data", "training", "store"}},
      {"info", {"model", "generator"}},
      {"ssim-search", {"data", "model", "training", "store", "checkpoint", "cluster", "ssim"}},
      {"export", {"data", "training", "cluster"}},
      {"ssim-export", {"data", "training", "ssim"}},
      {"report", {"data", "training", "report"}},
  };
  auto it = of.find(command);
  return it == of.end() ? std::vector<std::string>{} : it->second;
}

bool IsMsrecFlag(const gflags::CommandLineFlagInfo& f) {
  return f.filename.find("launch/flags.cc") != std::string::npos;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

void PrintCommandHelp(const std::string& command, const std::string& summary) {
  std::map<std::string, gflags::CommandLineFlagInfo> flags;
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  for (const auto& f : all) {
    if (IsMsrecFlag(f)) flags[f.name] = f;
  }
  std::printf("usage: msrec %s [--flags]\n  %s\n", command.c_str(), summary.c_str());
  for (const std::string& wanted : GroupsOf(command)) {
    for (const Group& g : Groups()) {
      if (wanted != g.name) continue;
      std::printf("\n%s:\n", g.name);
      for (const char* name : g.flags) {
        auto it = flags.find(name);
        if (it == flags.end()) continue;
        const gflags::CommandLineFlagInfo& f = it->second;
        std::printf("  --%-28s %s (default: %s)\n", f.name.c_str(), f.description.c_str(),
                    f.default_value.empty() ? "\"\"" : f.default_value.c_str());
      }
    }
  }
  std::printf("\nEvery flag: docs/flags.md; LibTorch's and logging flags: --helpfull\n");
}

std::vector<std::string> UngroupedFlags() {
  std::set<std::string> grouped;
  for (const Group& g : Groups()) grouped.insert(g.flags.begin(), g.flags.end());
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  std::vector<std::string> out;
  for (const auto& f : all) {
    if (IsMsrecFlag(f) && !grouped.count(f.name)) out.push_back(f.name);
  }
  return out;
}

std::string CheckFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') continue;
    if (arg == "--") break;
    arg = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = arg.substr(0, arg.find('='));
    gflags::CommandLineFlagInfo info;
    if (gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      // "--flag value": the value may start with '-' (a negative number).
      if (arg.find('=') == std::string::npos && info.type != "bool") ++i;
      continue;
    }
    if (name.rfind("no", 0) == 0 && gflags::GetCommandLineFlagInfo(name.c_str() + 2, &info) &&
        info.type == "bool") {
      continue;
    }
    std::vector<gflags::CommandLineFlagInfo> all;
    gflags::GetAllFlags(&all);
    std::string best;
    size_t best_distance = std::string::npos;
    for (const auto& f : all) {
      if (!IsMsrecFlag(f)) continue;
      const size_t d = EditDistance(name, f.name);
      if (d < best_distance) {
        best_distance = d;
        best = f.name;
      }
    }
    std::string message = "unknown flag --" + name;
    if (!best.empty() && best_distance <= std::max<size_t>(2, name.size() / 3)) {
      message += "; did you mean --" + best + "?";
    }
    return message + " (msrec <command> --help lists the flags)";
  }
  return "";
}

}  // namespace msrec
