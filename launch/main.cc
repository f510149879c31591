// msrec: the one program. `msrec <command> [--flags]`; `msrec help` lists commands.
#include <cstdio>
#include <cstring>
#include <string>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "launch/commands.h"
#include "launch/flags.h"
#include "launch/help.h"

namespace {

struct Command {
  const char* name;
  msrec::Status (*run)();
  const char* help;
};

const Command kCommands[] = {
    {"gen", msrec::RunGen, "write a synthetic multi-scenario dataset (train/val/test CSV)"},
    {"convert", msrec::RunConvert, "convert CSV/TSV input into checksummed binary shards"},
    {"train", msrec::RunTrain, "train a model; prints per-scenario metrics"},
    {"eval", msrec::RunEval, "evaluate a trained model on --input files"},
    {"predict", msrec::RunPredict, "write one score per input row of --input to --output"},
    {"info", msrec::RunInfo, "print a model's parameter count for the given shapes"},
    {"ssim-search", msrec::RunSsimSearch,
     "SSIM search epoch: write a selector artefact to --output (docs/ssim.md)"},
    {"export", msrec::RunExport,
     "write a serving bundle of --model_dir to --output (eval/predict load it)"},
    {"report", msrec::RunReport,
     "write an HTML report of --model_dir (or --compare D1,D2,...) to --output"},
    {"ssim-export", msrec::RunSsimExport,
     "write a selector's per-record shared flags for --input to --output"},
};

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: msrec <command> [--flags]\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-11s %s\n", c.name, c.help);
  std::fprintf(out, "flags: msrec <command> --help (its flags), docs/flags.md (every flag)\n");
}

bool IsHelp(const char* arg) {
  return std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0 ||
         std::strcmp(arg, "-help") == 0 || std::strcmp(arg, "--helpshort") == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  if (std::strcmp(argv[1], "help") == 0 || IsHelp(argv[1])) {
    PrintUsage(stdout);
    return 0;
  }
  const std::string command = argv[1];
  const Command* found = nullptr;
  for (const Command& c : kCommands) {
    if (command == c.name) found = &c;
  }
  if (found == nullptr) {
    std::fprintf(stderr, "msrec: unknown command '%s'\n", command.c_str());
    PrintUsage(stderr);
    return 2;
  }
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (IsHelp(argv[i])) {
      msrec::PrintCommandHelp(command, found->help);
      return 0;
    }
  }
  gflags::SetUsageMessage("msrec " + command + " [--flags]");
  argv[1] = argv[0];  // gflags sees "msrec --flags..."
  int sub_argc = argc - 1;
  char** sub_argv = argv + 1;
  bool helpfull = false;
  for (int i = 1; i < sub_argc; ++i) helpfull |= std::strcmp(sub_argv[i], "--helpfull") == 0;
  const std::string unknown = helpfull ? "" : msrec::CheckFlagNames(sub_argc, sub_argv);
  if (!unknown.empty()) {
    std::fprintf(stderr, "msrec %s: %s\n", command.c_str(), unknown.c_str());
    return 2;
  }
  gflags::ParseCommandLineFlags(&sub_argc, &sub_argv, true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging("msrec");
  if (sub_argc > 1) {
    std::fprintf(stderr, "msrec %s: unexpected argument '%s'\n", command.c_str(), sub_argv[1]);
    return 2;
  }
  msrec::Status status = found->run();
  if (!status.ok()) {
    std::fprintf(stderr, "msrec %s failed: %s\n", command.c_str(), status.ToString().c_str());
    return 1;
  }
  return 0;
}
