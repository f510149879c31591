#include "trainer/model_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <glog/logging.h>

#include "common/file_util.h"
#include "trainer/checkpoint.h"

namespace msrec {
namespace {
bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}
}  // namespace

std::string ModelDir::embeddings(const std::string& store) const {
  return store == "rocksdb" ? embeddings_base() : embeddings_base() + ".bin";
}

Status ModelDir::Create() const { return MakeDirs(root_).WithContext("model directory"); }

Status ModelDir::Commit(const std::string& store) const {
  std::vector<std::string> entries = {"job.txt", "scenario_map.tsv", "dense.pt"};
  const std::string rows = store == "rocksdb" ? "embeddings" : "embeddings.bin";
  for (const std::string& optional : {rows, std::string("ssim.txt"), std::string("selector.pt"),
                                      std::string("initial_dense.pt")}) {
    if (Exists(root_ + "/" + optional)) entries.push_back(optional);
  }
  return WriteManifestOf(root_, TrainingPosition(), entries).status();
}

Status ModelDir::Uncommit() const {
  if (std::remove(manifest().c_str()) != 0 && errno != ENOENT) {
    return Status::IoError("cannot remove " + manifest() + ": " + std::strerror(errno));
  }
  return Status::OK();
}

Status ModelDir::Verify() const {
  Result<CheckpointInfo> info = VerifyCheckpoint(root_);
  if (info.ok()) return Status::OK();
  if (info.status().code() == Status::Code::kNotFound) {
    return Status::NotFound(root_ + " is not a committed model directory (no MANIFEST): its "
                            "training did not finish, failed, or is still running");
  }
  return info.status().WithContext("model directory " + root_);
}

ModelDir::WriterLock::~WriterLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Result<std::unique_ptr<ModelDir::WriterLock>> ModelDir::LockForWriting() const {
  const int fd = ::open(lock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("cannot open " + lock() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {0};
    const ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
    ::close(fd);
    return Status::InvalidArgument("another msrec process" +
                                   (n > 0 ? " (pid " + std::string(holder, size_t(n)) + ")"
                                          : std::string()) +
                                   " is writing " + root_ + "; use another --model_dir");
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    LOG(WARNING) << "cannot write the pid into " << lock();
  }
  return std::make_unique<WriterLock>(fd);
}

Status WriteAtomically(const std::string& path,
                       const std::function<Status(const std::string& tmp)>& write) {
  const std::string tmp = path + ".tmp";
  Status status = write(tmp);
  if (status.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    status = Status::IoError("cannot rename " + tmp + " to " + path);
  }
  if (!status.ok()) std::remove(tmp.c_str());
  return status;
}

}  // namespace msrec
