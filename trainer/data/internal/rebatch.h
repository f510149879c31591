// Cuts a stream of row blocks of any size into Batches of batch_size rows.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

#include "common/status.h"
#include "trainer/data/batch.h"

namespace msrec::internal {

// Holds the current block and a cursor into it. Not thread-safe.
class Rebatcher {
 public:
  // Fills `out` (cleared, layout from `layout`) with up to batch_size rows,
  // calling next_block(Batch*) -> Result<bool> for more rows (false = end).
  // Returns the number of rows placed, or the error of next_block.
  template <typename NextBlock>
  Result<int64_t> Fill(int64_t batch_size, const Batch& layout, Batch* out,
                       NextBlock&& next_block) {
    out->num_cat_fields = layout.num_cat_fields;
    out->num_dense = layout.num_dense;
    out->num_labels = layout.num_labels;
    out->ClearRows();
    while (out->size < batch_size) {
      if (cursor_ >= block_.size) {
        cursor_ = 0;
        block_.size = 0;
        Result<bool> more = next_block(&block_);
        if (!more.ok()) return more.status();
        if (!more.value()) break;
        if (block_.size == 0) continue;
        if (out->size == 0 && block_.size == batch_size) {  // whole block: no copy
          std::swap(*out, block_);
          block_.size = 0;
          break;
        }
      }
      const int64_t take = std::min(batch_size - out->size, block_.size - cursor_);
      out->AppendRows(block_, cursor_, cursor_ + take);
      cursor_ += take;
    }
    return out->size;
  }

 private:
  Batch block_;
  int64_t cursor_ = 0;
};

}  // namespace msrec::internal
