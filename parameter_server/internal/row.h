// The stored form of one embedding row. A row is self-describing so that a
// dump, a checkpoint or a RocksDB value can be checked on its own:
//
//   offset  size        field
//   0       1           format version (kRowFormatVersion)
//   1       1           optimizer kind (SparseOptimizerKind)
//   2       2           reserved, zero
//   4       4           dim (uint32)
//   8       4           number of optimizer state floats S (uint32)
//   12      4 * dim     weights (float32)
//   12+4d   4 * S       optimizer state (float32)
//   ...     8           frequency: number of pushes applied (uint64)
//   ...     8           last step that pushed this row (int64)
//
// All integers and floats are little-endian (the host order; big-endian hosts
// are rejected at compile time). Total: 28 + 4 * (dim + S) bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "parameter_server/table_config.h"

namespace msrec {

inline constexpr uint8_t kRowFormatVersion = 1;
inline constexpr size_t kRowHeaderBytes = 12;
inline constexpr size_t kRowTrailerBytes = 16;  // frequency + last step

// Size in bytes of a row with `dim` weights and `state_floats` state floats.
inline size_t RowBytes(int dim, int state_floats) {
  return kRowHeaderBytes + 4 * static_cast<size_t>(dim + state_floats) + kRowTrailerBytes;
}

// A decoded row that owns its data (tests, dumps, tools; not the hot path).
struct Row {
  SparseOptimizerKind kind = SparseOptimizerKind::kSgd;
  std::vector<float> weights;  // dim floats
  std::vector<float> state;    // optimizer state floats
  uint64_t frequency = 0;      // number of pushes applied
  int64_t last_step = 0;       // step of the last push (0: never pushed)
};

// Encodes `row` into `out` (replacing its content).
void EncodeRow(const Row& row, std::string* out);

// Decodes a row, checking it is self-consistent (version, kind, size). On
// failure returns Corruption naming `table` and `key`.
Status DecodeRow(std::string_view bytes, const std::string& table, uint64_t key, Row* row);

// The layout shared by every row of one table (fixed kind, dim and state
// size): checks and copies rows without allocating. Thread safety: immutable.
class RowLayout {
 public:
  RowLayout(SparseOptimizerKind kind, int dim, int state_floats);

  SparseOptimizerKind kind() const { return kind_; }
  int dim() const { return dim_; }
  int state_floats() const { return state_floats_; }
  size_t bytes() const { return bytes_; }

  // OK if `bytes` is a row of this layout; else Corruption naming `table` and
  // `key` and saying what differs (size, version, kind, dim, state size).
  Status Check(std::string_view bytes, const std::string& table, uint64_t key) const;

  // Copies the parts of a checked row out; a null pointer skips that part.
  void Read(std::string_view bytes, float* weights, float* state, uint64_t* frequency,
            int64_t* last_step) const;

  // Writes a whole row into `out`, resizing it to bytes() (no allocation when
  // its capacity suffices). `state` may be null when state_floats() == 0.
  void Write(const float* weights, const float* state, uint64_t frequency, int64_t last_step,
             std::string* out) const;

 private:
  SparseOptimizerKind kind_;
  int dim_;
  int state_floats_;
  size_t bytes_;
};

}  // namespace msrec
