// `msrec export`: a serving bundle that `msrec eval` / `msrec predict` load
// without the training cluster (docs/training.md, "Serving bundle"):
//   job.txt           the model and table config (store memory, optimizer sgd: rows
//                     carry weights only)
//   scenario_map.tsv  scenario value -> id
//   dense.pt          the dense parameters
//   embeddings.bin    every embedding row, weights only (SaveStore format)
//   MANIFEST          sizes and CRC-32C of the files above (checkpoint.h format)
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace msrec {

struct ExportOptions {
  std::string model_dir;  // a directory written by `msrec train`
  std::string output;     // the bundle directory (replaced)
  std::string ps_dir;     // where a multi-process job's servers kept their rows
                          // (default <model_dir>/ps); used when it holds server dumps
};

struct ExportStats {
  uint64_t rows = 0;   // embedding rows written
  uint64_t bytes = 0;  // bundle size
};

// Gathers the rows from wherever the job kept them (embeddings.bin, the
// embedded RocksDB store, or the servers' dumps / databases) and writes the
// bundle. The rows of every source are merged in memory.
Result<ExportStats> ExportBundle(const ExportOptions& options);

// Merges the rows of every server under `dir` (a checkpoint directory's
// server-<s>.bin dumps or server-<s>.rocksdb databases), optimizer state
// included, into one SaveStore file `output` (a memory store's
// embeddings.bin).
Status MergeServerRows(const std::string& dir, const std::string& output);

}  // namespace msrec
