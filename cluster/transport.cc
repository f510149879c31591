#include "cluster/transport.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace msrec {

Status ReceiveTimeout(int source, int tag, double deadline_s) {
  return Status::Timeout("no message from rank " +
                         (source == kAnySource ? std::string("any") : std::to_string(source)) +
                         " on tag " + std::to_string(tag) + " within " +
                         std::to_string(deadline_s) + " s");
}

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

}  // namespace msrec
