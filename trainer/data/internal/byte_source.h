// ByteSource: sequential bytes of a plain, gzip or zstd file (detected by the gzip / zstd
// magic bytes 1f 8b / 28 b5 2f fd). Not thread-safe; one reader thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace msrec::internal {

class ByteSource {
 public:
  // Opens `path`; IoError if it cannot be opened.
  static Result<std::unique_ptr<ByteSource>> Open(const std::string& path);
  virtual ~ByteSource() = default;

  // Reads up to `n` bytes into `buf`; 0 means end of file. A gzip stream that
  // ends early or is damaged gives Corruption naming the file.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  // Bytes of the file on disk consumed so far (compressed bytes for gzip).
  virtual uint64_t position() const = 0;
  virtual bool compressed() const = 0;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }

 protected:
  std::string path_;
  uint64_t file_size_ = 0;
};

}  // namespace msrec::internal
