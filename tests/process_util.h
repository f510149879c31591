// Helpers for tests that run msrec (or mpirun) as child processes.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace msrec {

// Runs `command` with sh; returns its exit code (128 + signal when killed)
// and its stdout+stderr in *output.
inline int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t got;
  output->clear();
  while ((got = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output->append(buffer, got);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The MPI rank (OMPI_COMM_WORLD_RANK) of process `pid`; -1 if it has none.
inline int MpiRankOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ");
  std::string var;
  while (std::getline(in, var, '\0')) {
    if (var.rfind("OMPI_COMM_WORLD_RANK=", 0) == 0) return std::atoi(var.c_str() + 21);
  }
  return -1;
}

// Pids of the processes whose command line contains `pattern`.
inline std::vector<pid_t> PidsMatching(const std::string& pattern) {
  std::string out;
  RunCommand("pgrep -f -- '" + pattern + "'", &out);
  std::istringstream list(out);
  std::vector<pid_t> pids;
  pid_t pid;
  while (list >> pid) pids.push_back(pid);
  return pids;
}

// The short command name of process `pid` (/proc/pid/comm), e.g. "msrec".
inline std::string CommandName(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

// Waits (up to `timeout_s`) until `path` exists, then sends `signal` to the
// msrec processes matching `pattern` (only MPI rank `rank` of them when
// rank >= 0; not the shells that started them). True if one was signalled.
inline bool SignalWhenExists(const std::string& path, const std::string& pattern, int rank,
                             int signal, double timeout_s = 120) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::ifstream(path).good()) {
      bool sent = false;
      for (pid_t pid : PidsMatching(pattern)) {
        if (CommandName(pid) != "msrec") continue;
        if (rank < 0 || MpiRankOf(pid) == rank) sent |= kill(pid, signal) == 0;
      }
      return sent;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace msrec
