#include "parameter_server/cached_store.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/hash.h"
#include "parameter_server/internal/row_cache_shard.h"
#include "parameter_server/internal/write_behind.h"

namespace msrec {
namespace {

// Batch loops prefetch the index slot of the key this far ahead and its row
// half as far, so the cache misses of several keys overlap.
constexpr size_t kSlotAhead = 16;
constexpr size_t kRowAhead = 8;

// The dirty rows of one table to write to the backing store.
struct Batch {
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  std::vector<CacheSlot*> slots;
};

// What Scratch::hit holds for an absent entry's key (the backing store has
// no row): not null, so the key is neither a miss nor copied.
const char kAbsentMark[1] = {0};
const std::string_view kAbsentHit(kAbsentMark, 0);

// Per-request buffers, pooled so that the steady state allocates nothing.
struct Scratch {
  // Per position: Mix64(key) and the key's shard.
  std::vector<uint64_t> hash;
  std::vector<uint16_t> shard_of;
  std::vector<uint8_t> touched;  // per shard: holds one of the keys
  // MultiGetVisit's misses grouped by shard (see GroupMisses).
  std::vector<uint32_t> begin;
  std::vector<uint32_t> order;
  std::vector<uint32_t> cursor;
  // MultiGetVisit, from the first miss on. Per position: the cached row
  // (data() null: a miss; kAbsentHit: an absent entry), in the arena while
  // the shards are locked, then copied to hit_bytes.
  std::vector<std::string_view> hit;
  std::vector<char> hit_bytes;
  // Per position of a miss: what the backing store answered, and a found
  // row's (offset, size) in fetched_bytes.
  enum : uint8_t { kUnanswered, kFound, kAbsent };
  std::vector<uint8_t> fetched;
  std::vector<std::pair<size_t, size_t>> fetched_span;
  std::vector<char> fetched_bytes;
  size_t fetched_used = 0;
  std::vector<uint32_t> tokens;  // per shard: the token of this request's reservations
  std::vector<uint64_t> miss_keys;  // the keys asked of the backing store,
  std::vector<uint32_t> miss_pos;   // and their positions
  // Positions of every miss, ascending: those asked of the backing store and
  // those found in the write-behind (all reserved, all filled).
  std::vector<uint32_t> fill_pos;

  // Heap bytes held (the per-position vectors and the row copies).
  size_t bytes() const {
    return hash.capacity() * sizeof(uint64_t) + hit.capacity() * sizeof(std::string_view) +
           fetched_span.capacity() * sizeof(fetched_span[0]) + hit_bytes.capacity() +
           fetched_bytes.capacity();
  }

  // Copies the hits of positions [from, n) out of the arena.
  void CopyHits(size_t from, size_t n) {
    size_t total = 0;
    for (size_t i = from; i < n; ++i) total += hit[i].size();
    if (hit_bytes.size() < total) hit_bytes.resize(total);
    char* p = hit_bytes.data();
    for (size_t i = from; i < n; ++i) {
      if (hit[i].data() == nullptr || hit[i].data() == kAbsentMark) continue;
      std::memcpy(p, hit[i].data(), hit[i].size());
      hit[i] = std::string_view(p, hit[i].size());
      p += hit[i].size();
    }
  }
  void KeepFetched(uint32_t i, std::string_view row) {
    if (fetched_used + row.size() > fetched_bytes.size()) {
      fetched_bytes.resize(std::max(2 * fetched_bytes.size(), fetched_used + row.size()));
    }
    std::memcpy(fetched_bytes.data() + fetched_used, row.data(), row.size());
    fetched_span[i] = {fetched_used, row.size()};
    fetched_used += row.size();
  }
  std::string_view Fetched(uint32_t i) const {
    return {fetched_bytes.data() + fetched_span[i].first, fetched_span[i].second};
  }
};

// Flush and the like write dirty rows back in backing Writes of at most this
// many rows (per table): all of them at once would need a copy of every dirty
// row (and RocksDB a write batch as large) on top of the cache.
constexpr size_t kWriteBackChunk = 65536;

// A Scratch that grew past this is freed instead of pooled (one huge request
// must not pin its buffers).
constexpr size_t kMaxPooledScratchBytes = size_t{64} << 20;

// Shard locks taken in ascending shard order (the order of every caller that
// holds several), released together.
class ShardLocks {
 public:
  ShardLocks() = default;
  ShardLocks(const ShardLocks&) = delete;
  ShardLocks& operator=(const ShardLocks&) = delete;
  ~ShardLocks() {
    for (RowCacheShard* shard : locked_) shard->mu.unlock();
  }
  void Lock(RowCacheShard* shard) {
    shard->mu.lock();
    locked_.push_back(shard);
  }
  const std::vector<RowCacheShard*>& shards() const { return locked_; }

 private:
  std::vector<RowCacheShard*> locked_;
};

class CachedStoreImpl : public CachedStore {
 public:
  CachedStoreImpl(std::unique_ptr<EmbeddingStore> backing, const RowCacheOptions& options)
      : backing_(std::move(backing)),
        capacity_(options.capacity_bytes),
        num_shards_(static_cast<uint32_t>(options.shards)),
        shards_pow2_((num_shards_ & (num_shards_ - 1)) == 0),
        shard_budget_((options.capacity_bytes - options.write_behind_bytes) / options.shards),
        shards_(new RowCacheShard[options.shards]) {
    for (const std::string& name : backing_->TableNames()) Register(name);
    if (options.write_behind_bytes > 0) {
      write_behind_ = std::make_unique<WriteBehind>(
          backing_.get(), options.write_behind_bytes,
          [this](uint32_t id) { return TableName(id); });
    }
  }

  ~CachedStoreImpl() override {
    Status s = WriteBackDirty();
    if (!s.ok()) LOG(ERROR) << "closing the row cache: " << s.ToString();
  }

  Status CreateTable(const std::string& table) override {
    MSREC_RETURN_IF_ERROR(backing_->CreateTable(table));
    std::unique_lock<std::shared_mutex> lock(tables_mu_);
    if (ids_.count(table) == 0) RegisterLocked(table);
    return Status::OK();
  }

  // The table's cached rows are dropped, dirty or not (nothing is written
  // back), then the backing store drops the table.
  Status DropTable(const std::string& table) override {
    MSREC_ASSIGN_OR_RETURN(const uint32_t id, FindTable(table));
    EraseCachedRows(id);
    MSREC_RETURN_IF_ERROR(DrainWriteBehind());  // its evicted rows too, before the table goes
    {
      std::unique_lock<std::shared_mutex> lock(tables_mu_);
      ids_.erase(table);  // the id is not reused: a table created again gets a new one
    }
    return backing_->DropTable(table);
  }

  // The loaded rows replace rows the cache may hold: the table's dirty rows
  // are written back and its cached rows dropped before the backing store's
  // writer starts.
  Result<std::unique_ptr<BulkWriter>> NewBulkWriter(const std::string& table) override {
    MSREC_ASSIGN_OR_RETURN(const uint32_t id, FindTable(table));
    MSREC_RETURN_IF_ERROR(WriteBackDirty());
    EraseCachedRows(id);
    return backing_->NewBulkWriter(table);
  }

  std::vector<std::string> TableNames() const override { return backing_->TableNames(); }

  Status MultiGetVisit(const std::string& table, const uint64_t* keys, size_t n, bool sorted,
                       const RowVisitor& fn) const override;
  Status Write(const std::string& table, const uint64_t* keys, size_t n,
               const std::string* rows) override;
  Status Delete(const std::string& table, const uint64_t* keys, size_t n) override;

  Status Flush() override {
    MSREC_RETURN_IF_ERROR(WriteBackDirty());
    return backing_->Flush();
  }

  // Shard by shard: its dirty rows are written back, then its rows dropped,
  // so the process never holds the whole cache and the memtables that take
  // it in at once (that sum set the embedded RocksDB run's peak RSS).
  Status Close() override {
    for (uint32_t sh = 0; sh < num_shards_; ++sh) {
      RowCacheShard& s = shards_[sh];
      std::lock_guard<std::mutex> lock(s.mu);
      // Older rows of this shard's keys, evicted before the lock was taken,
      // reach the backing store before the newer ones below.
      MSREC_RETURN_IF_ERROR(DrainWriteBehind());
      std::map<uint32_t, Batch> batches;
      MSREC_RETURN_IF_ERROR(CollectDirtyLocked(&s, &batches));
      MSREC_RETURN_IF_ERROR(WriteBatches(batches));
      if (s.reserved == 0) {
        s.Reset();
      } else {
        s.dirty = 0;  // all written back
      }
    }
    return backing_->Flush();
  }

  Status ForEach(const std::string& table,
                 const std::function<bool(uint64_t, std::string_view)>& fn) const override {
    MSREC_RETURN_IF_ERROR(WriteBackDirty());
    return backing_->ForEach(table, fn);
  }

  Result<uint64_t> Count(const std::string& table) const override {
    MSREC_RETURN_IF_ERROR(WriteBackDirty());
    return backing_->Count(table);
  }

  Status CheckpointTo(const std::string& dir) override {
    MSREC_RETURN_IF_ERROR(WriteBackDirty());
    return backing_->CheckpointTo(dir);
  }

  Result<uint64_t> MemoryUsageBytes() const override {
    MSREC_ASSIGN_OR_RETURN(uint64_t backing_bytes, backing_->MemoryUsageBytes());
    return backing_bytes + stats().bytes_used;
  }

  std::string StatsText() const override {
    const Stats s = stats();
    char line[320];
    int len = std::snprintf(line, sizeof(line),
                            "row cache %.0f MiB of %.0f (%llu rows, %llu absent, hit rate %.3f), ",
                            s.bytes_used / 1048576.0, s.capacity_bytes / 1048576.0,
                            static_cast<unsigned long long>(s.rows),
                            static_cast<unsigned long long>(s.absent), s.hit_rate);
    if (write_behind_ != nullptr) {
      std::snprintf(line + len, sizeof(line) - len,
                    "write-behind %.1f MiB (%llu rows, %llu misses answered, waited %.1f s), ",
                    s.write_behind_bytes / 1048576.0,
                    static_cast<unsigned long long>(s.write_behind_rows),
                    static_cast<unsigned long long>(s.write_behind_hits), s.write_behind_wait_s);
    }
    return line + backing_->StatsText();
  }

  Status Prefetch(const std::string& table, const uint64_t* keys, size_t n,
                  bool sorted) override {
    return MultiGetVisit(table, keys, n, sorted,
                         [](size_t, bool, std::string_view) { return Status::OK(); });
  }

  Stats stats() const override;

 private:
  // A Scratch from the pool for the duration of one call.
  class ScratchLease {
   public:
    explicit ScratchLease(const CachedStoreImpl* store) : store_(store) {
      std::lock_guard<std::mutex> lock(store_->pool_mu_);
      if (store_->pool_.empty()) {
        scratch_ = std::make_unique<Scratch>();
      } else {
        scratch_ = std::move(store_->pool_.back());
        store_->pool_.pop_back();
      }
      scratch_->fetched_used = 0;
    }
    ~ScratchLease() {
      if (scratch_->bytes() > kMaxPooledScratchBytes) return;
      std::lock_guard<std::mutex> lock(store_->pool_mu_);
      store_->pool_.push_back(std::move(scratch_));
    }
    Scratch* operator->() const { return scratch_.get(); }
    Scratch* get() const { return scratch_.get(); }

   private:
    const CachedStoreImpl* store_;
    std::unique_ptr<Scratch> scratch_;
  };

  // Drops every cached row of table `id`, dirty or not.
  void EraseCachedRows(uint32_t id) {
    for (uint32_t sh = 0; sh < num_shards_; ++sh) {
      RowCacheShard& s = shards_[sh];
      std::lock_guard<std::mutex> lock(s.mu);
      std::vector<uint64_t> keys;
      for (const CacheSlot& slot : s.slots) {
        if (slot.flags != 0 && slot.table == id) keys.push_back(slot.key);
      }
      // Erasing shifts slots, so each key is looked up again.
      for (uint64_t key : keys) s.Erase(s.Find(id, key, Mix64(key)));
    }
  }

  void Register(const std::string& table) {
    std::unique_lock<std::shared_mutex> lock(tables_mu_);
    RegisterLocked(table);
  }
  void RegisterLocked(const std::string& table) {
    ids_[table] = static_cast<uint32_t>(names_.size());
    names_.push_back(table);
  }

  Result<uint32_t> FindTable(const std::string& table) const {
    std::shared_lock<std::shared_mutex> lock(tables_mu_);
    auto it = ids_.find(table);
    if (it == ids_.end()) return Status::NotFound("row cache: no table '" + table + "'");
    return it->second;
  }

  // The name of table `id` (names_ is a deque: the reference stays valid).
  const std::string& TableName(uint32_t id) const {
    std::shared_lock<std::shared_mutex> lock(tables_mu_);
    return names_[id];
  }

  // Mix64(key) % shards, without a division when the count is a power of two.
  uint32_t ShardOf(uint64_t hash) const {
    return static_cast<uint32_t>(shards_pow2_ ? hash & (num_shards_ - 1) : hash % num_shards_);
  }
  void HashKeys(const uint64_t* keys, size_t n, Scratch* sc) const;
  // Prefetches the index slot kSlotAhead keys after key i and the row
  // kRowAhead keys after it (keys hashed by HashKeys into `sc`).
  void PrefetchAhead(uint32_t id, const uint64_t* keys, size_t i, size_t n,
                     const Scratch& sc) const;
  void LockShards(Scratch* sc, ShardLocks* locks) const;
  void GroupMisses(Scratch* sc) const;

  size_t LookupLocked(uint32_t id, const uint64_t* keys, size_t n, const RowVisitor& fn,
                      Scratch* sc, Status* status) const;
  Status FetchMisses(const std::string& table, size_t first_miss, size_t n, bool sorted,
                     const RowVisitor& fn, Scratch* sc) const;
  void FillShard(uint32_t shard, uint32_t table, const uint64_t* keys, Scratch* sc) const;
  Status CollectDirtyLocked(RowCacheShard* s, std::map<uint32_t, Batch>* batches) const;
  Status WriteBatch(uint32_t table, const Batch& batch) const;
  Status WriteBatches(const std::map<uint32_t, Batch>& batches) const;
  Status EvictShardsLocked(const std::vector<RowCacheShard*>& shards) const;
  Status WriteBackDirty() const;
  // Waits until the write-behind thread has written every row handed to it
  // (OK at once without write-behind).
  Status DrainWriteBehind() const {
    return write_behind_ == nullptr ? Status::OK() : write_behind_->Drain();
  }

  const std::unique_ptr<EmbeddingStore> backing_;
  const size_t capacity_;
  const uint32_t num_shards_;
  const bool shards_pow2_;
  const size_t shard_budget_;
  // The cache is logically part of the store's state, not of its value: const
  // methods (lookups, scans) update it.
  const std::unique_ptr<RowCacheShard[]> shards_;
  mutable std::shared_mutex tables_mu_;
  std::map<std::string, uint32_t> ids_;  // guarded by tables_mu_
  std::deque<std::string> names_;        // guarded by tables_mu_; index = table id
  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Scratch>> pool_;  // guarded by pool_mu_
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
  mutable std::atomic<uint64_t> evictions_{0};
  mutable std::atomic<uint64_t> write_backs_{0};
  mutable std::atomic<uint64_t> write_back_batches_{0};
  mutable std::atomic<uint64_t> write_behind_hits_{0};
  // Null without write-behind. Declared after backing_: destroyed before it.
  std::unique_ptr<WriteBehind> write_behind_;
};

void CachedStoreImpl::HashKeys(const uint64_t* keys, size_t n, Scratch* sc) const {
  sc->hash.resize(n);
  sc->shard_of.resize(n);
  for (size_t i = 0; i < n; ++i) {
    sc->hash[i] = Mix64(keys[i]);
    sc->shard_of[i] = static_cast<uint16_t>(ShardOf(sc->hash[i]));
  }
}

void CachedStoreImpl::PrefetchAhead(uint32_t id, const uint64_t* keys, size_t i, size_t n,
                                    const Scratch& sc) const {
  if (i + kSlotAhead < n) {
    shards_[sc.shard_of[i + kSlotAhead]].PrefetchSlot(id, sc.hash[i + kSlotAhead]);
  }
  if (i + kRowAhead < n) {
    shards_[sc.shard_of[i + kRowAhead]].PrefetchRow(id, keys[i + kRowAhead], sc.hash[i + kRowAhead]);
  }
}

// Locks every shard that holds one of the hashed keys, ascending.
void CachedStoreImpl::LockShards(Scratch* sc, ShardLocks* locks) const {
  sc->touched.assign(num_shards_, 0);
  for (uint16_t s : sc->shard_of) sc->touched[s] = 1;
  for (uint32_t s = 0; s < num_shards_; ++s) {
    if (sc->touched[s]) locks->Lock(&shards_[s]);
  }
}

// Groups the misses (fill_pos) by shard: order[begin[s] .. begin[s+1]) are
// the positions of shard s's misses, ascending.
void CachedStoreImpl::GroupMisses(Scratch* sc) const {
  sc->begin.assign(num_shards_ + 1, 0);
  for (uint32_t i : sc->fill_pos) ++sc->begin[sc->shard_of[i] + 1];
  for (uint32_t s = 0; s < num_shards_; ++s) sc->begin[s + 1] += sc->begin[s];
  sc->order.resize(sc->fill_pos.size());
  sc->cursor.assign(sc->begin.begin(), sc->begin.end() - 1);
  for (uint32_t i : sc->fill_pos) sc->order[sc->cursor[sc->shard_of[i]]++] = i;
}

// Under the locks of the request's shards, one pass over the keys in request
// order: hits are visited where they lie until the first miss; from there on
// hits are noted and misses reserved. Returns the first miss (n: none);
// `*status` is the visitor's error, which ends the pass (before any miss).
size_t CachedStoreImpl::LookupLocked(uint32_t id, const uint64_t* keys, size_t n,
                                     const RowVisitor& fn, Scratch* sc, Status* status) const {
  size_t first_miss = n;
  uint64_t hits = 0, misses = 0;
  for (size_t i = 0; i < n && status->ok(); ++i) {
    PrefetchAhead(id, keys, i, n, *sc);
    RowCacheShard& s = shards_[sc->shard_of[i]];
    CacheSlot* slot = s.Find(id, keys[i], sc->hash[i]);
    // A row, or an absent entry (known to have no row: no backing lookup).
    if (slot->row != nullptr || (slot->flags & kSlotAbsent)) {
      ++hits;
      if (!(slot->flags & kSlotReferenced)) slot->flags |= kSlotReferenced;
      const bool found = slot->row != nullptr;
      const std::string_view row = found ? std::string_view(slot->row, slot->size) : kAbsentHit;
      if (first_miss == n) {
        *status = fn(i, found, found ? row : std::string_view());
      } else {
        sc->hit[i] = row;
      }
      continue;
    }
    ++misses;
    if (first_miss == n) first_miss = i;
    sc->hit[i] = std::string_view();
    if (slot->flags == 0) {
      slot = s.Claim(slot, id, keys[i], sc->hash[i]);
      ++s.reserved;
    }
    // Also on another lookup's reservation: the latest lookup fills it.
    slot->token = sc->tokens[sc->shard_of[i]];
  }
  hits_ += hits;
  misses_ += misses;
  return first_miss;
}

// The locked pass (LookupLocked); then, if there were misses, the hits after
// the first one are copied out, the locks released, the misses fetched with
// one backing MultiGetVisit and inserted.
Status CachedStoreImpl::MultiGetVisit(const std::string& table, const uint64_t* keys, size_t n,
                                      bool sorted, const RowVisitor& fn) const {
  MSREC_ASSIGN_OR_RETURN(const uint32_t id, FindTable(table));
  if (n == 0) return Status::OK();
  ScratchLease sc(this);
  HashKeys(keys, n, sc.get());
  sc->hit.resize(n);
  sc->tokens.resize(num_shards_);
  size_t first_miss = n;
  {
    ShardLocks locks;
    LockShards(sc.get(), &locks);
    for (RowCacheShard* s : locks.shards()) sc->tokens[s - shards_.get()] = s->NextToken();
    Status status;
    first_miss = LookupLocked(id, keys, n, fn, sc.get(), &status);
    if (first_miss == n || !status.ok()) return status;  // nothing reserved
    sc->CopyHits(first_miss, n);
  }
  sc->fetched.assign(n, Scratch::kUnanswered);
  sc->fetched_span.resize(n);
  sc->miss_keys.clear();
  sc->miss_pos.clear();
  sc->fill_pos.clear();
  uint64_t write_behind_hits = 0;
  for (size_t i = first_miss; i < n; ++i) {
    if (sc->hit[i].data() != nullptr) continue;
    sc->fill_pos.push_back(static_cast<uint32_t>(i));
    // An evicted row not yet written back is newer than the backing store's.
    if (write_behind_ != nullptr &&
        write_behind_->Find(id, keys[i], [&](std::string_view row) { sc->KeepFetched(i, row); })) {
      sc->fetched[i] = Scratch::kFound;
      ++write_behind_hits;
      continue;
    }
    sc->miss_keys.push_back(keys[i]);
    sc->miss_pos.push_back(static_cast<uint32_t>(i));
  }
  write_behind_hits_ += write_behind_hits;
  Status status = FetchMisses(table, first_miss, n, sorted, fn, sc.get());
  GroupMisses(sc.get());
  for (uint32_t s = 0; s < num_shards_; ++s) {
    if (sc->begin[s] == sc->begin[s + 1]) continue;
    FillShard(s, id, keys, sc.get());
  }
  // The filled shards are trimmed together: their write-backs go to the
  // backing store as one batch (EvictShardsLocked).
  ShardLocks locks;
  for (uint32_t s = 0; s < num_shards_; ++s) {
    if (sc->begin[s] != sc->begin[s + 1]) locks.Lock(&shards_[s]);
  }
  Status evict = EvictShardsLocked(locks.shards());
  return status.ok() ? evict : status;
}

// With no shard locked: asks the backing store for the misses (none if the
// write-behind held them all) and visits positions first_miss .. n-1 in
// request order, the hits (and rows found in the write-behind) before each
// miss, then the miss.
Status CachedStoreImpl::FetchMisses(const std::string& table, size_t first_miss, size_t n,
                                    bool sorted, const RowVisitor& fn, Scratch* sc) const {
  size_t next = first_miss;
  auto visit_hits_until = [&](size_t end) -> Status {
    for (; next < end; ++next) {
      const std::string_view hit = sc->hit[next];
      if (hit.data() == kAbsentMark) {
        MSREC_RETURN_IF_ERROR(fn(next, false, std::string_view()));
      } else if (hit.data() != nullptr) {
        MSREC_RETURN_IF_ERROR(fn(next, true, hit));
      } else if (sc->fetched[next] == Scratch::kFound) {
        MSREC_RETURN_IF_ERROR(fn(next, true, sc->Fetched(next)));
      }
    }
    return Status::OK();
  };
  if (sc->miss_keys.empty()) return visit_hits_until(n);
  MSREC_RETURN_IF_ERROR(
      backing_->MultiGetVisit(table, sc->miss_keys.data(), sc->miss_keys.size(), sorted,
                              [&](size_t j, bool found, std::string_view row) {
                                const uint32_t i = sc->miss_pos[j];
                                MSREC_RETURN_IF_ERROR(visit_hits_until(i));
                                next = i + 1;
                                sc->fetched[i] = found ? Scratch::kFound : Scratch::kAbsent;
                                if (found) sc->KeepFetched(i, row);
                                return fn(i, found, row);
                              }));
  return visit_hits_until(n);
}

// Under the shard lock: fills the reservations of the grouped misses still
// held by this call (found rows become clean entries, keys the backing store
// has no row for become absent entries, so that the next lookups of a new
// key, a step's pull and push after its prefetch, do not ask the backing
// store again; unanswered ones are dropped). The caller trims the shard.
void CachedStoreImpl::FillShard(uint32_t shard, uint32_t table, const uint64_t* keys,
                                Scratch* sc) const {
  RowCacheShard& s = shards_[shard];
  std::lock_guard<std::mutex> lock(s.mu);
  for (uint32_t k = sc->begin[shard]; k < sc->begin[shard + 1]; ++k) {
    const uint32_t i = sc->order[k];
    CacheSlot* slot = s.Find(table, keys[i], sc->hash[i]);
    if (slot->flags == 0 || slot->token != sc->tokens[shard]) continue;
    if (sc->fetched[i] == Scratch::kFound) {
      s.PutRow(slot, sc->Fetched(i));
      slot->token = 0;
      slot->flags |= kSlotReferenced;
      --s.reserved;
    } else if (sc->fetched[i] == Scratch::kAbsent) {
      s.MarkAbsent(slot);
      slot->flags |= kSlotReferenced;
    } else {
      s.Erase(slot);
    }
  }
}

// One pass over the keys in request order with every shard of the request
// locked, then each shard is trimmed to its budget.
Status CachedStoreImpl::Write(const std::string& table, const uint64_t* keys, size_t n,
                              const std::string* rows) {
  MSREC_ASSIGN_OR_RETURN(const uint32_t id, FindTable(table));
  if (n == 0) return Status::OK();
  ScratchLease sc(this);
  HashKeys(keys, n, sc.get());
  ShardLocks locks;
  LockShards(sc.get(), &locks);
  for (size_t i = 0; i < n; ++i) {
    PrefetchAhead(id, keys, i, n, *sc.get());
    RowCacheShard& s = shards_[sc->shard_of[i]];
    CacheSlot* slot = s.Find(id, keys[i], sc->hash[i]);
    if (slot->flags == 0) {
      slot = s.Claim(slot, id, keys[i], sc->hash[i]);
    } else if (RowCacheShard::IsReservation(*slot)) {
      --s.reserved;  // a pending fetch: clearing its token keeps it from overwriting this row
    }
    s.PutRow(slot, rows[i]);
    slot->token = 0;
    if (!(slot->flags & kSlotDirty)) ++s.dirty;
    slot->flags |= kSlotDirty | kSlotReferenced;
  }
  return EvictShardsLocked(locks.shards());
}

Status CachedStoreImpl::Delete(const std::string& table, const uint64_t* keys, size_t n) {
  MSREC_ASSIGN_OR_RETURN(const uint32_t id, FindTable(table));
  ScratchLease sc(this);
  HashKeys(keys, n, sc.get());
  // The shards stay locked until the backing store has deleted the rows, so
  // no concurrent miss can bring a deleted row back.
  ShardLocks locks;
  LockShards(sc.get(), &locks);
  for (size_t i = 0; i < n; ++i) {
    RowCacheShard& s = shards_[sc->shard_of[i]];
    CacheSlot* slot = s.Find(id, keys[i], sc->hash[i]);
    if (slot->flags != 0) s.Erase(slot);
  }
  // Evicted rows of these keys must not reach the backing store after the
  // delete.
  MSREC_RETURN_IF_ERROR(DrainWriteBehind());
  return backing_->Delete(table, keys, n);
}

// Writes `batch` of table `table` with one backing Write and marks its slots
// clean. Callers hold the locks of the slots' shards and fix the shards'
// dirty counts.
Status CachedStoreImpl::WriteBatch(uint32_t table, const Batch& batch) const {
  MSREC_RETURN_IF_ERROR(
      backing_->Write(TableName(table), batch.keys.data(), batch.keys.size(), batch.rows.data())
          .WithContext("row cache write-back"));
  write_backs_ += batch.keys.size();
  ++write_back_batches_;
  for (CacheSlot* slot : batch.slots) slot->flags &= ~kSlotDirty;
  return Status::OK();
}

// WriteBatch for each table's batch; stops at the first failure (later
// batches stay dirty).
Status CachedStoreImpl::WriteBatches(const std::map<uint32_t, Batch>& batches) const {
  for (const auto& [table, batch] : batches) MSREC_RETURN_IF_ERROR(WriteBatch(table, batch));
  return Status::OK();
}

// Under the locks of `shards`: lets CLOCK choose victims in each until it fits
// its budget, writes the dirty ones back, then evicts them. The dirty victims
// of all the shards go to the backing store as one batch per table: one large
// write instead of one per shard (RocksDB sorts it and inserts each key next
// to the previous one in its memtable). If the write-back fails, nothing is
// evicted.
Status CachedStoreImpl::EvictShardsLocked(const std::vector<RowCacheShard*>& shards) const {
  struct Chosen {
    RowCacheShard* shard;
    std::vector<std::pair<uint32_t, uint64_t>> victims;  // (table, key)
    std::vector<CacheSlot*> dirty;
  };
  std::vector<Chosen> chosen;
  std::map<uint32_t, Batch> batches;
  for (RowCacheShard* s : shards) {
    if (s->bytes <= shard_budget_) continue;
    Chosen& c = chosen.emplace_back();
    c.shard = s;
    s->ChooseVictims(shard_budget_, [&](CacheSlot* slot) {
      c.victims.emplace_back(slot->table, slot->key);
      if (!(slot->flags & kSlotDirty)) return;
      Batch& b = batches[slot->table];
      b.keys.push_back(slot->key);
      // The write-behind copies the rows itself, without a string per row.
      if (write_behind_ == nullptr) b.rows.emplace_back(slot->row, slot->size);
      b.slots.push_back(slot);
      c.dirty.push_back(slot);
    });
  }
  if (chosen.empty()) return Status::OK();
  Status written;
  if (write_behind_ != nullptr) {
    // The background thread writes them; the rows are copied into one buffer
    // (no allocation per row) and handed over.
    EvictedRows evicted;
    for (const auto& [table, batch] : batches) {
      for (const CacheSlot* slot : batch.slots) {
        evicted.Add(table, slot->key, std::string_view(slot->row, slot->size));
      }
    }
    written = write_behind_->Add(std::move(evicted));
    if (written.ok()) {
      for (const auto& [table, batch] : batches) {
        for (CacheSlot* slot : batch.slots) slot->flags &= ~kSlotDirty;
      }
    }
  } else {
    written = WriteBatches(batches);
  }
  for (Chosen& c : chosen) {
    RowCacheShard* s = c.shard;
    for (const CacheSlot* slot : c.dirty) s->dirty -= (slot->flags & kSlotDirty) ? 0 : 1;
    if (!written.ok()) {
      for (const auto& [table, key] : c.victims) {
        s->Find(table, key, Mix64(key))->flags &= ~kSlotVictim;
      }
      continue;
    }
    // Erasing shifts slots, so each victim is looked up again.
    for (const auto& [table, key] : c.victims) s->Erase(s->Find(table, key, Mix64(key)));
    evictions_ += c.victims.size();
  }
  return written;
}

// Under the shard lock: adds its dirty rows to `batches` (one per table);
// a table's batch that reaches kWriteBackChunk rows is written back at once.
Status CachedStoreImpl::CollectDirtyLocked(RowCacheShard* s,
                                           std::map<uint32_t, Batch>* batches) const {
  for (CacheSlot& slot : s->slots) {
    if (!(slot.flags & kSlotDirty)) continue;
    Batch& b = (*batches)[slot.table];
    b.keys.push_back(slot.key);
    b.rows.emplace_back(slot.row, slot.size);
    b.slots.push_back(&slot);
    if (b.keys.size() < kWriteBackChunk) continue;
    MSREC_RETURN_IF_ERROR(WriteBatch(slot.table, b));
    b = Batch();
  }
  return Status::OK();
}

// Writes every dirty row back (one Write per table and kWriteBackChunk rows);
// the rows stay cached, clean. All shards are locked meanwhile.
Status CachedStoreImpl::WriteBackDirty() const {
  ShardLocks locks;
  std::map<uint32_t, Batch> batches;
  for (uint32_t sh = 0; sh < num_shards_; ++sh) locks.Lock(&shards_[sh]);
  // With every shard locked nothing more is evicted: the older rows in the
  // write-behind reach the backing store before the cached ones below.
  Status written = DrainWriteBehind();
  for (uint32_t sh = 0; sh < num_shards_ && written.ok(); ++sh) {
    RowCacheShard& s = shards_[sh];
    if (s.dirty != 0) written = CollectDirtyLocked(&s, &batches);
  }
  if (written.ok()) written = WriteBatches(batches);
  for (RowCacheShard* s : locks.shards()) {
    if (s->dirty == 0) continue;
    s->dirty = 0;  // recounted: a failed write-back leaves some rows dirty
    for (const CacheSlot& slot : s->slots) s->dirty += (slot.flags & kSlotDirty) ? 1 : 0;
  }
  return written;
}

CachedStore::Stats CachedStoreImpl::stats() const {
  Stats st;
  for (uint32_t sh = 0; sh < num_shards_; ++sh) {
    RowCacheShard& s = shards_[sh];
    std::lock_guard<std::mutex> lock(s.mu);
    st.bytes_used += s.bytes;
    st.rows += s.used - s.reserved - s.absent;
    st.absent += s.absent;
    st.dirty_rows += s.dirty;
  }
  st.hits = hits_.load();
  st.misses = misses_.load();
  const uint64_t lookups = st.hits + st.misses;
  st.hit_rate = lookups == 0 ? 0.0 : static_cast<double>(st.hits) / static_cast<double>(lookups);
  st.capacity_bytes = capacity_;
  st.evictions = evictions_.load();
  st.write_backs = write_backs_.load();
  st.write_back_batches = write_back_batches_.load();
  if (write_behind_ != nullptr) {
    const WriteBehind::Stats wb = write_behind_->stats();
    st.write_behind_rows = wb.rows;
    st.write_behind_bytes = wb.bytes;
    st.bytes_used += wb.bytes;
    st.write_backs += wb.written_rows;
    st.write_back_batches += wb.batches;
    st.write_behind_wait_s = wb.add_wait_us / 1e6;
  }
  st.write_behind_hits = write_behind_hits_.load();
  return st;
}

}  // namespace

size_t DefaultWriteBehindBytes(size_t capacity_bytes) {
  return std::min(capacity_bytes / 16, size_t{64} << 20);
}

Result<std::unique_ptr<EmbeddingStore>> MakeCachedStore(std::unique_ptr<EmbeddingStore> backing,
                                                        const RowCacheOptions& options) {
  if (backing == nullptr) return Status::InvalidArgument("row cache: no backing store");
  if (options.capacity_bytes == 0) {
    return Status::InvalidArgument("row cache: capacity_bytes must be > 0");
  }
  if (options.shards < 1 || options.shards > 1024) {
    return Status::InvalidArgument("row cache: shards must be in 1..1024, got " +
                                   std::to_string(options.shards));
  }
  if (options.write_behind_bytes >= options.capacity_bytes) {
    return Status::InvalidArgument("row cache: write_behind_bytes (" +
                                   std::to_string(options.write_behind_bytes) +
                                   ") must be less than capacity_bytes (" +
                                   std::to_string(options.capacity_bytes) + ")");
  }
  return std::unique_ptr<EmbeddingStore>(new CachedStoreImpl(std::move(backing), options));
}

}  // namespace msrec
