// Wall-clock helpers.
#pragma once

#include <chrono>

namespace msrec {

// Measures elapsed wall time since construction or the last Reset(). Not thread-safe.
class Timer {
 public:
  Timer() : start_(std::chrono::steady_clock::now()) {}
  void Reset() { start_ = std::chrono::steady_clock::now(); }
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace msrec
