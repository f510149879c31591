// msrec: the one program. `msrec <command> [--flags]`; `msrec help` lists commands.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "common/malloc_settings.h"
#include "launch/commands.h"
#include "launch/flags.h"
#include "launch/help.h"

DECLARE_int32(threads);
DECLARE_string(store);
DECLARE_string(omp_wait);
DECLARE_int32(num_servers);
DECLARE_int32(malloc_keep_mb);

namespace {

// Set in the environment of the re-executed process (see ApplyOmpWait).
constexpr char kOmpReexecVar[] = "MSREC_OMP_WAIT_APPLIED";

// --omp_wait. libgomp reads OMP_WAIT_POLICY once, when it is loaded (before
// main), so a policy other than the environment's is applied by executing
// this program again, same arguments, with the variable set. Idle compute
// threads otherwise spin (GOMP_SPINCOUNT, 300k pauses, milliseconds) after
// every parallel region: while the trainer waits for its parameter server, or
// a team member is preempted by the server's RocksDB work, that spinning takes
// the core the server needs (docs/training.md, "Compute threads and the
// store"). Returns normally when nothing is to change; returns an error when
// the flag is invalid or the exec failed.
std::string ApplyOmpWait(char** original_argv) {
  const std::string& mode = FLAGS_omp_wait;
  if (mode != "auto" && mode != "active" && mode != "passive") {
    return "--omp_wait must be auto, active or passive, not '" + mode + "'";
  }
  const char* applied = std::getenv(kOmpReexecVar);
  if (applied != nullptr) {
    LOG(INFO) << "OpenMP compute threads wait " << applied;
    return "";
  }
  // auto: passive where this process hosts a RocksDB store and has a team to
  // wait: the embedded default (no --num_servers). A worker of a job with
  // parameter servers keeps the store in other processes, usually on other
  // machines, and waits actively (docs/training.md, "Compute threads and the store").
  const bool hosts_rocksdb = FLAGS_store == "rocksdb" && FLAGS_num_servers == 0;
  const bool passive =
      mode == "passive" || (mode == "auto" && hosts_rocksdb && FLAGS_threads > 1);
  if (!passive) return "";
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) {
    LOG(INFO) << "--omp_wait " << mode
              << ": OMP_WAIT_POLICY / GOMP_SPINCOUNT from the environment are kept";
    return "";
  }
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  setenv(kOmpReexecVar, ("passively (OMP_WAIT_POLICY=PASSIVE, --omp_wait " + mode + ")").c_str(), 1);
  execv("/proc/self/exe", original_argv);
  return std::string("--omp_wait: could not execute /proc/self/exe again: ") + std::strerror(errno);
}

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
  // The arguments as given (gflags reorders its copy), for ApplyOmpWait.
  std::vector<char*> original_argv(argv, argv + argc);
  original_argv.push_back(nullptr);
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
  const std::string omp_error = ApplyOmpWait(original_argv.data());
  if (!omp_error.empty()) {
    std::fprintf(stderr, "msrec %s: %s\n", command.c_str(), omp_error.c_str());
    return 2;
  }
  const msrec::Status malloc_keep = msrec::ApplyMallocKeepFlag(FLAGS_malloc_keep_mb);
  if (!malloc_keep.ok()) {
    std::fprintf(stderr, "msrec %s: %s\n", command.c_str(), malloc_keep.message().c_str());
    return 2;
  }
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
