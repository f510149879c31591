// The in-process backend: a group of Communicators for threads of one process,
// for tests (gloo's thread-based base_test, c10d's fake backends). Same
// contract as every backend (cluster/communicator.h), including the timeout: a
// thread that never arrives at a collective makes the others return
// Status::Timeout after options.timeout_s; the group is then broken for every
// member (the late thread gets the same error when it arrives).
//
// Mismatched calls (different collectives, sizes or roots on different ranks)
// are detected and fail on every rank with an Unavailable that names both
// calls; the group is broken afterwards.
#pragma once

#include <memory>
#include <vector>

#include "cluster/communicator.h"

namespace msrec {

// Returns `size` (>= 1) communicators; element r has rank r. They share one
// rendezvous object (mutex + condition variable) that lives as long as any of
// them. Give each to one thread; buffers are plain host memory.
std::vector<std::unique_ptr<Communicator>> MakeInProcessGroup(int size,
                                                              const CommunicatorOptions& options);

}  // namespace msrec
