// CSV/TSV reader (plain or gzip). Pipeline: one I/O thread cuts the byte
// stream into chunks of whole records (quote-aware); options.num_threads
// parser threads parse chunks in parallel; Next() takes them back in chunk
// order, so rows come out in file order. Memory is bounded by
// (queue_capacity + num_threads) chunks in flight.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer/data/reader.h"

namespace msrec {

// Opens CSV/TSV inputs (see OpenReader, which calls this for non-shard files).
// Checks that every path exists and resolves the schema of the first one.
Result<std::unique_ptr<Reader>> OpenCsvReader(const std::vector<std::string>& paths,
                                              const ReaderOptions& options);

}  // namespace msrec
