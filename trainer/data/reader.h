// Reader: streams Batches from CSV/TSV logs (optionally gzip) or binary shards.
// See docs/data.md for the input formats and the bad-row policy.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer/data/batch.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"

namespace msrec {

// Why a row was rejected.
enum class BadRowKind {
  kColumnCount = 0,  // wrong number of fields
  kBadNumber,        // dense / oracle / id value that does not parse (or is empty)
  kBadLabel,         // label that is not 0 or 1
  kUnknownScenario,  // scenario value not in a fixed ScenarioMap
  kBadQuote,         // malformed RFC-4180 quoting
  kNumKinds,
};
const char* BadRowKindName(BadRowKind kind);

struct ReaderOptions {
  // Column spec, resolved against each CSV header; all inputs must resolve to
  // the same schema. For shards (which embed their schema) it may be empty; if
  // given it must resolve to the embedded schema. Required for CSV.
  SchemaSpec schema;
  // Scenario value -> id. Not owned; must outlive the reader. nullptr: the
  // reader uses its own growable map (ids in order of first appearance, see
  // Reader::scenario_map()); shards then use their embedded map. A fixed map
  // turns unknown values into bad rows; a growable one is extended in file order.
  ScenarioMap* scenario_map = nullptr;
  // Rows per Batch (the last one may be smaller unless drop_last). Default 1024.
  int64_t batch_size = 1024;
  // Parser threads for CSV (one more thread reads and cuts the input). Default 1.
  int num_threads = 1;
  // Field delimiter for CSV: 0 = detect per file from the header (',' or '\t').
  char delimiter = 0;
  // CSV dialect: quoted fields may span lines (RFC 4180). Off by default: a
  // record ends at every newline, so a stray quote makes one bad row.
  bool multiline_quotes = false;
  // Bad rows tolerated (over all inputs); one more makes Next() fail with
  // InvalidArgument naming the file:line. Default 100. -1 = no limit.
  int64_t max_bad_rows = 100;
  // Bad rows logged individually with LOG(WARNING) ("file:line: reason"). Default 10.
  int max_logged_bad_rows = 10;
  // Chunks (CSV) or blocks (shards) buffered between stages. Memory is bounded by
  // about (queue_capacity + num_threads + 2) * chunk_bytes. Default 8.
  int queue_capacity = 8;
  // Target bytes per CSV chunk handed to a parser thread. Default 1 MiB.
  size_t chunk_bytes = 1 << 20;
  // Drop a last partial batch (its rows are counted in ReaderStats::rows_dropped).
  bool drop_last = false;
  // Read only part `part_index` of `num_parts` (worker sharding): CSV chunks or
  // shard blocks are dealt round-robin. Defaults 0 of 1 (everything). The
  // record indices stay those of the whole input.
  int part_index = 0;
  int num_parts = 1;
};

struct ReaderStats {
  int64_t rows_ok = 0;       // rows delivered in batches
  int64_t rows_dropped = 0;  // good rows dropped by drop_last
  std::array<int64_t, static_cast<int>(BadRowKind::kNumKinds)> rows_bad{};  // by kind
  int64_t blank_lines = 0;  // empty records skipped (not rows)
  int64_t bytes_read = 0;   // bytes consumed from disk (compressed for gzip)
  int files_done = 0;       // inputs fully read

  int64_t total_bad() const;
  // "rows_ok=... rows_bad=... (column_count=.. bad_number=..) blank_lines=..."
  std::string ToString() const;
};

// Not thread-safe: one consumer thread calls Next(); internal threads are
// joined by the destructor (which may be called at any time).
class Reader {
 public:
  virtual ~Reader() = default;

  // Fills `batch` (cleared first) with the next rows, in input order. Returns
  // false at the end of input (batch empty). Errors: IoError, Corruption (a
  // damaged shard or gzip), InvalidArgument (too many bad rows, schema
  // mismatch between inputs). After an error the reader is done.
  virtual Result<bool> Next(Batch* batch) = 0;

  virtual ReaderStats stats() const = 0;
  // Fraction [0, 1] of the input bytes consumed, for ETAs.
  virtual double Progress() const = 0;
  // The resolved schema (of the first input; all inputs must agree).
  virtual const Schema& schema() const = 0;
  // The map in use: ReaderOptions::scenario_map or the reader's own.
  virtual const ScenarioMap& scenario_map() const = 0;
};

// Opens `paths` (read in order) as one stream. Binary shards are recognised by
// their magic bytes (any extension); everything else is CSV/TSV, plain or gzip.
// All paths must be of the same kind. The schema of the first input is
// resolved before returning, so errors there come back here.
Result<std::unique_ptr<Reader>> OpenReader(const std::vector<std::string>& paths,
                                           const ReaderOptions& options);

// Expands input arguments as users keep logs: each item is a file, a folder
// (its data files, sorted by name; names starting with '.' or '_', such as
// _SUCCESS, are skipped) or a glob pattern (matches sorted; a matched folder is
// expanded too). InvalidArgument names a pattern that matches nothing or a
// folder without data files; a missing plain file is kept (opening it reports
// it). Logs the count and total size.
Result<std::vector<std::string>> ExpandInputPaths(const std::vector<std::string>& items);

// Checks the options both readers share (batch size, queue capacity, parts)
// and returns the total size in bytes of `paths` (for Progress()); IoError
// names a file that cannot be opened.
Result<uint64_t> CheckReaderInputs(const std::vector<std::string>& paths,
                                   const ReaderOptions& options);

}  // namespace msrec
