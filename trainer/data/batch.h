// Batch: the unit that readers produce and the trainer consumes. Torch-free.
// Categorical values are already hashed into 64-bit keys (field mixed in).
#pragma once

#include <cstdint>
#include <vector>

namespace msrec {

struct Batch {
  int64_t size = 0;        // number of instances (rows)
  int num_cat_fields = 0;  // F: categorical + multi-valued fields, in schema order
  int num_dense = 0;       // dense features per row
  int num_labels = 0;      // label columns per row

  // Keys of row i, field f are keys[offsets[i*F + f] .. offsets[i*F + f + 1]).
  // A single-valued field has exactly one key; a multi-valued one has 0..n.
  std::vector<uint64_t> keys;
  std::vector<int64_t> offsets;       // size*F + 1 entries, offsets[0] == 0
  std::vector<float> dense;           // size x num_dense, row-major
  std::vector<float> labels;          // size x num_labels, row-major; values 0 or 1
  std::vector<int32_t> scenario;      // size; dense scenario id in [0, K)
  std::vector<uint64_t> instance_id;  // size if the schema has an id column, else empty
  std::vector<float> oracle;  // size if the schema has a true-probability column, else empty
  std::vector<int64_t>
      record;  // size; 0-based index of the data record in its input (header excluded)

  // Appends row `i` of `other` (same layout) to this batch.
  void AppendRow(const Batch& other, int64_t i);
  // Appends rows [begin, end) of `other` (same layout) to this batch.
  void AppendRows(const Batch& other, int64_t begin, int64_t end);
  // Clears the rows, keeping the layout fields; offsets becomes {0}.
  void ClearRows();
};

}  // namespace msrec
