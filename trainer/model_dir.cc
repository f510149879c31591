#include "trainer/model_dir.h"

#include <sys/stat.h>

#include <cstdio>

#include "common/file_util.h"

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

Status ModelDir::CheckComplete(const std::string& store) const {
  for (const std::string& path : {job(), scenario_map(), dense()}) {
    if (!Exists(path)) return Status::NotFound(root_ + " is not a complete model directory: " +
                                               path + " is missing");
  }
  if (!Exists(embeddings(store)) && !Exists(parameter_servers())) {
    return Status::NotFound(root_ + " is not a complete model directory: no embedding rows (" +
                            embeddings(store) + ")");
  }
  return Status::OK();
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
