#include "cluster/messenger.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>

#include "common/timer.h"

namespace msrec {
namespace {

std::string MpiError(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, len);
}

}  // namespace

void Backoff::Pause() {
  ++polls_;
  if (polls_ < 64) return;  // spin: a reply is usually microseconds away
  if (polls_ < 256) {
    std::this_thread::yield();
    return;
  }
  const int us = std::min(max_sleep_us_, 10 * (polls_ - 255));
  std::this_thread::sleep_for(std::chrono::microseconds(us));
}

MpiMessenger::MpiMessenger(MPI_Comm comm, size_t max_message_bytes)
    : comm_(comm), max_message_bytes_(max_message_bytes) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiMessenger::~MpiMessenger() {
  std::lock_guard<std::mutex> lock(mu_);
  for (PendingSend& s : sends_) {
    int done = 0;
    MPI_Test(&s.request, &done, MPI_STATUS_IGNORE);
    if (!done) MPI_Request_free(&s.request);  // MPI finishes or drops it on its own
  }
}

Status MpiMessenger::Send(int dest, int tag, std::string bytes) {
  if (dest < 0 || dest >= size_) {
    return Status::InvalidArgument("send to rank " + std::to_string(dest) + " outside [0, " +
                                   std::to_string(size_) + ")");
  }
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Status::InvalidArgument("message of " + std::to_string(bytes.size()) +
                                   " bytes to rank " + std::to_string(dest) +
                                   " is larger than MPI's int count");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    sends_.push_back(PendingSend{std::move(bytes), MPI_REQUEST_NULL, dest});
    PendingSend& s = sends_.back();
    const int rc = MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_BYTE, dest,
                             tag, comm_, &s.request);
    if (rc != MPI_SUCCESS) {
      sends_.pop_back();
      return Status::Unavailable("MPI_Isend to rank " + std::to_string(dest) + ": " + MpiError(rc));
    }
  }
  return Progress();
}

Status MpiMessenger::Progress() {
  std::lock_guard<std::mutex> lock(mu_);
  // Sends complete roughly in order; stop at the first that has not.
  while (!sends_.empty()) {
    int done = 0;
    MPI_Status status;
    const int rc = MPI_Test(&sends_.front().request, &done, &status);
    if (rc != MPI_SUCCESS) {
      const int dest = sends_.front().dest;
      sends_.pop_front();
      return Status::Unavailable("send to rank " + std::to_string(dest) + ": " + MpiError(rc));
    }
    if (!done) break;
    sends_.pop_front();
  }
  return Status::OK();
}

size_t MpiMessenger::PendingSends() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sends_.size();
}

Result<bool> MpiMessenger::TryReceive(int source, int tag, Message* out) {
  MSREC_RETURN_IF_ERROR(Progress());
  int flag = 0;
  MPI_Message handle;
  MPI_Status status;
  if (source == kAnySource) source = MPI_ANY_SOURCE;
  int rc = MPI_Improbe(source, tag, comm_, &flag, &handle, &status);
  if (rc != MPI_SUCCESS) return Status::Unavailable("MPI_Improbe: " + MpiError(rc));
  if (!flag) return false;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  out->source = status.MPI_SOURCE;
  out->tag = status.MPI_TAG;
  out->size = static_cast<size_t>(count);
  out->oversized = out->size > max_message_bytes_;
  // An oversized message is still received whole (MPI offers no way to drop
  // one unread: a truncating receive breaks shared-memory transports), then
  // discarded at once.
  out->bytes.resize(out->size);
  rc = MPI_Mrecv(out->bytes.data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS) {
    return Status::Unavailable("MPI_Mrecv from rank " + std::to_string(out->source) + ": " +
                               MpiError(rc));
  }
  if (out->oversized) {  // keep the head: the receiver may still address a reply
    out->bytes.resize(kOversizedHeadBytes);
    out->bytes.shrink_to_fit();
  }
  return true;
}

Status MpiMessenger::Receive(int source, int tag, double deadline_s, Message* out,
                             int max_sleep_us) {
  Timer timer;
  Backoff backoff(max_sleep_us);
  while (true) {
    MSREC_ASSIGN_OR_RETURN(bool got, TryReceive(source, tag, out));
    if (got) return Status::OK();
    if (timer.Seconds() > deadline_s) {
      return ReceiveTimeout(source, tag, deadline_s);
    }
    backoff.Pause();
  }
}

}  // namespace msrec
