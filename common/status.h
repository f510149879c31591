// Status and Result<T>: the one error type of msrec (see docs/errors.md).
// Expected failures (I/O, bad input, a lost peer, a timeout, RocksDB errors)
// are returned as a Status that says what failed and where; broken invariants
// are glog CHECKs. Only launch/ turns a Status into an exit code.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <glog/logging.h>

namespace msrec {

class [[nodiscard]] Status {
 public:
  enum class Code { kOk = 0, kInvalidArgument, kNotFound, kIoError, kCorruption, kTimeout,
                    kUnavailable, kInternal };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status Timeout(std::string msg) { return Status(Code::kTimeout, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "IoError: cannot open x.csv: No such file or directory".
  std::string ToString() const;
  // Returns a copy whose message is prefixed with `context` ("while reading x: ...").
  Status WithContext(const std::string& context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    CHECK(!status_.ok()) << "Result constructed from an OK status without a value";
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { CHECK(ok()) << status_.ToString(); return *value_; }
  const T& value() const& { CHECK(ok()) << status_.ToString(); return *value_; }
  T&& value() && { CHECK(ok()) << status_.ToString(); return std::move(*value_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace msrec

#define MSREC_CONCAT_INNER(a, b) a##b
#define MSREC_CONCAT(a, b) MSREC_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define MSREC_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::msrec::Status _msrec_st = (expr);            \
    if (!_msrec_st.ok()) return _msrec_st;         \
  } while (0)

// MSREC_ASSIGN_OR_RETURN(auto x, MakeX()): unwraps a Result or returns its Status.
#define MSREC_ASSIGN_OR_RETURN(lhs, expr) \
  MSREC_ASSIGN_OR_RETURN_IMPL(MSREC_CONCAT(_msrec_res_, __LINE__), lhs, expr)
#define MSREC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
