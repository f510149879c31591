// The one owner of the model-directory layout: every file name, how files are
// written (atomically), and what a complete directory holds. A model directory
// (written by `msrec train`, read by eval/predict/export):
//   job.txt           the model name, ModelConfig, schema, table and label (key=value lines)
//   scenario_map.tsv  scenario value -> id, shared by train, eval and predict
//   dense.pt          the dense parameters (LibTorch archive)
//   embeddings/       the RocksDB embedding store, or embeddings.bin for the memory store
//                     (a job with parameter-server ranks keeps its rows under ps/ until
//                     `msrec export`)
//   metrics.jsonl     progress and evaluation events (JSON lines)
//   checkpoints/      periodic checkpoints (checkpoint.h), best_dense.pt + best_rows/ while
//                     early stopping runs
// An ssim-search artefact is a model directory of the search's backbone with
//   ssim.txt, selector.pt, initial_dense.pt (ssim_artefact.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace msrec {

class ModelDir {
 public:
  explicit ModelDir(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  std::string job() const { return At("job.txt"); }
  std::string scenario_map() const { return At("scenario_map.tsv"); }
  std::string dense() const { return At("dense.pt"); }
  std::string metrics() const { return At("metrics.jsonl"); }
  // The base path of the embedding store: the RocksDB directory itself, or
  // base + ".bin" for a memory store (StoreAt in parameter_server/ps_service.h).
  std::string embeddings_base() const { return At("embeddings"); }
  // The file or directory the rows of a `store` ("memory" | "rocksdb") job live in.
  std::string embeddings(const std::string& store) const;
  std::string checkpoints() const { return At("checkpoints"); }
  std::string parameter_servers() const { return At("ps"); }
  std::string best_dense() const { return At("best_dense.pt"); }
  std::string best_rows() const { return At("best_rows"); }
  // ssim-search artefacts.
  std::string ssim_settings() const { return At("ssim.txt"); }
  std::string selector() const { return At("selector.pt"); }
  std::string initial_dense() const { return At("initial_dense.pt"); }

  std::string manifest() const { return At("MANIFEST"); }
  std::string lock() const { return At("LOCK"); }

  Status Create() const;

  // A model directory is committed like a checkpoint: every file is written,
  // then MANIFEST (checkpoint.h format: sizes and CRC-32C of job.txt,
  // scenario_map.tsv, dense.pt, the rows when they are in the directory, and
  // an ssim-search artefact's files), durably and last. Uncommit removes the
  // manifest before a job rewrites the directory, so a job that fails half
  // way leaves a directory readers refuse.
  Status Commit(const std::string& store) const;
  Status Uncommit() const;
  // OK when the directory holds a committed model whose files match its
  // manifest; NotFound (no MANIFEST: unfinished, or still being written) or
  // Corruption naming the file otherwise.
  Status Verify() const;

  // Takes the directory's writer lock (LOCK, flock): a second process that
  // trains into the same directory fails at once instead of overwriting it.
  // The lock is held until the returned object is destroyed.
  class WriterLock {
   public:
    explicit WriterLock(int fd) : fd_(fd) {}
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;
    ~WriterLock();

   private:
    int fd_;
  };
  Result<std::unique_ptr<WriterLock>> LockForWriting() const;

 private:
  std::string At(const char* name) const { return root_ + "/" + name; }
  std::string root_;
};

// Writes `path` through `write(tmp)` on `path.tmp` and renames it over `path`:
// readers see the old file or the new one, never a part. A failed write
// removes the temporary file.
Status WriteAtomically(const std::string& path,
                       const std::function<Status(const std::string& tmp)>& write);

}  // namespace msrec
