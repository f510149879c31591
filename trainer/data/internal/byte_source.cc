#include "trainer/data/internal/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace msrec::internal {
namespace {

class PlainSource : public ByteSource {
 public:
  PlainSource(int fd, std::string path, uint64_t size) : fd_(fd) {
    path_ = std::move(path);
    file_size_ = size;
  }
  ~PlainSource() override { ::close(fd_); }

  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      const ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) {
        position_ += static_cast<uint64_t>(got);
        return static_cast<size_t>(got);
      }
      if (errno != EINTR) return Status::IoError("read " + path_ + ": " + std::strerror(errno));
    }
  }
  uint64_t position() const override { return position_; }
  bool compressed() const override { return false; }

 private:
  int fd_;
  uint64_t position_ = 0;
};

class GzipSource : public ByteSource {
 public:
  GzipSource(gzFile gz, std::string path, uint64_t size) : gz_(gz) {
    path_ = std::move(path);
    file_size_ = size;
  }
  ~GzipSource() override { gzclose(gz_); }

  Result<size_t> Read(char* buf, size_t n) override {
    const unsigned want = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
    const int got = gzread(gz_, buf, want);
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    if (got < 0 || (err != Z_OK && err != Z_STREAM_END)) {
      return Status::Corruption("gzip " + path_ + ": " + (msg ? msg : "read error"));
    }
    return static_cast<size_t>(got);
  }
  uint64_t position() const override {
    const z_off_t off = gzoffset(gz_);
    return off < 0 ? 0 : static_cast<uint64_t>(off);
  }
  bool compressed() const override { return true; }

 private:
  gzFile gz_;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> ByteSource::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  uint64_t size = 0;
  if (::fstat(fd, &st) == 0) size = static_cast<uint64_t>(st.st_size);
  unsigned char magic[2] = {0, 0};
  const ssize_t got = ::pread(fd, magic, 2, 0);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    gzFile gz = gzdopen(fd, "rb");
    if (gz == nullptr) {
      ::close(fd);
      return Status::IoError("cannot open gzip " + path);
    }
    gzbuffer(gz, 1 << 18);
    return std::unique_ptr<ByteSource>(new GzipSource(gz, path, size));
  }
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  return std::unique_ptr<ByteSource>(new PlainSource(fd, path, size));
}

}  // namespace msrec::internal
