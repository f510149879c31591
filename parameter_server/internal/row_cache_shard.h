// RowCacheShard: one independently locked part of the row cache
// (cached_store.h): an open-addressing index of 32-byte slots (linear probing,
// backward-shift deletion, at most half full) whose rows live in a per-shard
// arena, and the CLOCK hand that chooses what to evict. A lookup touches one
// slot and one row and allocates nothing; a hit only sets a bit. Internal to
// cached_store.cc, which owns the locking, the reservations' meaning and the
// write-back.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/hash.h"

namespace msrec {

// One entry of the index: a cached row; a reservation (row null, token !=
// 0) of a lookup that is fetching the row from the backing store; or an
// absent entry (row null, kSlotAbsent): the backing store has no row for the
// key. An empty slot has flags 0 and row null. 32 bytes: two share a cache line and none
// straddles one.
struct CacheSlot {
  uint64_t key;
  char* row;       // the row's space in the shard's arena; null: no row
  uint32_t size;   // row bytes
  uint32_t table;  // table id
  uint32_t token;  // the reserving lookup's token; 0 once the row is there
  uint8_t flags;   // kSlot* bits
};
static_assert(sizeof(CacheSlot) == 32, "two slots per cache line");

inline constexpr uint8_t kSlotUsed = 1;        // the slot holds an entry (row or reservation)
inline constexpr uint8_t kSlotDirty = 2;       // the row is newer than the backing store's
inline constexpr uint8_t kSlotReferenced = 4;  // CLOCK bit: used since the hand passed
inline constexpr uint8_t kSlotVictim = 8;      // chosen by the eviction in progress
inline constexpr uint8_t kSlotAbsent = 16;     // the backing store has no row for the key

// Bookkeeping charged per entry besides its row: two index slots (the index
// is kept at most half full, so it really holds 2 to 4 slots per entry).
inline constexpr size_t kSlotCharge = 2 * sizeof(CacheSlot);

// Arena bytes of a row of `size` bytes: 8-byte aligned and at least 8 (a
// freed row holds its free-list link).
inline size_t ArenaBytes(uint32_t size) {
  return std::max<size_t>(8, (size + size_t{7}) & ~size_t{7});
}

// Prefetches the first two cache lines of a row: what a pull reads (row.h:
// header and weights) and the start of what a push reads, while more lines
// per key would crowd the prefetches of the keys ahead (measured).
inline void PrefetchRowBytes(const char* p, size_t size) {
  __builtin_prefetch(p);
  if (size > 64) __builtin_prefetch(p + 64);
}

// The row space of one shard: rows are carved from 1 MiB blocks by bumping a
// pointer; a freed row goes to a free list of its arena size (linked through
// its first 8 bytes) and is reused by the next row of that size (the rows of
// one table normally all have one size). Thread safety: none.
class RowArena {
 public:
  static constexpr size_t kBlockBytes = size_t{1} << 20;

  // Space for `bytes` (an ArenaBytes value): a freed row of that size, else new space.
  char* Allocate(size_t bytes) {
    auto it = free_.find(bytes);
    if (it != free_.end() && it->second != nullptr) {
      char* p = it->second;
      std::memcpy(&it->second, p, sizeof(char*));
      free_bytes_ -= bytes;
      return p;
    }
    if (block_used_ + bytes > block_size_) {
      block_size_ = std::max(kBlockBytes, bytes);
      blocks_.emplace_back(new char[block_size_]);
      block_used_ = 0;
      total_bytes_ += block_size_;
    }
    char* p = blocks_.back().get() + block_used_;
    block_used_ += bytes;
    return p;
  }

  // Whether Allocate(bytes) would take a new block.
  bool NeedsBlock(size_t bytes) const {
    auto it = free_.find(bytes);
    return (it == free_.end() || it->second == nullptr) && block_used_ + bytes > block_size_;
  }

  void Free(char* p, size_t bytes) {
    char*& head = free_[bytes];
    std::memcpy(p, &head, sizeof(char*));
    head = p;
    free_bytes_ += bytes;
  }

  size_t total_bytes() const { return total_bytes_; }
  size_t free_bytes() const { return free_bytes_; }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_used_ = 0;                   // bytes used in blocks_.back()
  size_t block_size_ = 0;                   // size of blocks_.back()
  size_t total_bytes_ = 0;                  // all blocks
  size_t free_bytes_ = 0;                   // rows on the free lists
  std::unordered_map<size_t, char*> free_;  // arena size -> head of its free list
};

// Thread safety: `mu` guards everything else; every method needs it held.
// Slot pointers stay valid until the next Claim (the index may grow) or
// Erase; row pointers until the next PutRow (the arena may compact) or Erase
// of that entry.
struct alignas(64) RowCacheShard {
  std::mutex mu;
  static constexpr size_t kInitialSlots = 16;
  std::vector<CacheSlot> slots =
      std::vector<CacheSlot>(kInitialSlots, CacheSlot{0, nullptr, 0, 0, 0, 0});
  RowArena arena;
  size_t used = 0;      // entries: rows, reservations and absent entries
  size_t reserved = 0;  // reservations
  size_t absent = 0;    // absent entries
  size_t dirty = 0;     // rows flagged dirty
  size_t bytes = 0;     // charged bytes: kSlotCharge per entry + ArenaBytes per row
  size_t hand = 0;      // the slot CLOCK looks at next
  uint32_t last_token = 0;

  // Drops every row and slot and returns their memory (no reservation may be
  // outstanding).
  void Reset() {
    std::vector<CacheSlot>(kInitialSlots, CacheSlot{0, nullptr, 0, 0, 0, 0}).swap(slots);
    arena = RowArena();
    used = reserved = absent = dirty = bytes = hand = 0;
  }

  // Every key comes with its hash, Mix64(key), which also picked its shard;
  // the home slot uses bits above the shard's (the shard takes it modulo
  // the shard count).
  size_t Home(uint32_t table, uint64_t hash) const {
    return ((hash >> 16) ^ (uint64_t{table} * 0x9E3779B97F4A7C15ULL)) & (slots.size() - 1);
  }

  // The entry of (table, key), or the empty slot where it would go.
  CacheSlot* Find(uint32_t table, uint64_t key, uint64_t hash) {
    const size_t mask = slots.size() - 1;
    for (size_t i = Home(table, hash);; i = (i + 1) & mask) {
      CacheSlot& s = slots[i];
      if (s.flags == 0 || (s.key == key && s.table == table)) return &s;
    }
  }

  // Hints for a batch: stage 0 the slot of a key, stage 1 (a few keys later) its row.
  void PrefetchSlot(uint32_t table, uint64_t hash) const {
    __builtin_prefetch(&slots[Home(table, hash)]);
  }
  void PrefetchRow(uint32_t table, uint64_t key, uint64_t hash) {
    const CacheSlot* s = Find(table, key, hash);
    // GCC counts a prefetch as no side effect and drops a probe loop that has
    // none (-ffinite-loops): this empty asm keeps the probe, so the prefetch.
    asm volatile("" : : "r"(s));
    if (s->row != nullptr) PrefetchRowBytes(s->row, s->size);
  }

  // Makes the empty slot `empty` (from Find) an entry without a row, charged
  // kSlotCharge. The index may grow meanwhile: use the returned slot.
  CacheSlot* Claim(CacheSlot* empty, uint32_t table, uint64_t key, uint64_t hash) {
    if (2 * (used + 1) > slots.size()) {
      Grow();
      empty = Find(table, key, hash);
    }
    *empty = CacheSlot{key, nullptr, 0, table, 0, kSlotUsed};
    ++used;
    bytes += kSlotCharge;
    return empty;
  }

  // Whether `s` is a reservation (an entry whose row is being fetched).
  static bool IsReservation(const CacheSlot& s) {
    return s.row == nullptr && (s.flags & kSlotAbsent) == 0;
  }

  // Makes the reservation `s` an absent entry (the fetch found no row).
  void MarkAbsent(CacheSlot* s) {
    s->flags |= kSlotAbsent;
    s->token = 0;
    --reserved;
    ++absent;
  }

  // Stores `row` in the entry `s` (a row, a reservation or an absent entry;
  // the caller settles a reservation's count): in place when its arena size
  // is unchanged.
  void PutRow(CacheSlot* s, std::string_view row) {
    if (s->flags & kSlotAbsent) {
      s->flags &= ~kSlotAbsent;
      --absent;
    }
    const auto size = static_cast<uint32_t>(row.size());
    if (s->row == nullptr || ArenaBytes(s->size) != ArenaBytes(size)) {
      if (s->row != nullptr) {
        arena.Free(s->row, ArenaBytes(s->size));
        bytes -= ArenaBytes(s->size);
        s->row = nullptr;  // so that a compaction does not copy it
      }
      s->row = AllocateRow(size);
      bytes += ArenaBytes(size);
    }
    s->size = size;
    std::memcpy(s->row, row.data(), size);
  }

  // Removes the entry `s` and frees its row. Other slots may move.
  void Erase(CacheSlot* s) {
    bytes -= kSlotCharge;
    if (s->row != nullptr) {
      arena.Free(s->row, ArenaBytes(s->size));
      bytes -= ArenaBytes(s->size);
    } else if (s->flags & kSlotAbsent) {
      --absent;
    } else {
      --reserved;
    }
    if (s->flags & kSlotDirty) --dirty;
    --used;
    // Backward shift: later entries of the probe run move into the hole when
    // their home lies cyclically at or before it, so no tombstones are needed.
    const size_t mask = slots.size() - 1;
    size_t hole = static_cast<size_t>(s - slots.data());
    for (size_t j = (hole + 1) & mask; slots[j].flags != 0; j = (j + 1) & mask) {
      const size_t home = Home(slots[j].table, Mix64(slots[j].key));
      if (((j - home) & mask) < ((j - hole) & mask)) continue;  // home in (hole, j]
      slots[hole] = slots[j];
      hole = j;
    }
    slots[hole] = CacheSlot{0, nullptr, 0, 0, 0, 0};
  }

  // CLOCK: moves the hand on, clearing set reference bits and flagging the
  // entries whose bit is clear as victims (fn(slot) is called for each), until
  // the victims' charges would bring `bytes` down to `budget` or the hand has
  // gone round twice (rows and absent entries are chosen, reservations never).
  // Returns the victims' charge.
  template <typename Fn>
  size_t ChooseVictims(size_t budget, Fn&& fn) {
    size_t freed = 0;
    const size_t mask = slots.size() - 1;
    for (size_t step = 0; step < 2 * slots.size() && bytes - freed > budget; ++step) {
      CacheSlot& s = slots[hand];
      hand = (hand + 1) & mask;
      if (s.flags == 0 || IsReservation(s) || (s.flags & kSlotVictim)) continue;
      if (s.flags & kSlotReferenced) {
        s.flags &= ~kSlotReferenced;
        continue;
      }
      s.flags |= kSlotVictim;
      freed += kSlotCharge + (s.row != nullptr ? ArenaBytes(s.size) : 0);
      fn(&s);
    }
    return freed;
  }

  uint32_t NextToken() {
    if (++last_token == 0) ++last_token;  // 0 means "not reserved"
    return last_token;
  }

 private:
  char* AllocateRow(uint32_t size) {
    const size_t need = ArenaBytes(size);
    // Rows of sizes no longer written leave free space that nothing reuses:
    // once it is over half the arena, the live rows move to a fresh one.
    if (arena.NeedsBlock(need) && 2 * arena.free_bytes() > arena.total_bytes()) Compact();
    return arena.Allocate(need);
  }

  void Compact() {
    RowArena fresh;
    for (CacheSlot& s : slots) {
      if (s.row == nullptr) continue;
      char* p = fresh.Allocate(ArenaBytes(s.size));
      std::memcpy(p, s.row, s.size);
      s.row = p;
    }
    arena = std::move(fresh);
  }

  void Grow() {
    std::vector<CacheSlot> old(slots.size() * 2, CacheSlot{0, nullptr, 0, 0, 0, 0});
    old.swap(slots);
    const size_t mask = slots.size() - 1;
    for (const CacheSlot& s : old) {
      if (s.flags == 0) continue;
      size_t i = Home(s.table, Mix64(s.key));
      while (slots[i].flags != 0) i = (i + 1) & mask;
      slots[i] = s;
    }
  }
};

}  // namespace msrec
