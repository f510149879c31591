#include "parameter_server/internal/row_map.h"

#include <algorithm>
#include <cstring>

#include "common/hash.h"

namespace msrec {

RowMap::RowMap() : slots_(1024, Slot{0, nullptr, 0}) {}

size_t RowMap::Home(uint64_t key) const { return Mix64(key) & (slots_.size() - 1); }

const RowMap::Slot* RowMap::FindSlot(uint64_t key) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(key);; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.row == nullptr || slot.key == key) return &slot;
  }
}

char* RowMap::Allocate(size_t bytes) {
  bytes = (bytes + 7) & ~size_t{7};  // keep rows 8-byte aligned
  if (blocks_.empty() || block_used_ + bytes > block_size_) {
    block_size_ = std::max(kBlockBytes, bytes);
    blocks_.emplace_back(new char[block_size_]);
    block_used_ = 0;
  }
  char* p = blocks_.back().get() + block_used_;
  block_used_ += bytes;
  return p;
}

void RowMap::Put(uint64_t key, std::string_view row) {
  if (2 * (size_ + 1) > slots_.size()) Grow();
  Slot* slot = const_cast<Slot*>(FindSlot(key));
  if (slot->row == nullptr || slot->size != row.size()) {
    if (slot->row == nullptr) ++size_;
    slot->key = key;
    auto it = free_.find(static_cast<uint32_t>(row.size()));
    if (it != free_.end() && !it->second.empty()) {
      slot->row = it->second.back();
      it->second.pop_back();
    } else {
      slot->row = Allocate(std::max<size_t>(row.size(), 1));
    }
    slot->size = static_cast<uint32_t>(row.size());
  }
  std::memcpy(slot->row, row.data(), row.size());
}

bool RowMap::Erase(uint64_t key) {
  Slot* slot = const_cast<Slot*>(FindSlot(key));
  if (slot->row == nullptr) return false;
  free_[slot->size].push_back(slot->row);
  --size_;
  // Backward-shift deletion: move later entries of the probe run into the hole
  // when their home lies cyclically at or before it, so no tombstones are needed.
  const size_t mask = slots_.size() - 1;
  size_t hole = static_cast<size_t>(slot - slots_.data());
  for (size_t j = (hole + 1) & mask; slots_[j].row != nullptr; j = (j + 1) & mask) {
    const size_t home = Home(slots_[j].key);
    // The entry at j may move to `hole` iff home is not in (hole, j] cyclically.
    const bool home_after_hole = ((j - home) & mask) < ((j - hole) & mask);
    if (home_after_hole) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = Slot{0, nullptr, 0};
  return true;
}

void RowMap::Grow() {
  std::vector<Slot> old(slots_.size() * 2, Slot{0, nullptr, 0});
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.row == nullptr) continue;
    size_t i = Home(s.key);
    while (slots_[i].row != nullptr) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

size_t RowMap::MemoryBytes() const {
  size_t bytes = slots_.size() * sizeof(Slot);
  for (size_t b = 0; b + 1 < blocks_.size(); ++b) bytes += kBlockBytes;  // full blocks
  if (!blocks_.empty()) bytes += block_size_;
  return bytes;
}

std::vector<uint64_t> RowMap::Keys() const {
  std::vector<uint64_t> keys;
  keys.reserve(size_);
  for (const Slot& s : slots_) {
    if (s.row != nullptr) keys.push_back(s.key);
  }
  return keys;
}

}  // namespace msrec
