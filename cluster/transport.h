// Transport: point-to-point byte messages between the ranks of one job, the
// layer under the parameter server (PsServer, RemoteClient). Two
// implementations: MpiMessenger (cluster/messenger.h, the ranks of an MPI
// communicator) and the in-process transport (cluster/inprocess_transport.h,
// threads of one process: the embedded default and the thread-tier tests).
// Both carry the same bytes (parameter_server/wire_format.h) with the same
// rules, so the server and the client cannot tell them apart:
//   - messages from one source on one tag arrive in the order they were sent;
//   - a message larger than max_message_bytes() is consumed and dropped but
//     for its first kOversizedHeadBytes (Message::oversized), so a receiver
//     can still address an error reply;
//   - nothing blocks without a deadline: Receive gives Status::Timeout.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace msrec {

inline constexpr int kAnySource = -1;  // Receive: a message from any rank
inline constexpr int kRequestTag = 1;
inline constexpr int kUnroutableReplyTag = 2;  // replies to requests too broken to name a tag
inline constexpr int kFirstReplyTag = 16;
inline constexpr size_t kOversizedHeadBytes = 64;

// A message taken off the wire.
struct Message {
  int source = -1;    // rank that sent it
  int tag = -1;
  std::string bytes;  // the message; only its first kOversizedHeadBytes when `oversized`
  size_t size = 0;    // bytes announced by the sender
  bool oversized = false;  // larger than the receive limit: consumed and dropped
};

// Thread safety: every implementation is safe for concurrent calls.
class Transport {
 public:
  virtual ~Transport() = default;

  // This endpoint's rank and the number of ranks it can address.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual size_t max_message_bytes() const = 0;

  // Starts sending `bytes` to `dest` on `tag` and returns at once (the
  // transport owns the buffer until it is delivered). Unavailable when the
  // destination cannot be reached (naming it), InvalidArgument for a
  // destination outside [0, size()).
  virtual Status Send(int dest, int tag, std::string bytes) = 0;

  // Waits up to `deadline_s` seconds for a message from `source` on `tag`:
  // OK and `*out` filled, or Timeout naming the source and tag.
  virtual Status Receive(int source, int tag, double deadline_s, Message* out) = 0;

  // Sends not yet handed over (0 for transports that deliver at once).
  virtual size_t PendingSends() const { return 0; }
};

// The Timeout Status both transports return from Receive.
Status ReceiveTimeout(int source, int tag, double deadline_s);

}  // namespace msrec
