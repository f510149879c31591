#include "trainer/data/reader_decorators.h"

#include <algorithm>

namespace msrec {

Result<bool> ShuffledReader::Next(Batch* out) {
  if (emitted_ >= order_.size()) {
    MSREC_ASSIGN_OR_RETURN(bool filled, Refill());
    if (!filled) return false;
  }
  const Batch& layout = pool_.front();
  out->num_cat_fields = layout.num_cat_fields;
  out->num_dense = layout.num_dense;
  out->num_labels = layout.num_labels;
  out->ClearRows();
  const size_t n = std::min<size_t>(batch_size_, order_.size() - emitted_);
  for (size_t k = 0; k < n; ++k) {
    const auto& at = order_[emitted_ + k];
    out->AppendRow(pool_[at.first], at.second);
  }
  emitted_ += n;
  return true;
}

Result<bool> ShuffledReader::Refill() {
  order_.clear();
  emitted_ = 0;
  size_t used = 0;  // batches of pool_ holding rows of this fill
  int64_t rows = 0;
  while (rows < pool_rows_) {
    if (used == pool_.size()) pool_.emplace_back();
    MSREC_ASSIGN_OR_RETURN(bool more, inner_->Next(&pool_[used]));
    if (!more) break;
    if (pool_[used].size == 0) continue;
    for (int64_t i = 0; i < pool_[used].size; ++i) order_.emplace_back(int32_t(used), int32_t(i));
    rows += pool_[used].size;
    ++used;
  }
  pool_.resize(std::max<size_t>(used, 1));
  if (order_.empty()) return false;
  std::vector<int64_t> permutation(order_.size());
  for (size_t i = 0; i < permutation.size(); ++i) permutation[i] = int64_t(i);
  std::shuffle(permutation.begin(), permutation.end(), rng_);
  std::vector<std::pair<int32_t, int32_t>> shuffled(order_.size());
  for (size_t i = 0; i < permutation.size(); ++i) shuffled[i] = order_[permutation[i]];
  order_.swap(shuffled);
  return true;
}

Result<bool> StridedReader::Next(Batch* batch) {
  while (true) {
    MSREC_ASSIGN_OR_RETURN(bool more, inner_->Next(batch));
    if (!more) return false;
    if (batch->size == 0) continue;
    if (seen_++ % count_ == index_) return true;
  }
}

}  // namespace msrec
