// RowMap: the hash map of MemoryStore. Open addressing (linear probing) over
// 24-byte slots, rows in a bump-pointer arena of large blocks, so a lookup
// touches one slot and one row and needs no allocation; Prefetch lets a batch
// lookup overlap the cache misses of several keys. Internal to
// parameter_server/ (used by memory_store.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace msrec {

// Thread safety: none (MemoryStore guards each map with a lock). Views
// returned by Find stay valid until the next Put of the same key.
class RowMap {
 public:
  RowMap();

  // The row of `key`; `found` false (and an empty view) when it has none.
  std::string_view Find(uint64_t key, bool* found) const {
    const Slot* slot = FindSlot(key);
    *found = slot->row != nullptr;
    return *found ? std::string_view(slot->row, slot->size) : std::string_view();
  }

  // Hints that `key` will be looked up soon: stage 0 prefetches its slot,
  // stage 1 (issue it a few keys later) its row.
  void PrefetchSlot(uint64_t key) const { __builtin_prefetch(&slots_[Home(key)]); }
  void PrefetchRow(uint64_t key) const {
    const Slot* slot = FindSlot(key);
    if (slot->row != nullptr) __builtin_prefetch(slot->row);
  }

  // Inserts or replaces. A row of the same size is overwritten in place;
  // another size takes the space of an erased row of that size or new arena
  // space (the old bytes are not reused: rows of one table normally all have
  // the same size).
  void Put(uint64_t key, std::string_view row);

  // Removes `key`; false if it had no row. The row's arena space goes to a
  // free list of its size and is reused by the next Put of a row that size.
  // Views of other keys stay valid.
  bool Erase(uint64_t key);

  size_t size() const { return size_; }

  // Bytes held: the slot array plus every arena block (erased rows included).
  size_t MemoryBytes() const;

  // All keys, in no particular order.
  std::vector<uint64_t> Keys() const;

 private:
  struct Slot {
    uint64_t key;
    char* row;  // null: empty slot
    uint32_t size;
  };
  static constexpr size_t kBlockBytes = size_t{64} << 20;

  size_t Home(uint64_t key) const;
  const Slot* FindSlot(uint64_t key) const;
  char* Allocate(size_t bytes);
  void Grow();

  std::vector<Slot> slots_;  // power-of-two size, at most half full
  size_t size_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_used_ = 0;                                  // bytes used in blocks_.back()
  size_t block_size_ = 0;                                  // size of blocks_.back()
  std::unordered_map<uint32_t, std::vector<char*>> free_;  // erased rows by size
};

}  // namespace msrec
