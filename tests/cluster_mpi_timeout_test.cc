// A rank that skips a collective: under
//   mpirun --allow-run-as-root --oversubscribe -np 3 cluster_mpi_timeout_test
// ranks 0 and 1 all-reduce with a 0.5 s timeout while rank 2 does not take
// part. They must get Status::Timeout within the timeout (not hang), and the
// communicator must stay broken. Rank 2 then joins the abandoned collective
// late, so that it completes and every rank can finalize MPI and exit cleanly;
// the verdict is gathered on a second communicator and rank 0 prints
// "cluster_mpi_timeout_test: PASS" (CTest matches it) or "... FAIL".
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <glog/logging.h>

#include "cluster/mpi_communicator.h"
#include "cluster/mpi_env.h"
#include "common/timer.h"

namespace msrec {
namespace {

constexpr int kSkipper = 2;

// Ranks other than kSkipper: the all-reduce must time out. Returns pass/fail.
bool ExpectTimeout(Communicator& comm, std::vector<float>* x) {
  Timer timer;
  Status s = comm.AllReduceSum(x->data(), x->size());
  const double seconds = timer.Seconds();
  std::printf("rank %d: %s after %.3f s\n", comm.rank(), s.ToString().c_str(), seconds);
  bool pass = s.code() == Status::Code::kTimeout && seconds >= 0.45 && seconds < 5.0 &&
              s.message().find("AllReduceSum") != std::string::npos &&
              s.message().find("0.5 s") != std::string::npos;
  Timer again_timer;
  Status again = comm.Barrier();  // broken: same error, at once
  pass = pass && again.ToString() == s.ToString() && again_timer.Seconds() < 0.1;
  return pass;
}

int Run(MpiEnv& env) {
  CommunicatorOptions options;
  options.timeout_s = 0.5;
  auto comm = MakeMpiCommunicator(env.world(), options);
  if (!comm.ok()) {
    std::printf("cluster_mpi_timeout_test: FAIL %s\n", comm.status().ToString().c_str());
    return 1;
  }
  std::vector<float> x(1024, 1.0f);
  bool pass = true;
  if ((*comm)->rank() != kSkipper) {
    pass = ExpectTimeout(**comm, &x);
  } else {
    // Late: join once the others have given up, so the collective completes.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    Status s = (*comm)->AllReduceSum(x.data(), x.size());
    std::printf("rank %d: late all-reduce %s\n", (*comm)->rank(), s.ToString().c_str());
  }
  options.timeout_s = 30;
  auto report = MakeMpiCommunicator(env.world(), options);
  if (!report.ok()) {
    std::printf("cluster_mpi_timeout_test: FAIL %s\n", report.status().ToString().c_str());
    return 1;
  }
  double passed = pass ? 1 : 0;
  Status s = (*report)->AllReduceSum(&passed, 1);
  const int size = (*report)->size();
  if ((*report)->rank() == 0) {
    const bool all = s.ok() && passed == size;
    std::printf("cluster_mpi_timeout_test: %s (%g of %d ranks passed)\n", all ? "PASS" : "FAIL",
                passed, size);
  }
  std::fflush(stdout);
  return s.ok() && pass ? 0 : 1;
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) {
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  auto env = msrec::MpiEnv::Init(&argc, &argv, /*num_servers=*/0);
  if (!env.ok()) {
    std::printf("cluster_mpi_timeout_test: FAIL %s\n", env.status().ToString().c_str());
    return 1;
  }
  return msrec::Run(**env);
}
