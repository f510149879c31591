#include "trainer/data/internal/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

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
      return Status::Corruption("gzip " + path_ + ": " + (msg ? msg : "read error") +
                                " (at compressed byte " + std::to_string(position()) + " of " +
                                std::to_string(file_size_) + ")");
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

// A zstd stream (one or more frames), decompressed as it is read.
class ZstdSource : public ByteSource {
 public:
  ZstdSource(int fd, std::string path, uint64_t size)
      : fd_(fd), ctx_(ZSTD_createDCtx()), in_(ZSTD_DStreamInSize()) {
    path_ = std::move(path);
    file_size_ = size;
  }
  ~ZstdSource() override {
    ZSTD_freeDCtx(ctx_);
    ::close(fd_);
  }

  Result<size_t> Read(char* buf, size_t n) override {
    ZSTD_outBuffer out = {buf, n, 0};
    while (out.pos == 0) {
      if (input_.pos == input_.size) {
        const ssize_t got = ::read(fd_, in_.data(), in_.size());
        if (got < 0) {
          if (errno == EINTR) continue;
          return Status::IoError("read " + path_ + ": " + std::strerror(errno));
        }
        if (got == 0) {
          if (frame_left_ != 0) {
            return Status::Corruption("zstd " + path_ + ": truncated (the stream ends inside a "
                                      "frame at byte " + std::to_string(position_) + ")");
          }
          return size_t{0};
        }
        position_ += uint64_t(got);
        input_ = {in_.data(), size_t(got), 0};
      }
      frame_left_ = ZSTD_decompressStream(ctx_, &out, &input_);
      if (ZSTD_isError(frame_left_)) {
        return Status::Corruption("zstd " + path_ + ": " + ZSTD_getErrorName(frame_left_) +
                                  " (near compressed byte " + std::to_string(position_) + ")");
      }
    }
    return out.pos;
  }
  uint64_t position() const override { return position_; }
  bool compressed() const override { return true; }

 private:
  int fd_;
  ZSTD_DCtx* ctx_;
  std::vector<char> in_;
  ZSTD_inBuffer input_ = {nullptr, 0, 0};
  size_t frame_left_ = 0;  // 0: at a frame boundary
  uint64_t position_ = 0;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> ByteSource::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  uint64_t size = 0;
  if (::fstat(fd, &st) == 0) size = static_cast<uint64_t>(st.st_size);
  unsigned char magic[4] = {0, 0, 0, 0};
  const ssize_t got = ::pread(fd, magic, 4, 0);
  if (got == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
    return std::unique_ptr<ByteSource>(new ZstdSource(fd, path, size));
  }
  if (got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
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
