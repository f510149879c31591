// Units of work in the CSV pipeline: the I/O thread cuts Chunks of whole
// records; parser threads turn them into ParsedChunks; the consumer puts them
// back in sequence order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer/data/batch.h"
#include "trainer/data/reader.h"

namespace msrec::internal {

struct Chunk {
  int64_t seq = 0;         // position in the output order
  int file = 0;            // index into the reader's paths
  std::string data;        // whole records with their terminators
  bool has_quote = false;  // data contains '"' in the multi-line dialect (slow path)
  char delimiter = ',';
  int64_t first_line = 1;   // 1-based physical line of the first record in its file
  uint64_t file_pos = 0;    // disk bytes of the file consumed after cutting this chunk
  bool count_only = false;  // another part's chunk: count records, parse nothing
};

struct BadRow {
  int64_t line = 0;  // 1-based physical line in its file
  BadRowKind kind = BadRowKind::kColumnCount;
  std::string reason;
};

struct ParsedChunk {
  int64_t seq = 0;
  int file = 0;
  Status status;              // an I/O or schema error, delivered in order
  bool end = false;           // end-of-input marker
  bool last_of_file = false;  // the final chunk of `file`
  Batch rows;                 // good rows; record = index within the chunk
  int64_t records = 0;        // data records in the chunk (good + bad)
  int64_t blank_lines = 0;
  std::vector<BadRow> bad;  // in line order
  // Scenario values unknown to a growable map when parsed; a row with
  // scenario id -(1 + i) has value pending_scenarios[i].
  std::vector<std::string> pending_scenarios;
  uint64_t file_pos = 0;
};

}  // namespace msrec::internal
