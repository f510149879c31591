#include "trainer/checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>
#include <vector>

#include "common/file_util.h"

namespace msrec {
namespace {

constexpr char kManifest[] = "MANIFEST";
constexpr char kManifestHeader[] = "msrec-checkpoint 1";

// The ckpt-* subdirectories of `dir`, newest (highest step) first.
Result<std::vector<std::string>> CheckpointDirs(const std::string& dir) {
  std::vector<std::string> out;
  if (!PathExists(dir)) return out;
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& name : names) {
    if (name.rfind("ckpt-", 0) == 0 && name.find('.') == std::string::npos) {
      out.push_back(dir + "/" + name);
    }
  }
  std::sort(out.rbegin(), out.rend());  // zero-padded steps sort as numbers
  return out;
}

// Paths relative to `root` of every regular file below it (a RocksDB
// checkpoint is a subdirectory), sorted.
Status ListFiles(const std::string& root, const std::string& rel, std::vector<std::string>* out) {
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(rel.empty() ? root : root + "/" + rel));
  for (const std::string& name : names) {
    const std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::stat((root + "/" + path).c_str(), &st) != 0) {
      return Status::IoError("cannot stat " + root + "/" + path);
    }
    if (S_ISDIR(st.st_mode)) {
      MSREC_RETURN_IF_ERROR(ListFiles(root, path, out));
    } else {
      out->push_back(path);
    }
  }
  return Status::OK();
}

}  // namespace

std::string CheckpointPath(const std::string& dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%010" PRId64, step);
  return dir + "/" + name;
}

Result<CheckpointInfo> WriteManifest(const std::string& path, const TrainingPosition& position) {
  std::vector<std::string> names;
  MSREC_RETURN_IF_ERROR(ListFiles(path, "", &names));
  std::ostringstream manifest;
  manifest << kManifestHeader << "\nstep " << position.step << "\nepoch " << position.epoch
           << "\nepoch_steps " << position.epoch_steps << "\n";
  CheckpointInfo info;
  info.path = path;
  info.position = position;
  for (const std::string& name : names) {
    if (name == kManifest || name.find(".tmp") != std::string::npos) continue;
    MSREC_ASSIGN_OR_RETURN(FileChecksum sum, ChecksumFile(path + "/" + name));
    MSREC_RETURN_IF_ERROR(SyncPath(path + "/" + name));
    char line[64];
    std::snprintf(line, sizeof(line), " %llu %08x\n", static_cast<unsigned long long>(sum.size),
                  sum.crc32c);
    manifest << "file " << name << line;
    info.bytes += sum.size;
  }
  MSREC_RETURN_IF_ERROR(WriteFileDurably(path + "/" + kManifest, manifest.str()));
  return info;
}

Result<CheckpointInfo> VerifyCheckpoint(const std::string& path) {
  if (!PathExists(path + "/" + kManifest)) {
    return Status::NotFound("checkpoint " + path + " has no MANIFEST (incomplete)");
  }
  MSREC_ASSIGN_OR_RETURN(std::string text, ReadFile(path + "/" + kManifest));
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kManifestHeader) {
    return Status::Corruption(path + "/MANIFEST: not an msrec checkpoint manifest");
  }
  CheckpointInfo info;
  info.path = path;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    if (kind == "step") fields >> info.position.step;
    else if (kind == "epoch") fields >> info.position.epoch;
    else if (kind == "epoch_steps") fields >> info.position.epoch_steps;
    else if (kind == "file") {
      std::string name;
      size_t size = 0;
      uint32_t crc = 0;
      fields >> name >> size >> std::hex >> crc;
      Result<FileChecksum> sum = ChecksumFile(path + "/" + name);
      if (!sum.ok()) return Status::Corruption("checkpoint file " + path + "/" + name + " is missing");
      if (sum->size != size) {
        return Status::Corruption("checkpoint file " + path + "/" + name + " has " +
                                  std::to_string(sum->size) + " bytes, the manifest says " +
                                  std::to_string(size) + " (truncated?)");
      }
      if (sum->crc32c != crc) {
        return Status::Corruption("checkpoint file " + path + "/" + name +
                                  " fails its CRC-32C check (corrupted)");
      }
      info.bytes += size;
    }
    if (fields.fail()) return Status::Corruption(path + "/MANIFEST: bad line '" + line + "'");
  }
  return info;
}

Result<std::optional<CheckpointInfo>> FindResumePoint(const std::string& dir, bool skip_corrupt) {
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> dirs, CheckpointDirs(dir));
  for (const std::string& path : dirs) {
    Result<CheckpointInfo> info = VerifyCheckpoint(path);
    if (info.ok()) return std::optional<CheckpointInfo>(info.value());
    if (info.status().code() == Status::Code::kNotFound) {
      LOG(WARNING) << "skipping " << info.status().message();
      continue;
    }
    if (!skip_corrupt) {
      return info.status().WithContext(
          "the newest checkpoint is damaged; --resume_skip_corrupt resumes from the previous one");
    }
    LOG(WARNING) << "skipping a damaged checkpoint: " << info.status().message();
  }
  return std::optional<CheckpointInfo>();
}

Status PruneCheckpoints(const std::string& dir, int keep) {
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> dirs, CheckpointDirs(dir));
  int complete = 0;
  for (const std::string& path : dirs) {
    const bool is_complete = PathExists(path + "/" + kManifest);
    if (is_complete && ++complete <= keep) continue;
    if (!is_complete && complete == 0) continue;  // newer than every complete one: in progress
    MSREC_RETURN_IF_ERROR(RemoveTree(path));
  }
  return Status::OK();
}

}  // namespace msrec
