// MpiMessenger: the Transport (cluster/transport.h) between the ranks of one
// MPI communicator. Requests travel on tag kRequestTag; each reply on the tag
// its request asked for, so one client can have many calls in flight to one
// server. Probing is non-blocking and every wait has a deadline.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>

#include <mpi.h>

#include "cluster/transport.h"
#include "common/status.h"

namespace msrec {

// Thread safety: safe for concurrent calls (MPI_THREAD_MULTIPLE); the send
// queue is under a mutex.
class MpiMessenger : public Transport {
 public:
  // `comm` is not owned and must outlive the messenger. Messages longer than
  // `max_message_bytes` are received and discarded at once but for their
  // first kOversizedHeadBytes (Message::oversized): the limit keeps them from the decoder and from any
  // queue, though MPI needs a buffer of their size for the moment.
  MpiMessenger(MPI_Comm comm, size_t max_message_bytes);
  ~MpiMessenger() override;  // gives up on sends still in flight (the job is ending)

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  size_t max_message_bytes() const override { return max_message_bytes_; }

  // Starts sending `bytes` to `dest` on `tag` and returns at once; the
  // messenger keeps the buffer until MPI is done with it. Unavailable on an
  // MPI error (naming the destination).
  Status Send(int dest, int tag, std::string bytes) override;

  // Takes one message from `source` (kAnySource for any) on `tag` if one
  // has arrived: true and `*out` filled, or false at once. Unavailable on an
  // MPI error.
  Result<bool> TryReceive(int source, int tag, Message* out);

  // Like TryReceive but keeps probing until `deadline_s` seconds from now:
  // Timeout (naming the source and tag) if nothing arrives by then. Between
  // probes it backs off from spinning to sleeps of up to `max_sleep_us`.
  Status Receive(int source, int tag, double deadline_s, Message* out) override {
    return Receive(source, tag, deadline_s, out, /*max_sleep_us=*/200);
  }
  Status Receive(int source, int tag, double deadline_s, Message* out, int max_sleep_us);

  // Completes the sends MPI has finished with (frees their buffers). Called by
  // Send and TryReceive; call it from an idle loop too.
  Status Progress();

  // Number of sends not yet completed.
  size_t PendingSends() const override;

 private:
  struct PendingSend {
    std::string bytes;
    MPI_Request request;
    int dest;
  };

  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  size_t max_message_bytes_;
  mutable std::mutex mu_;
  std::deque<PendingSend> sends_;  // guarded by mu_; deque: elements never move
};

// Sleeps with exponential back-off for polling loops: the first calls return
// at once (spinning keeps latency low), later ones sleep up to `max_sleep_us`.
class Backoff {
 public:
  explicit Backoff(int max_sleep_us = 200) : max_sleep_us_(max_sleep_us) {}
  void Pause();
  void Reset() { polls_ = 0; }

 private:
  int max_sleep_us_;
  int polls_ = 0;
};

}  // namespace msrec
