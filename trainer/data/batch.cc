#include "trainer/data/batch.h"

#include <glog/logging.h>

namespace msrec {

void Batch::AppendRow(const Batch& other, int64_t i) { AppendRows(other, i, i + 1); }

void Batch::AppendRows(const Batch& other, int64_t begin, int64_t end) {
  DCHECK_EQ(num_cat_fields, other.num_cat_fields);
  DCHECK_EQ(num_dense, other.num_dense);
  DCHECK_EQ(num_labels, other.num_labels);
  DCHECK(begin >= 0 && begin <= end && end <= other.size);
  if (begin == end) return;
  const int64_t f = num_cat_fields;
  if (offsets.empty()) offsets.push_back(0);
  // Keys.
  const int64_t key_begin = other.offsets[begin * f];
  const int64_t key_end = other.offsets[end * f];
  const int64_t shift = static_cast<int64_t>(keys.size()) - key_begin;
  keys.insert(keys.end(), other.keys.begin() + key_begin, other.keys.begin() + key_end);
  // Offsets: entries begin*f+1 .. end*f, rebased onto this batch's keys.
  const size_t old = offsets.size();
  offsets.resize(old + (end - begin) * f);
  const int64_t* src = other.offsets.data() + begin * f + 1;
  int64_t* dst = offsets.data() + old;
  for (int64_t j = 0, n = (end - begin) * f; j < n; ++j) dst[j] = src[j] + shift;
  // Per-row columns.
  dense.insert(dense.end(), other.dense.begin() + begin * num_dense,
               other.dense.begin() + end * num_dense);
  labels.insert(labels.end(), other.labels.begin() + begin * num_labels,
                other.labels.begin() + end * num_labels);
  scenario.insert(scenario.end(), other.scenario.begin() + begin, other.scenario.begin() + end);
  if (!other.instance_id.empty()) {
    instance_id.insert(instance_id.end(), other.instance_id.begin() + begin,
                       other.instance_id.begin() + end);
  }
  if (!other.oracle.empty()) {
    oracle.insert(oracle.end(), other.oracle.begin() + begin, other.oracle.begin() + end);
  }
  record.insert(record.end(), other.record.begin() + begin, other.record.begin() + end);
  size += end - begin;
}

void Batch::ClearRows() {
  size = 0;
  keys.clear();
  offsets.assign(1, 0);
  dense.clear();
  labels.clear();
  scenario.clear();
  instance_id.clear();
  oracle.clear();
  record.clear();
}

}  // namespace msrec
