#include "trainer/checkpoint.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>
#include <vector>

#include "common/file_util.h"
#include "common/hash.h"

namespace msrec {
namespace {

constexpr char kManifest[] = "MANIFEST";
// Format 2 ends with "end <CRC-32C of every line before it>": a manifest cut
// anywhere, even at a line end, fails verification.
constexpr char kManifestHeader[] = "msrec-checkpoint 2";

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

// Checks the manifest's last line "end <crc>" against the text before it and
// removes it from `text`.
Status CheckManifestEnd(const std::string& path, std::string* text) {
  const size_t last = text->rfind("\nend ");
  if (last == std::string::npos || text->back() != '\n') {
    return Status::Corruption(path + "/MANIFEST: incomplete (no end line)");
  }
  const std::string body = text->substr(0, last + 1);
  unsigned crc = 0;
  if (std::sscanf(text->c_str() + last + 5, "%8x", &crc) != 1 ||
      crc != Crc32c(body.data(), body.size()) || text->find('\n', last + 1) != text->size() - 1) {
    return Status::Corruption(path + "/MANIFEST: fails its own checksum (cut or edited)");
  }
  *text = body;
  return Status::OK();
}

}  // namespace

// Moves directory `from` to `to`: a plain rename when `to` does not exist;
// otherwise the two are exchanged atomically (renameat2 RENAME_EXCHANGE) and
// the old one, now at `from`, is removed.
Status ReplaceDirectory(const std::string& from, const std::string& to) {
  if (!PathExists(to)) {
    if (std::rename(from.c_str(), to.c_str()) != 0) {
      return Status::IoError("cannot rename " + from + " to " + to + ": " + std::strerror(errno));
    }
  } else {
    if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) != 0) {
      return Status::IoError("cannot exchange " + from + " and " + to + ": " + std::strerror(errno));
    }
    MSREC_RETURN_IF_ERROR(RemoveTree(from));
  }
  return SyncPath(to.substr(0, to.find_last_of('/')));
}

std::string CheckpointPath(const std::string& dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%010" PRId64, step);
  return dir + "/" + name;
}

Result<CheckpointInfo> WriteManifest(const std::string& path, const TrainingPosition& position) {
  return WriteManifestOf(path, position, {});
}

Result<CheckpointInfo> WriteManifestOf(const std::string& path, const TrainingPosition& position,
                                       const std::vector<std::string>& entries) {
  std::vector<std::string> names;
  if (entries.empty()) MSREC_RETURN_IF_ERROR(ListFiles(path, "", &names));
  for (const std::string& entry : entries) {
    struct stat st;
    if (::stat((path + "/" + entry).c_str(), &st) != 0) {
      return Status::IoError("cannot stat " + path + "/" + entry);
    }
    if (S_ISDIR(st.st_mode)) {
      MSREC_RETURN_IF_ERROR(ListFiles(path, entry, &names));
    } else {
      names.push_back(entry);
    }
  }
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
  std::string text = manifest.str();
  char end[32];
  std::snprintf(end, sizeof(end), "end %08x\n", Crc32c(text.data(), text.size()));
  text += end;
  MSREC_RETURN_IF_ERROR(WriteFileDurably(path + "/" + kManifest, text));
  return info;
}

Result<CheckpointInfo> VerifyCheckpoint(const std::string& path) {
  if (!PathExists(path + "/" + kManifest)) {
    return Status::NotFound("checkpoint " + path + " has no MANIFEST (incomplete)");
  }
  MSREC_ASSIGN_OR_RETURN(std::string text, ReadFile(path + "/" + kManifest));
  MSREC_RETURN_IF_ERROR(CheckManifestEnd(path, &text));
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kManifestHeader) {
    return Status::Corruption(path + "/MANIFEST: not an msrec checkpoint manifest (format 2)");
  }
  int positions = 0;  // step, epoch and epoch_steps lines seen
  CheckpointInfo info;
  info.path = path;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    if (kind == "step" || kind == "epoch" || kind == "epoch_steps") ++positions;
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
  if (positions != 3) return Status::Corruption(path + "/MANIFEST: the position lines are missing");
  // A ckpt-<step> directory holds the checkpoint of that step.
  const std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.rfind("ckpt-", 0) == 0 && name != CheckpointPath("", info.position.step).substr(1)) {
    return Status::Corruption(path + "/MANIFEST: says step " +
                              std::to_string(info.position.step) + ", the directory another");
  }
  return info;
}

Result<std::optional<CheckpointInfo>> FindResumePoint(const std::string& dir, bool skip_corrupt) {
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> dirs, CheckpointDirs(dir));
  Status damaged;  // the last damaged checkpoint skipped
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
    damaged = info.status();
  }
  if (!damaged.ok()) {
    // Damaged checkpoints and no good one: starting afresh would silently
    // throw the job away (and pruning would delete the evidence).
    return damaged.WithContext("every checkpoint in " + dir +
                               " is damaged; move them away to start afresh");
  }
  return std::optional<CheckpointInfo>();
}

Status PruneCheckpoints(const std::string& dir, int keep) {
  // Leftovers of interrupted writes (the checkpoint written last is complete).
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& name : names) {
    if (name.rfind("ckpt-", 0) == 0 && name.size() > 8 &&
        name.compare(name.size() - 8, 8, ".partial") == 0) {
      MSREC_RETURN_IF_ERROR(RemoveTree(dir + "/" + name));
    }
  }
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
