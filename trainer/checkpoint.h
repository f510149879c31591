// Checkpoints of a training job (docs/training.md, "Checkpoints"). One
// checkpoint is a directory <dir>/ckpt-<step, 10 digits>/ holding
//   dense.pt        the dense parameters (worker 0)
//   optimizer.pt    the dense optimizer's state (worker 0)
//   rng.pt          LibTorch's CPU generator state (worker 0)
//   server-<s>.rocksdb/ or server-<s>.bin  the rows of server s (the embedded default
//                   is server 0): a RocksDB checkpoint (hard links) or a dump (memory
//                   store); any server count can restore
//   MANIFEST        written last, durably (tmp, fsync, rename): the position, every
//                   other file's size and CRC-32C, and an end line with the CRC-32C of
//                   the lines before it (format 2: a cut manifest fails)
// A directory without a MANIFEST that verifies is not a checkpoint. A checkpoint
// is written as ckpt-<step>.partial and renamed (or, replacing a complete one
// of the same step, exchanged) into place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace msrec {

struct CheckpointOptions {
  std::string dir;           // where ckpt-* directories go; empty = no checkpoints
  int64_t every_steps = 0;   // also checkpoint every N global steps (0: epoch ends only)
  bool at_epoch_end = true;  // checkpoint when an epoch ends
  int keep = 3;              // complete checkpoints kept (newest); older ones are deleted
  bool resume = false;       // start from the newest complete checkpoint in `dir`, if any
  bool skip_corrupt = false; // resume: when the newest fails verification, use the previous
                             // complete one instead of failing
};

// Where training stands: a checkpoint resumes exactly here.
struct TrainingPosition {
  int64_t step = 0;            // global steps done
  int epoch = 1;               // the epoch in progress (or the next one when epoch_steps == 0)
  int64_t epoch_steps = 0;     // steps done in `epoch`
};

struct CheckpointInfo {
  std::string path;            // the ckpt-* directory
  TrainingPosition position;
  uint64_t bytes = 0;          // total size of its files
};

// Moves directory `from` to `to`: a plain rename when `to` does not exist;
// otherwise the two are exchanged atomically (renameat2 RENAME_EXCHANGE) and
// the old one, now at `from`, is removed. At every moment `to` is the old
// directory or the new one.
Status ReplaceDirectory(const std::string& from, const std::string& to);

// The directory of the checkpoint of `step` under `dir`.
std::string CheckpointPath(const std::string& dir, int64_t step);

// Writes the MANIFEST of the checkpoint directory `path` (every other file in
// it, with size and CRC-32C, and `position`), durably and last.
Result<CheckpointInfo> WriteManifest(const std::string& path, const TrainingPosition& position);
// The same for only `entries` of `path` (files, or directories: every file
// below them); empty = everything.
Result<CheckpointInfo> WriteManifestOf(const std::string& path, const TrainingPosition& position,
                                       const std::vector<std::string>& entries);

// Reads the MANIFEST of `path` and checks every file's size and CRC-32C:
// NotFound without a MANIFEST (incomplete), Corruption naming the first file
// that does not match.
Result<CheckpointInfo> VerifyCheckpoint(const std::string& path);

// The newest complete checkpoint under `dir` (nullopt if none). Incomplete
// directories are skipped; a corrupt newest one is an error unless
// `skip_corrupt`, which falls back to the previous complete one.
Result<std::optional<CheckpointInfo>> FindResumePoint(const std::string& dir, bool skip_corrupt);

// Deletes all but the newest `keep` complete checkpoints, and incomplete
// directories older than the newest complete one.
Status PruneCheckpoints(const std::string& dir, int keep);

}  // namespace msrec
