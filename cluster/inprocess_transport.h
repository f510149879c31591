// The in-process Transport: the ranks are threads of one process, each
// message is moved into the receiver's mailbox (no copy beyond the sender's
// encoding). It keeps every rule of the MPI messenger (cluster/transport.h):
// per (source, tag) order, the receive limit with oversized messages reduced
// to their head, deadlines on every wait. A receiver that waits sleeps on a
// condition variable instead of polling, so an idle server costs no CPU.
//
// The embedded default runs its parameter server on it (one worker rank, one
// server rank); the thread-tier tests run several workers and servers on it,
// the way gloo's and c10d's tests keep a fake backend beside the real one.
//
//   std::vector<std::unique_ptr<Transport>> ranks = MakeInProcessTransports(2, 512 << 20);
//   // give ranks[0] to the worker thread, ranks[1] to the server thread
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "cluster/transport.h"

namespace msrec {

// Returns `size` (>= 1) connected endpoints; element r has rank r. They share
// one set of mailboxes that lives as long as any endpoint. Messages to an
// endpoint that was destroyed are dropped (like a dead process's), and a
// Receive from such a rank (not kAnySource) fails with Unavailable as soon as
// none of its messages is queued, instead of at its deadline: an embedded
// server that failed ends its worker's wait at once. Messages larger than
// `max_message_bytes` arrive oversized.
std::vector<std::unique_ptr<Transport>> MakeInProcessTransports(int size, size_t max_message_bytes);

}  // namespace msrec
