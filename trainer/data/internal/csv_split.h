// RFC-4180 record cutting and field splitting shared by the CSV reader and
// the scenario scan. A quote opens a quoted field only at the start of a
// field; inside it, "" is a literal quote and delimiters/newlines are data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "trainer/data/internal/byte_source.h"

namespace msrec::internal {

// Offset just past the first ('first' = true) or last record terminator in
// data[0, n), which must start at a record boundary; 0 if there is none. The
// terminator is every '\n' unless `multiline_quotes` (the RFC-4180 dialect:
// a '\n' inside a quoted field is data). Without it a quote left open costs
// its own line only (SplitRecord reports it), never the rest of the file.
size_t FindRecordEnd(const char* data, size_t n, char delim, bool first, bool multiline_quotes);

// Splits a record (terminator and trailing '\r' removed) into fields. Quoted
// fields are unescaped into `scratch` (the views point into it). Returns false
// if quoting is malformed (text after a closing quote, or no closing quote).
bool SplitRecord(std::string_view record, char delim, std::vector<std::string_view>* fields,
                 std::string* scratch);

// ',' or '\t', whichever occurs more often in `line` (',' on a tie).
char DetectDelimiter(std::string_view line);

// Pulls whole records, or chunks of whole records, from a ByteSource.
// Not thread-safe.
class RecordScanner {
 public:
  // `multiline_quotes`: quoted fields may hold newlines (FindRecordEnd).
  explicit RecordScanner(ByteSource* source, size_t max_record_bytes = 64 << 20,
                         bool multiline_quotes = false);

  // Reads the first record as the header. If *delimiter is 0 it is detected
  // from the header and stored. InvalidArgument if the file is empty.
  Result<std::vector<std::string>> ReadHeader(char* delimiter);

  // The next record without its terminator (valid until the next call);
  // false at end of input. Empty records (blank lines) are returned as empty.
  Result<bool> NextRecord(std::string_view* record);

  // Appends to `chunk` about `target_bytes` of whole records (at least one),
  // including terminators; false at end of input. `*has_quote` says whether the
  // chunk contains a '"' and the dialect is multi-line (its records must then
  // be cut quote-aware). `*lines` is the number of '\n' in the chunk.
  Result<bool> NextChunk(size_t target_bytes, std::string* chunk, bool* has_quote, int64_t* lines);

  // Physical lines fully consumed so far (1-based line of the next record - 1).
  int64_t lines_consumed() const { return lines_consumed_; }

 private:
  // Ensures at least `want` unconsumed bytes are buffered unless EOF.
  Status Fill(size_t want);
  Status TooLong() const;

  ByteSource* source_;
  const size_t max_record_bytes_;
  const bool multiline_quotes_;
  char delim_ = ',';
  std::string buf_;
  size_t pos_ = 0;  // first unconsumed byte
  size_t end_ = 0;  // end of valid bytes
  bool eof_ = false;
  int64_t lines_consumed_ = 0;
};

}  // namespace msrec::internal
