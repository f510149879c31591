// PartPool: a fixed set of threads that run the parts of one call together,
// the caller running part 0. Used by the parameter server to apply a large
// push (or serve a large pull) on several cores, each part owning the keys of
// its own row-cache shards. The threads persist, so their thread-local
// buffers do too.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace msrec {

class PartPool {
 public:
  // `threads` >= 1 parts at most per call: threads - 1 helper threads (none
  // for 1) plus the caller.
  explicit PartPool(int threads);
  ~PartPool();
  PartPool(const PartPool&) = delete;
  PartPool& operator=(const PartPool&) = delete;

  int size() const { return static_cast<int>(helpers_.size()) + 1; }

  // Runs fn(0), ..., fn(parts - 1), 1 <= parts <= size(): fn(0) on the
  // caller, the others on helper threads; returns when all have returned.
  // Concurrent calls run one after the other.
  void Run(int parts, const std::function<void(int)>& fn);

 private:
  void Helper(int index);

  std::mutex run_mu_;  // one Run at a time
  std::mutex mu_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(int)>* fn_ = nullptr;  // guarded by mu_
  int parts_ = 0;                                 // guarded by mu_
  int remaining_ = 0;                             // helper parts not yet finished; mu_
  unsigned generation_ = 0;                       // bumped by each Run; mu_
  bool stop_ = false;                             // guarded by mu_
  std::vector<std::thread> helpers_;
};

inline PartPool::PartPool(int threads) {
  for (int i = 1; i < threads; ++i) helpers_.emplace_back([this, i] { Helper(i); });
}

inline PartPool::~PartPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (std::thread& t : helpers_) t.join();
}

inline void PartPool::Run(int parts, const std::function<void(int)>& fn) {
  if (parts <= 1 || helpers_.empty()) {
    for (int p = 0; p < parts; ++p) fn(p);
    return;
  }
  if (parts > size()) parts = size();
  std::lock_guard<std::mutex> run_lock(run_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    parts_ = parts;
    remaining_ = parts - 1;
    ++generation_;
  }
  start_.notify_all();
  fn(0);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return remaining_ == 0; });
  fn_ = nullptr;
}

inline void PartPool::Helper(int index) {
  unsigned seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    start_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    if (index >= parts_) continue;  // not needed this time
    const std::function<void(int)>* fn = fn_;
    lock.unlock();
    (*fn)(index);
    lock.lock();
    if (--remaining_ == 0) done_.notify_one();
  }
}

}  // namespace msrec
