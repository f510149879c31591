// RowParser: parses the records of one CSV chunk into a Batch. One per parser
// thread (it caches scenario ids); not thread-safe.
#pragma once

#include <climits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "trainer/data/internal/chunk.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"

namespace msrec::internal {

// A finite float ("+" allowed); a 0/1 label ("0", "1", "0.0", "1e0", ...).
bool ParseFloat(std::string_view v, float* out);
bool ParseLabel(std::string_view v, float* out);

class RowParser {
 public:
  // `schema` and `map` must outlive the parser; `map` may be shared.
  RowParser(const Schema& schema, ScenarioMap* map);

  // Parses every record of `chunk` into `out` (seq/file/file_pos copied).
  void Parse(const Chunk& chunk, ParsedChunk* out);

 private:
  // Appends one record to out->rows, or returns false with `bad` filled.
  bool ParseRecord(std::string_view record, char delim, ParsedChunk* out, BadRow* bad);
  bool ParseField(const Schema::Column& c, std::string_view v, ParsedChunk* out, int32_t* scenario,
                  BadRowKind* kind);
  // The id of `value`; kUnknown for a fixed map; -(1 + i) for the i-th value
  // pending in a growable map.
  static constexpr int32_t kUnknown = INT32_MIN;
  int32_t ScenarioId(std::string_view value, ParsedChunk* out);

  const Schema& schema_;
  ScenarioMap* map_;
  std::vector<std::string_view> fields_;
  std::string scratch_;
  std::unordered_map<std::string, int32_t> cache_;    // known ids
  std::string last_value_;                            // last scenario value seen
  int32_t last_id_ = -1;                              // and its id (>= 0 only)
  std::unordered_map<std::string, int32_t> pending_;  // per chunk
};

}  // namespace msrec::internal
