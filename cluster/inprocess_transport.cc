#include "cluster/inprocess_transport.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace msrec {
namespace {

struct Mailbox {
  std::mutex mu;
  std::condition_variable arrived;
  std::deque<Message> queue;  // guarded by mu; arrival order
  // The endpoint is gone: drop what comes. Set under mu (Send tests it there);
  // atomic so that a receiver may test another rank's flag under its own lock.
  std::atomic<bool> closed{false};
};

// The mailboxes of every rank.
struct Hub {
  explicit Hub(int size) : boxes(size) {}
  std::deque<Mailbox> boxes;  // deque: Mailbox is not movable
};

class InProcessTransport : public Transport {
 public:
  InProcessTransport(std::shared_ptr<Hub> hub, int rank, size_t max_message_bytes)
      : hub_(std::move(hub)), rank_(rank), max_message_bytes_(max_message_bytes) {}

  ~InProcessTransport() override {
    {
      Mailbox& box = hub_->boxes[rank_];
      std::lock_guard<std::mutex> lock(box.mu);
      box.closed = true;
      box.queue.clear();
    }
    // Wake every rank waiting for this one's messages (Receive tests `closed`
    // under its own mailbox's lock, so taking that lock here loses no wake-up).
    for (int r = 0; r < size(); ++r) {
      if (r == rank_) continue;
      Mailbox& other = hub_->boxes[r];
      { std::lock_guard<std::mutex> lock(other.mu); }
      other.arrived.notify_all();
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(hub_->boxes.size()); }
  size_t max_message_bytes() const override { return max_message_bytes_; }

  Status Send(int dest, int tag, std::string bytes) override {
    if (dest < 0 || dest >= size()) {
      return Status::InvalidArgument("send to rank " + std::to_string(dest) + " outside [0, " +
                                     std::to_string(size()) + ")");
    }
    Message m;
    m.source = rank_;
    m.tag = tag;
    m.size = bytes.size();
    m.oversized = m.size > max_message_bytes_;
    if (m.oversized) {  // as the MPI messenger: the receiver keeps the head only
      bytes.resize(kOversizedHeadBytes);
      bytes.shrink_to_fit();
    }
    m.bytes = std::move(bytes);
    Mailbox& box = hub_->boxes[dest];
    {
      std::lock_guard<std::mutex> lock(box.mu);
      if (box.closed) return Status::OK();  // a dead rank: the sender finds out by its timeout
      box.queue.push_back(std::move(m));
    }
    box.arrived.notify_all();
    return Status::OK();
  }

  Status Receive(int source, int tag, double deadline_s, Message* out) override {
    if (source != kAnySource && (source < 0 || source >= size())) {
      return Status::InvalidArgument("receive from rank " + std::to_string(source) +
                                     " outside [0, " + std::to_string(size()) + ")");
    }
    Mailbox& box = hub_->boxes[rank_];
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(std::max(deadline_s, 0.0)));
    std::unique_lock<std::mutex> lock(box.mu);
    while (!TakeLocked(box, source, tag, out)) {
      // What a gone rank sent before it went is still delivered (above).
      if (source != kAnySource && hub_->boxes[source].closed) return SourceGone(source, tag);
      if (box.arrived.wait_until(lock, deadline) == std::cv_status::timeout) {
        // One last look: a message that came with the deadline is taken.
        if (TakeLocked(box, source, tag, out)) return Status::OK();
        return ReceiveTimeout(source, tag, deadline_s);
      }
    }
    return Status::OK();
  }

 private:
  static Status SourceGone(int source, int tag) {
    return Status::Unavailable("rank " + std::to_string(source) +
                               " is gone (its endpoint was closed) without a message on tag " +
                               std::to_string(tag));
  }

  // The first queued message that matches (per-source order is arrival order).
  static bool TakeLocked(Mailbox& box, int source, int tag, Message* out) {
    for (auto it = box.queue.begin(); it != box.queue.end(); ++it) {
      if (it->tag != tag || (source != kAnySource && it->source != source)) continue;
      *out = std::move(*it);
      box.queue.erase(it);
      return true;
    }
    return false;
  }

  std::shared_ptr<Hub> hub_;
  const int rank_;
  const size_t max_message_bytes_;
};

}  // namespace

std::vector<std::unique_ptr<Transport>> MakeInProcessTransports(int size,
                                                                size_t max_message_bytes) {
  CHECK_GE(size, 1);
  auto hub = std::make_shared<Hub>(size);
  std::vector<std::unique_ptr<Transport>> out;
  for (int r = 0; r < size; ++r) {
    out.push_back(std::make_unique<InProcessTransport>(hub, r, max_message_bytes));
  }
  return out;
}

}  // namespace msrec
