// A parameter server that dies (SIGKILL) or hangs (SIGSTOP) mid-run: the job
// must end with an error naming its rank, well within the timeouts, and never
// hang. Runs `mpirun -np 4 ps_mpi_test --kill_server|--stop_server` (2
// workers, 2 servers; rank 3 gets the signal after 1.5 s while the workers
// push and pull).
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "common/timer.h"

#ifndef MSREC_PS_MPI_TEST_BINARY
#error "MSREC_PS_MPI_TEST_BINARY must name the ps_mpi_test executable"
#endif

namespace msrec {
namespace {

struct Outcome {
  int exit_code = -1;
  double seconds = 0;
  std::string output;
};

Outcome RunJob(const std::string& fault_flag) {
  const std::string command = "timeout 100 mpirun --allow-run-as-root --oversubscribe -np 4 "
                              MSREC_PS_MPI_TEST_BINARY " " + fault_flag + " 2>&1";
  Outcome out;
  Timer timer;
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t got;
  while ((got = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.output.append(buffer, got);
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  out.seconds = timer.Seconds();
  return out;
}

// Default mpirun: it notices the dead rank and ends the job at once.
TEST(PsFaultTest, KilledServerEndsTheJobNamingTheRank) {
  const Outcome out = RunJob("--kill_server");
  EXPECT_NE(out.exit_code, 0) << out.output;
  EXPECT_NE(out.exit_code, 124) << "the job hung:\n" << out.output;
  EXPECT_LT(out.seconds, 60) << out.output;
  EXPECT_NE(out.output.find("rank 3"), std::string::npos) << out.output;
}

// A server that hangs (SIGSTOP: alive, silent) is invisible to mpirun: each
// worker must notice by itself (its 5 s timeout), name the server's rank, and
// end the job (MPI_Abort).
TEST(PsFaultTest, WorkersTimeOutNamingAStuckServer) {
  const Outcome out = RunJob("--stop_server");
  EXPECT_NE(out.exit_code, 0) << out.output;
  EXPECT_NE(out.exit_code, 124) << "the job hung:\n" << out.output;
  EXPECT_LT(out.seconds, 60) << out.output;
  EXPECT_NE(out.output.find("failed: Timeout"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("parameter server rank 3 (server 1)"), std::string::npos)
      << out.output;
}

}  // namespace
}  // namespace msrec
