#include "parameter_server/cached_store.h"

#include <atomic>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/hash.h"

namespace msrec {
namespace {

struct CacheKey {
  uint32_t table;
  uint64_t key;
  bool operator==(const CacheKey& o) const { return table == o.table && key == o.key; }
};

struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const {
    return static_cast<size_t>(Mix64(k.key ^ (uint64_t{k.table} * 0x9E3779B97F4A7C15ULL)));
  }
};

// A cached row, or a placeholder (token != 0) reserved by a MultiGetVisit
// that is fetching the row from the backing store.
struct Entry {
  CacheKey id;
  std::string row;
  uint64_t token = 0;
  bool dirty = false;
  size_t charge = 0;  // bytes charged to the shard for this entry
};

using Lru = std::list<Entry>;

// Bookkeeping bytes per entry besides the row's heap bytes: the list node
// (entry and two links), the index node (key, iterator, next link, cached
// hash) and one bucket pointer (the load factor is at most 1).
constexpr size_t kEntryOverhead = sizeof(Entry) + 2 * sizeof(void*) +
                                  sizeof(std::pair<const CacheKey, Lru::iterator>) +
                                  2 * sizeof(void*) + sizeof(void*);

// Heap bytes of `s`: 0 when it lives in the short-string buffer.
size_t HeapBytes(const std::string& s) {
  const char* self = reinterpret_cast<const char*>(&s);
  if (s.data() >= self && s.data() < self + sizeof(std::string)) return 0;
  return s.capacity() + 1;
}

struct Shard {
  std::mutex mu;
  Lru lru;  // front: most recently used
  std::unordered_map<CacheKey, Lru::iterator, CacheKeyHash> index;
  size_t bytes = 0;
  size_t dirty = 0;
  uint64_t next_token = 1;
};

// Request positions grouped by shard: order[begin[s] .. begin[s+1]) are the
// positions whose key falls in shard s, ascending.
struct ShardGroups {
  std::vector<uint32_t> shard_of;
  std::vector<uint32_t> order;
  std::vector<uint32_t> begin;
};

// The rows of one table to write to the backing store.
struct Batch {
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  std::vector<Entry*> entries;
};

class CachedStoreImpl : public CachedStore {
 public:
  CachedStoreImpl(std::unique_ptr<EmbeddingStore> backing, const RowCacheOptions& options)
      : backing_(std::move(backing)),
        capacity_(options.capacity_bytes),
        num_shards_(static_cast<uint32_t>(options.shards)),
        shard_budget_(options.capacity_bytes / options.shards),
        shards_(new Shard[options.shards]) {
    for (const std::string& name : backing_->TableNames()) Register(name);
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

  Stats stats() const override;

 private:
  // Per-call state of MultiGetVisit.
  struct Lookup {
    std::vector<uint8_t> hit;
    std::vector<std::pair<size_t, size_t>> span;  // (offset, size) in `bytes`
    std::string bytes;                            // copied hit rows, then fetched rows
    std::vector<uint8_t> found;                   // per position: the backing store had it
    std::vector<uint8_t> fetched;                 // per position: the backing store answered
    std::vector<uint64_t> tokens;                 // per shard
  };

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

  uint32_t ShardOf(uint64_t key) const { return static_cast<uint32_t>(Mix64(key) % num_shards_); }
  ShardGroups Group(const uint64_t* keys, size_t n) const;

  void Recharge(Shard* s, Entry* e) const {
    s->bytes -= e->charge;
    e->charge = kEntryOverhead + HeapBytes(e->row);
    s->bytes += e->charge;
  }
  void EraseLocked(Shard* s, Lru::iterator it) const {
    s->bytes -= it->charge;
    if (it->dirty) --s->dirty;
    s->index.erase(it->id);
    s->lru.erase(it);
  }

  void LookupShard(uint32_t shard, uint32_t table, const uint64_t* keys, const ShardGroups& g,
                   Lookup* look) const;
  Status FillShard(uint32_t shard, uint32_t table, const uint64_t* keys, const ShardGroups& g,
                   Lookup* look) const;
  Status WriteBatches(std::map<uint32_t, Batch>* batches) const;
  Status EvictLocked(Shard* s) const;
  Status WriteBackDirty() const;

  const std::unique_ptr<EmbeddingStore> backing_;
  const size_t capacity_;
  const uint32_t num_shards_;
  const size_t shard_budget_;
  // The cache is logically part of the store's state, not of its value: const
  // methods (lookups, scans) update it.
  const std::unique_ptr<Shard[]> shards_;
  mutable std::shared_mutex tables_mu_;
  std::map<std::string, uint32_t> ids_;  // guarded by tables_mu_
  std::deque<std::string> names_;        // guarded by tables_mu_; index = table id
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
  mutable std::atomic<uint64_t> evictions_{0};
  mutable std::atomic<uint64_t> write_backs_{0};
  mutable std::atomic<uint64_t> write_back_batches_{0};
};

ShardGroups CachedStoreImpl::Group(const uint64_t* keys, size_t n) const {
  ShardGroups g;
  g.shard_of.resize(n);
  g.begin.assign(num_shards_ + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    g.shard_of[i] = ShardOf(keys[i]);
    ++g.begin[g.shard_of[i] + 1];
  }
  for (uint32_t s = 0; s < num_shards_; ++s) g.begin[s + 1] += g.begin[s];
  g.order.resize(n);
  std::vector<uint32_t> next(g.begin.begin(), g.begin.end() - 1);
  for (size_t i = 0; i < n; ++i) g.order[next[g.shard_of[i]]++] = static_cast<uint32_t>(i);
  return g;
}

// Under the shard lock: copies the hits out and reserves the misses.
void CachedStoreImpl::LookupShard(uint32_t shard, uint32_t table, const uint64_t* keys,
                                  const ShardGroups& g, Lookup* look) const {
  Shard& s = shards_[shard];
  std::lock_guard<std::mutex> lock(s.mu);
  const uint64_t token = s.next_token++;
  look->tokens[shard] = token;
  uint64_t hits = 0;
  for (uint32_t k = g.begin[shard]; k < g.begin[shard + 1]; ++k) {
    const uint32_t i = g.order[k];
    const CacheKey id{table, keys[i]};
    auto it = s.index.find(id);
    if (it != s.index.end() && it->second->token == 0) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      look->hit[i] = 1;
      look->span[i] = {look->bytes.size(), it->second->row.size()};
      look->bytes.append(it->second->row);
      ++hits;
    } else if (it != s.index.end()) {
      it->second->token = token;  // the latest reader fills it
    } else {
      s.lru.push_front(Entry{id, std::string(), token, false, 0});
      s.index.emplace(id, s.lru.begin());
      Recharge(&s, &s.lru.front());
    }
  }
  hits_ += hits;
  misses_ += (g.begin[shard + 1] - g.begin[shard]) - hits;
}

// Under the shard lock: fills the placeholders still reserved by this call
// (found rows become clean entries, the others are dropped), then trims the
// shard to its budget.
Status CachedStoreImpl::FillShard(uint32_t shard, uint32_t table, const uint64_t* keys,
                                  const ShardGroups& g, Lookup* look) const {
  Shard& s = shards_[shard];
  std::lock_guard<std::mutex> lock(s.mu);
  for (uint32_t k = g.begin[shard]; k < g.begin[shard + 1]; ++k) {
    const uint32_t i = g.order[k];
    if (look->hit[i]) continue;
    auto it = s.index.find(CacheKey{table, keys[i]});
    if (it == s.index.end() || it->second->token != look->tokens[shard]) continue;
    Entry& e = *it->second;
    if (look->fetched[i] && look->found[i]) {
      e.row.assign(look->bytes, look->span[i].first, look->span[i].second);
      e.token = 0;
      Recharge(&s, &e);
    } else {
      EraseLocked(&s, it->second);
    }
  }
  return EvictLocked(&s);
}

Status CachedStoreImpl::MultiGetVisit(const std::string& table, const uint64_t* keys, size_t n,
                                      bool sorted, const RowVisitor& fn) const {
  MSREC_ASSIGN_OR_RETURN(const uint32_t id, FindTable(table));
  if (n == 0) return Status::OK();
  const ShardGroups g = Group(keys, n);
  Lookup look;
  look.hit.assign(n, 0);
  look.span.resize(n);
  look.found.assign(n, 0);
  look.fetched.assign(n, 0);
  look.tokens.assign(num_shards_, 0);
  for (uint32_t s = 0; s < num_shards_; ++s) {
    if (g.begin[s] != g.begin[s + 1]) LookupShard(s, id, keys, g, &look);
  }
  std::vector<uint64_t> miss_keys;
  std::vector<uint32_t> miss_pos;
  for (size_t i = 0; i < n; ++i) {
    if (!look.hit[i]) {
      miss_keys.push_back(keys[i]);
      miss_pos.push_back(static_cast<uint32_t>(i));
    }
  }
  // Visits in request order: the hits before each miss, then the miss.
  size_t next = 0;
  auto visit_hits_until = [&](size_t end) -> Status {
    for (; next < end; ++next) {
      if (!look.hit[next]) continue;
      const auto [offset, size] = look.span[next];
      MSREC_RETURN_IF_ERROR(fn(next, true, std::string_view(look.bytes).substr(offset, size)));
    }
    return Status::OK();
  };
  Status status;
  if (!miss_keys.empty()) {
    status = backing_->MultiGetVisit(table, miss_keys.data(), miss_keys.size(), sorted,
                                     [&](size_t j, bool found, std::string_view row) {
                                       const uint32_t i = miss_pos[j];
                                       MSREC_RETURN_IF_ERROR(visit_hits_until(i));
                                       next = i + 1;
                                       look.fetched[i] = 1;
                                       look.found[i] = found ? 1 : 0;
                                       look.span[i] = {look.bytes.size(), row.size()};
                                       look.bytes.append(row);
                                       return fn(i, found, row);
                                     });
  }
  if (status.ok()) status = visit_hits_until(n);
  for (uint32_t s = 0; s < num_shards_; ++s) {
    if (g.begin[s] == g.begin[s + 1]) continue;
    Status fill = FillShard(s, id, keys, g, &look);
    if (status.ok()) status = fill;
  }
  return status;
}

Status CachedStoreImpl::Write(const std::string& table, const uint64_t* keys, size_t n,
                              const std::string* rows) {
  MSREC_ASSIGN_OR_RETURN(const uint32_t id, FindTable(table));
  const ShardGroups g = Group(keys, n);
  Status status;
  for (uint32_t sh = 0; sh < num_shards_; ++sh) {
    if (g.begin[sh] == g.begin[sh + 1]) continue;
    Shard& s = shards_[sh];
    std::lock_guard<std::mutex> lock(s.mu);
    for (uint32_t k = g.begin[sh]; k < g.begin[sh + 1]; ++k) {
      const uint32_t i = g.order[k];
      const CacheKey key{id, keys[i]};
      auto it = s.index.find(key);
      if (it == s.index.end()) {
        s.lru.push_front(Entry{key, std::string(), 0, false, 0});
        it = s.index.emplace(key, s.lru.begin()).first;
      } else {
        s.lru.splice(s.lru.begin(), s.lru, it->second);
      }
      Entry& e = *it->second;
      e.row.assign(rows[i]);
      e.token = 0;  // a pending fetch must not overwrite this row
      if (!e.dirty) ++s.dirty;
      e.dirty = true;
      Recharge(&s, &e);
    }
    Status evict = EvictLocked(&s);
    if (status.ok()) status = evict;
  }
  return status;
}

Status CachedStoreImpl::Delete(const std::string& table, const uint64_t* keys, size_t n) {
  MSREC_ASSIGN_OR_RETURN(const uint32_t id, FindTable(table));
  const ShardGroups g = Group(keys, n);
  // The shards stay locked (in ascending order) until the backing store has
  // deleted the rows, so no concurrent miss can bring a deleted row back.
  std::vector<std::unique_lock<std::mutex>> locks;
  for (uint32_t sh = 0; sh < num_shards_; ++sh) {
    if (g.begin[sh] == g.begin[sh + 1]) continue;
    Shard& s = shards_[sh];
    locks.emplace_back(s.mu);
    for (uint32_t k = g.begin[sh]; k < g.begin[sh + 1]; ++k) {
      auto it = s.index.find(CacheKey{id, keys[g.order[k]]});
      if (it != s.index.end()) EraseLocked(&s, it->second);
    }
  }
  return backing_->Delete(table, keys, n);
}

// Writes each table's batch with one backing Write and marks its entries
// clean; stops at the first failure (later batches stay dirty). Callers hold
// the locks of the entries' shards and fix the shards' dirty counts.
Status CachedStoreImpl::WriteBatches(std::map<uint32_t, Batch>* batches) const {
  for (auto& [table, batch] : *batches) {
    MSREC_RETURN_IF_ERROR(
        backing_->Write(TableName(table), batch.keys.data(), batch.keys.size(), batch.rows.data())
            .WithContext("row cache write-back"));
    write_backs_ += batch.keys.size();
    ++write_back_batches_;
    for (Entry* e : batch.entries) e->dirty = false;
  }
  return Status::OK();
}

// Under the shard lock: evicts least recently used entries until the shard
// fits its budget, writing the dirty ones back first. If the write-back
// fails, nothing is evicted.
Status CachedStoreImpl::EvictLocked(Shard* s) const {
  if (s->bytes <= shard_budget_) return Status::OK();
  size_t freed = 0;
  size_t victims = 0;
  std::map<uint32_t, Batch> batches;
  for (auto it = s->lru.rbegin(); it != s->lru.rend() && s->bytes - freed > shard_budget_; ++it) {
    freed += it->charge;
    ++victims;
    if (!it->dirty) continue;
    Batch& b = batches[it->id.table];
    b.keys.push_back(it->id.key);
    b.rows.push_back(it->row);
    b.entries.push_back(&*it);
  }
  const Status written = WriteBatches(&batches);
  for (auto& [table, batch] : batches) {
    for (const Entry* e : batch.entries) s->dirty -= e->dirty ? 0 : 1;
  }
  MSREC_RETURN_IF_ERROR(written);
  for (size_t v = 0; v < victims; ++v) {
    auto last = std::prev(s->lru.end());
    s->bytes -= last->charge;
    s->index.erase(last->id);
    s->lru.erase(last);
  }
  evictions_ += victims;
  return Status::OK();
}

// Writes every dirty row back (one Write per table); the rows stay cached,
// clean. All shards are locked (ascending) meanwhile.
Status CachedStoreImpl::WriteBackDirty() const {
  std::vector<std::unique_lock<std::mutex>> locks;
  std::map<uint32_t, Batch> batches;
  for (uint32_t sh = 0; sh < num_shards_; ++sh) {
    Shard& s = shards_[sh];
    locks.emplace_back(s.mu);
    if (s.dirty == 0) continue;
    for (Entry& e : s.lru) {
      if (!e.dirty) continue;
      Batch& b = batches[e.id.table];
      b.keys.push_back(e.id.key);
      b.rows.push_back(e.row);
      b.entries.push_back(&e);
    }
  }
  const Status written = WriteBatches(&batches);
  for (uint32_t sh = 0; sh < num_shards_; ++sh) {
    Shard& s = shards_[sh];
    if (s.dirty == 0) continue;
    s.dirty = 0;  // recounted: a failed write-back leaves some rows dirty
    for (const Entry& e : s.lru) s.dirty += e.dirty ? 1 : 0;
  }
  return written;
}

CachedStore::Stats CachedStoreImpl::stats() const {
  Stats st;
  for (uint32_t sh = 0; sh < num_shards_; ++sh) {
    Shard& s = shards_[sh];
    std::lock_guard<std::mutex> lock(s.mu);
    st.bytes_used += s.bytes;
    st.rows += s.lru.size();
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
  return st;
}

}  // namespace

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
  return std::unique_ptr<EmbeddingStore>(new CachedStoreImpl(std::move(backing), options));
}

}  // namespace msrec
