// The DRAM row cache (cached_store.h): random operation sequences against a
// plain MemoryStore, write-back on eviction and Flush, hit counting, one
// backing call per request, CLOCK eviction, reservations against racing
// writes and deletes, rows changing size, concurrent use. Also EmbeddingStore::Delete and
// MemoryUsageBytes on every store.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "parameter_server/cached_store.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"
#include "tests/store_test_util.h"

namespace msrec {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/msrec_cache_test_XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Forwards to a MemoryStore and counts the calls (the fake of these tests).
class CountingStore : public testing::ForwardingStore {
 public:
  Status MultiGetVisit(const std::string& t, const uint64_t* keys, size_t n, bool sorted,
                       const RowVisitor& fn) const override {
    ++multigets;
    last_sorted = sorted;
    Status s = ForwardingStore::MultiGetVisit(t, keys, n, sorted, fn);
    if (after_fetch) after_fetch();
    return s;
  }
  Status Write(const std::string& t, const uint64_t* keys, size_t n,
               const std::string* rows) override {
    ++writes;
    if (before_write) before_write();
    if (fail_writes) return Status::IoError("injected write failure");
    return ForwardingStore::Write(t, keys, n, rows);
  }

  // Runs inside MultiGetVisit once the rows have been fetched and visited,
  // before the call returns (a write racing with a read's fetch).
  std::function<void()> after_fetch;
  // Runs at the start of every Write (a slow disk, say).
  std::function<void()> before_write;
  mutable std::atomic<int> multigets{0};
  mutable std::atomic<bool> last_sorted{false};
  std::atomic<int> writes{0};
  std::atomic<bool> fail_writes{false};  // Write fails (a full disk, say)
};

std::unique_ptr<EmbeddingStore> Cached(std::unique_ptr<EmbeddingStore> backing, size_t bytes,
                                       int shards = 4, size_t write_behind_bytes = 0) {
  RowCacheOptions o;
  o.capacity_bytes = bytes;
  o.shards = shards;
  o.write_behind_bytes = write_behind_bytes;
  auto store = MakeCachedStore(std::move(backing), o);
  CHECK(store.ok()) << store.status().ToString();
  return std::move(store).value();
}

CachedStore::Stats StatsOf(const EmbeddingStore& store) {
  return dynamic_cast<const CachedStore&>(store).stats();
}

std::string RowFor(uint64_t key, int version) {
  return "row-" + std::to_string(key) + "-v" + std::to_string(version) + std::string(40, 'x');
}

// Keys 0 .. n-1 and their rows RowFor(k, version).
void SequentialRows(size_t n, int version, std::vector<uint64_t>* keys,
                    std::vector<std::string>* rows) {
  keys->resize(n);
  rows->clear();
  for (uint64_t k = 0; k < n; ++k) {
    (*keys)[k] = k;
    rows->push_back(RowFor(k, version));
  }
}

// Reads every key of table "t" alone and expects its row.
void ExpectRows(const EmbeddingStore& store, const std::vector<uint64_t>& keys,
                const std::vector<std::string>& rows) {
  for (size_t i = 0; i < keys.size(); ++i) {
    std::vector<std::string> one;
    std::vector<uint8_t> found;
    ASSERT_TRUE(store.MultiGet("t", &keys[i], 1, true, &one, &found).ok());
    ASSERT_TRUE(found[0]) << "key " << keys[i];
    EXPECT_EQ(one[0], rows[i]) << "key " << keys[i];
  }
}

// keys[i] -> rows[i].
std::map<uint64_t, std::string> RowsOf(const std::vector<uint64_t>& keys,
                                             const std::vector<std::string>& rows) {
  std::map<uint64_t, std::string> m;
  for (size_t i = 0; i < keys.size(); ++i) m[keys[i]] = rows[i];
  return m;
}

// Every store kind, for Delete and MemoryUsageBytes.
enum class Kind { kMemory, kRocksDb, kCachedMemory, kCachedRocksDb };

class AnyStoreTest : public ::testing::TestWithParam<Kind> {
 protected:
  std::unique_ptr<EmbeddingStore> MakeStore() {
    auto rocks = [&] {
      RocksDbStoreOptions o;
      o.write_buffer_bytes = 4 << 20;
      o.block_cache_bytes = 8 << 20;
      auto s = OpenRocksDbStore(dir_.path() + "/db", o);
      CHECK(s.ok()) << s.status().ToString();
      return std::move(s).value();
    };
    switch (GetParam()) {
      case Kind::kMemory:
        return MakeMemoryStore();
      case Kind::kRocksDb:
        return rocks();
      case Kind::kCachedMemory:
        return Cached(MakeMemoryStore(), 4096);
      case Kind::kCachedRocksDb:
        return Cached(rocks(), 4096);
    }
    return nullptr;
  }
  TempDir dir_;
};

TEST_P(AnyStoreTest, DeleteRemovesRows) {
  auto store = MakeStore();
  ASSERT_TRUE(store->CreateTable("t").ok());
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  for (uint64_t k = 0; k < 500; ++k) {
    keys.push_back(k * 7919);
    rows.push_back(RowFor(k, 0));
  }
  ASSERT_TRUE(store->Write("t", keys.data(), keys.size(), rows.data()).ok());
  std::vector<uint64_t> gone;
  for (size_t i = 0; i < keys.size(); i += 3) gone.push_back(keys[i]);
  gone.push_back(123456789);  // never written: skipped
  gone.push_back(keys[0]);    // repeated
  ASSERT_TRUE(store->Delete("t", gone.data(), gone.size()).ok());
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  ASSERT_TRUE(store->MultiGet("t", keys.data(), keys.size(), true, &got, &found).ok());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(found[i] != 0, i % 3 != 0) << i;
    if (found[i]) {
      EXPECT_EQ(got[i], rows[i]);
    }
  }
  EXPECT_EQ(store->Count("t").value(), 500u - 167u);
  // Deleted keys can be written again (memory: the freed row space is reused).
  ASSERT_TRUE(store->Write("t", gone.data(), 1, &rows[0]).ok());
  EXPECT_EQ(store->Count("t").value(), 500u - 166u);
  EXPECT_EQ(store->Delete("missing", keys.data(), 1).code(), Status::Code::kNotFound);
  auto bytes = store->MemoryUsageBytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_GT(bytes.value(), 0u);
}

// DropTable removes the table and its rows (cached dirty rows too, without
// writing them back); the other tables keep theirs; a table created again
// under the name starts empty; a reopened database does not have it.
TEST_P(AnyStoreTest, DropTableRemovesTheTableAndItsRowsOnly) {
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  for (uint64_t k = 0; k < 300; ++k) {
    keys.push_back(k * 7919);
    rows.push_back(RowFor(k, 1));
  }
  {
    auto store = MakeStore();
    for (const char* t : {"gone", "kept"}) {
      ASSERT_TRUE(store->CreateTable(t).ok());
      ASSERT_TRUE(store->Write(t, keys.data(), keys.size(), rows.data()).ok());
    }
    ASSERT_TRUE(store->DropTable("gone").ok());
    EXPECT_EQ(store->TableNames(), std::vector<std::string>{"kept"});
    std::vector<std::string> got;
    std::vector<uint8_t> found;
    EXPECT_EQ(store->MultiGet("gone", keys.data(), keys.size(), true, &got, &found).code(),
              Status::Code::kNotFound);
    EXPECT_EQ(store->DropTable("gone").code(), Status::Code::kNotFound);
    ASSERT_TRUE(store->MultiGet("kept", keys.data(), keys.size(), true, &got, &found).ok());
    for (size_t i = 0; i < keys.size(); ++i) {
      ASSERT_TRUE(found[i]) << i;
      EXPECT_EQ(got[i], rows[i]);
    }
    ASSERT_TRUE(store->CreateTable("gone").ok());
    EXPECT_EQ(store->Count("gone").value(), 0u);
    ASSERT_TRUE(store->MultiGet("gone", keys.data(), keys.size(), true, &got, &found).ok());
    for (size_t i = 0; i < keys.size(); ++i) ASSERT_FALSE(found[i]) << i;
    ASSERT_TRUE(store->DropTable("gone").ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  auto reopened = MakeStore();  // RocksDB: the same directory
  for (const std::string& name : reopened->TableNames()) EXPECT_NE(name, "gone");
}

// A bulk load replaces the rows of its keys (cached dirty ones too) and
// keeps the others; keys out of order are refused; an empty load is fine.
TEST_P(AnyStoreTest, BulkWriterReplacesAndAddsRowsInKeyOrder) {
  auto store = MakeStore();
  ASSERT_TRUE(store->CreateTable("t").ok());
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  for (uint64_t k = 0; k < 2000; ++k) {
    keys.push_back(k * 3);
    rows.push_back(RowFor(k, 1));
  }
  ASSERT_TRUE(store->Write("t", keys.data(), keys.size(), rows.data()).ok());
  // Every even-indexed key gets version 2, and new keys 3k + 1 come in.
  auto writer = store->NewBulkWriter("t");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  for (uint64_t k = 0; k < 2000; ++k) {
    if (k % 2 == 0) {
      ASSERT_TRUE(writer.value()->Add(k * 3, RowFor(k, 2)).ok());
    }
    ASSERT_TRUE(writer.value()->Add(k * 3 + 1, RowFor(k, 3)).ok());
  }
  const Status out_of_order = writer.value()->Add(5, RowFor(0, 4));
  EXPECT_EQ(out_of_order.code(), Status::Code::kInvalidArgument) << out_of_order.ToString();
  ASSERT_TRUE(writer.value()->Finish().ok());
  std::vector<uint64_t> all;
  for (uint64_t k = 0; k < 2000; ++k) {
    all.push_back(k * 3);
    all.push_back(k * 3 + 1);
  }
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  ASSERT_TRUE(store->MultiGet("t", all.data(), all.size(), false, &got, &found).ok());
  for (uint64_t k = 0; k < 2000; ++k) {
    ASSERT_TRUE(found[2 * k] && found[2 * k + 1]) << k;
    EXPECT_EQ(got[2 * k], RowFor(k, k % 2 == 0 ? 2 : 1)) << k;
    EXPECT_EQ(got[2 * k + 1], RowFor(k, 3)) << k;
  }
  EXPECT_EQ(store->Count("t").value(), 4000u);
  auto empty = store->NewBulkWriter("t");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.value()->Finish().ok());
  EXPECT_EQ(store->NewBulkWriter("missing").status().code(), Status::Code::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Stores, AnyStoreTest,
                         ::testing::Values(Kind::kMemory, Kind::kRocksDb, Kind::kCachedMemory,
                                           Kind::kCachedRocksDb));

TEST(MemoryStoreDeleteTest, RandomEraseMatchesMap) {
  auto store = MakeMemoryStore();
  ASSERT_TRUE(store->CreateTable("t").ok());
  std::map<uint64_t, std::string> ref;
  std::mt19937_64 rng(5);
  for (int round = 0; round < 4000; ++round) {
    const uint64_t key = rng() % 3000;  // dense keys: long probe runs
    if (rng() % 3 == 0) {
      ASSERT_TRUE(store->Delete("t", &key, 1).ok());
      ref.erase(key);
    } else {
      const std::string row = RowFor(key, round);
      ASSERT_TRUE(store->Write("t", &key, 1, &row).ok());
      ref[key] = row;
    }
  }
  std::map<uint64_t, std::string> have;
  ASSERT_TRUE(store
                  ->ForEach("t",
                            [&](uint64_t k, std::string_view row) {
                              have[k] = std::string(row);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(have, ref);
  for (uint64_t key = 0; key < 3000; ++key) {
    std::vector<std::string> got;
    std::vector<uint8_t> found;
    ASSERT_TRUE(store->MultiGet("t", &key, 1, true, &got, &found).ok());
    ASSERT_EQ(found[0] != 0, ref.count(key) != 0) << key;
  }
}

// Random Write / MultiGet / Delete / Flush / Count through a cache far too
// small for the data give exactly what a plain MemoryStore gives.
// With write-behind too (evicted rows written by a background thread).
TEST(CachedStoreTest, RandomOpsMatchMemoryStore) {
  for (const size_t write_behind : {size_t{0}, size_t{1000}})
  for (int shards : {1, 4, 16}) {
    SCOPED_TRACE("write-behind " + std::to_string(write_behind) + ", shards " +
                 std::to_string(shards));
    auto cache = Cached(MakeMemoryStore(), 3000, shards, write_behind);
    auto ref = MakeMemoryStore();
    for (auto* s : {cache.get(), ref.get()}) {
      ASSERT_TRUE(s->CreateTable("a").ok());
      ASSERT_TRUE(s->CreateTable("b").ok());
    }
    std::mt19937_64 rng(shards);
    for (int op = 0; op < 3000; ++op) {
      const std::string table = rng() % 2 ? "a" : "b";
      std::vector<uint64_t> keys(1 + rng() % 20);
      for (auto& k : keys) k = rng() % 200;
      const int what = static_cast<int>(rng() % 10);
      if (what < 4) {
        std::vector<std::string> rows;
        for (uint64_t k : keys) rows.push_back(RowFor(k, op));
        ASSERT_TRUE(cache->Write(table, keys.data(), keys.size(), rows.data()).ok());
        ASSERT_TRUE(ref->Write(table, keys.data(), keys.size(), rows.data()).ok());
      } else if (what < 8) {
        const bool sorted = what == 7;
        if (sorted) std::sort(keys.begin(), keys.end());
        std::vector<std::string> got, want;
        std::vector<uint8_t> got_found, want_found;
        ASSERT_TRUE(
            cache->MultiGet(table, keys.data(), keys.size(), sorted, &got, &got_found).ok());
        ASSERT_TRUE(
            ref->MultiGet(table, keys.data(), keys.size(), sorted, &want, &want_found).ok());
        ASSERT_EQ(got_found, want_found) << "op " << op;
        for (size_t i = 0; i < keys.size(); ++i) {
          if (want_found[i]) {
            ASSERT_EQ(got[i], want[i]) << "op " << op;
          }
        }
      } else if (what == 8) {
        ASSERT_TRUE(cache->Delete(table, keys.data(), 2 < keys.size() ? 2 : 1).ok());
        ASSERT_TRUE(ref->Delete(table, keys.data(), 2 < keys.size() ? 2 : 1).ok());
      } else if (rng() % 4 == 0) {
        ASSERT_TRUE(cache->Flush().ok());
        EXPECT_EQ(StatsOf(*cache).dirty_rows, 0u);
      } else {
        ASSERT_EQ(cache->Count(table).value(), ref->Count(table).value()) << "op " << op;
      }
      // The shards keep to their part of the budget (a write-behind
      // generation may take one eviction larger than its half).
      const CachedStore::Stats st = StatsOf(*cache);
      ASSERT_LE(st.bytes_used - st.write_behind_bytes, 3000u - write_behind) << "op " << op;
    }
  }
}

TEST(CachedStoreTest, EvictionWritesBackDirtyRowsInBatches) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  auto cache = Cached(std::move(backing_owner), 8192, 2);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  SequentialRows(1000, 1, &keys, &rows);
  for (size_t i = 0; i < keys.size(); i += 100) {
    ASSERT_TRUE(cache->Write("t", &keys[i], 100, &rows[i]).ok());
  }
  CachedStore::Stats st = StatsOf(*cache);
  EXPECT_LE(st.bytes_used, 8192u);
  EXPECT_GT(st.evictions, 0u);
  EXPECT_EQ(st.rows + st.evictions, 1000u);
  EXPECT_EQ(st.dirty_rows, st.rows);  // nothing was read: every cached row is dirty
  EXPECT_EQ(st.write_backs, st.evictions);
  // At most one backing Write per Write call (the evicting shards' dirty rows
  // together), never one per key or per shard.
  EXPECT_EQ(backing->writes.load(), static_cast<int>(st.write_back_batches));
  EXPECT_LE(st.write_back_batches, 10u);
  // Every evicted row is in the backing store with its content.
  std::map<uint64_t, std::string> in_backing;
  ASSERT_TRUE(backing
                  ->ForEach("t",
                            [&](uint64_t k, std::string_view row) {
                              in_backing[k] = std::string(row);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(in_backing.size(), st.evictions);
  for (const auto& [k, row] : in_backing) EXPECT_EQ(row, rows[k]);
  // Flush persists everything.
  ASSERT_TRUE(cache->Flush().ok());
  EXPECT_EQ(StatsOf(*cache).dirty_rows, 0u);
  EXPECT_EQ(backing->Count("t").value(), 1000u);
  EXPECT_EQ(backing->writes.load(), static_cast<int>(st.write_back_batches) + 1);
}

// Rows a read brings in evict rows of every shard they land in; the dirty
// victims of one read go back in one backing Write.
TEST(CachedStoreTest, AReadsEvictionsAreWrittenBackTogether) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  SequentialRows(2000, 1, &keys, &rows);
  ASSERT_TRUE(backing->CreateTable("t").ok());
  ASSERT_TRUE(backing->Write("t", &keys[1000], 1000, &rows[1000]).ok());  // keys 1000..1999
  auto cache = Cached(std::move(backing_owner), 16384, 4);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  ASSERT_TRUE(cache->Write("t", keys.data(), 1000, rows.data()).ok());  // dirty, over budget
  const int writes_before = backing->writes.load();
  const uint64_t batches_before = StatsOf(*cache).write_back_batches;
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  ASSERT_TRUE(cache->MultiGet("t", &keys[1000], 200, true, &got, &found).ok());
  EXPECT_EQ(backing->writes.load() - writes_before, 1);
  EXPECT_EQ(StatsOf(*cache).write_back_batches - batches_before, 1u);
  for (size_t i = 0; i < 200; ++i) EXPECT_EQ(got[i], rows[1000 + i]);
  ASSERT_TRUE(cache->Flush().ok());
  ExpectRows(*cache, keys, rows);
}

// A write-back that fails evicts nothing: every row stays readable and dirty,
// and a later Flush persists them all.
TEST(CachedStoreTest, AFailedWriteBackLosesNothing) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  auto cache = Cached(std::move(backing_owner), 8192, 4);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  SequentialRows(400, 2, &keys, &rows);
  backing->fail_writes = true;
  const Status s = cache->Write("t", keys.data(), keys.size(), rows.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("injected write failure"), std::string::npos) << s.ToString();
  CachedStore::Stats st = StatsOf(*cache);
  EXPECT_EQ(st.rows, keys.size());
  EXPECT_EQ(st.dirty_rows, keys.size());
  EXPECT_EQ(st.evictions, 0u);
  ExpectRows(*cache, keys, rows);
  backing->fail_writes = false;
  ASSERT_TRUE(cache->Flush().ok());
  EXPECT_EQ(backing->Count("t").value(), keys.size());
}

// Holds a backing Write until Open (at most 10 s: a bug fails the test
// instead of hanging it).
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return open_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Every row of `keys` read in one MultiGetVisit, whatever its status.
std::map<uint64_t, std::string> ReadAll(const EmbeddingStore& store,
                                        const std::vector<uint64_t>& keys, Status* status) {
  std::map<uint64_t, std::string> got;
  *status = store.MultiGetVisit("t", keys.data(), keys.size(), true,
                                [&](size_t i, bool found, std::string_view row) {
                                  if (found) got[keys[i]] = std::string(row);
                                  return Status::OK();
                                });
  return got;
}

std::map<uint64_t, std::string> BackingRows(const EmbeddingStore& backing) {
  std::map<uint64_t, std::string> rows;
  CHECK(backing
            .ForEach("t",
                     [&](uint64_t k, std::string_view row) {
                       rows[k] = std::string(row);
                       return true;
                     })
            .ok());
  return rows;
}

// A 16 KB cache with an 8 KB write-behind over a CountingStore whose Writes
// wait for `gate`, table "t", and 200 rows to write (~24 KB charged: most of
// them are evicted).
struct HeldWriteBehind {
  HeldWriteBehind() {
    auto owner = std::make_unique<CountingStore>();
    backing = owner.get();
    backing->before_write = [this] { gate.Wait(); };
    cache = Cached(std::move(owner), 16384, 2, 8192);
    CHECK(cache->CreateTable("t").ok());
    SequentialRows(200, 1, &keys, &rows);
  }
  Gate gate;
  CountingStore* backing = nullptr;
  std::unique_ptr<EmbeddingStore> cache;
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
};

// With write-behind an eviction does not wait for the backing store: a Write
// returns while the backing Write of the rows it evicted is held, and a read
// finds those rows in the write-behind (no backing lookup).
TEST(CachedStoreTest, WriteBehindTakesTheBackingWriteOffTheCallersPath) {
  HeldWriteBehind h;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.cache->Write("t", h.keys.data(), h.keys.size(), h.rows.data()).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  CachedStore::Stats st = StatsOf(*h.cache);
  EXPECT_GT(st.evictions, 100u);
  EXPECT_EQ(st.write_behind_rows, st.evictions);  // all held: the backing Write waits
  EXPECT_EQ(st.write_backs, 0u);
  EXPECT_GE(st.bytes_used, st.write_behind_bytes);
  EXPECT_GT(st.write_behind_bytes, 0u);

  Status read;
  EXPECT_EQ(ReadAll(*h.cache, h.keys, &read), RowsOf(h.keys, h.rows));
  EXPECT_TRUE(read.ok()) << read.ToString();
  EXPECT_EQ(h.backing->multigets.load(), 0);
  EXPECT_EQ(StatsOf(*h.cache).write_behind_hits, st.evictions);

  h.gate.Open();
  ASSERT_TRUE(h.cache->Flush().ok());
  st = StatsOf(*h.cache);
  EXPECT_EQ(st.write_behind_rows, 0u);
  EXPECT_EQ(st.dirty_rows, 0u);
  EXPECT_EQ(BackingRows(*h.backing), RowsOf(h.keys, h.rows));
}

// A background write that fails loses nothing: its h.rows stay readable, Flush
// and the next evicting call return the error, and once the h.backing store
// works again a Flush writes every row, the newest version of each.
TEST(CachedStoreTest, AFailedWriteBehindLosesNothing) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  backing->fail_writes = true;
  auto cache = Cached(std::move(backing_owner), 16384, 2, 8192);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  SequentialRows(200, 1, &keys, &rows);
  ASSERT_TRUE(cache->Write("t", keys.data(), keys.size(), rows.data()).ok());  // handed over
  Status s = cache->Flush();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("injected write failure"), std::string::npos) << s.ToString();

  Status read;
  EXPECT_EQ(ReadAll(*cache, keys, &read), RowsOf(keys, rows));
  // The read's own evictions may fail; then it evicts nothing.
  EXPECT_TRUE(read.ok() || read.message().find("injected") != std::string::npos) << read.ToString();

  std::vector<std::string> rows2;
  SequentialRows(200, 2, &keys, &rows2);
  s = cache->Write("t", keys.data(), keys.size(), rows2.data());
  EXPECT_NE(s.message().find("injected write failure"), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadAll(*cache, keys, &read), RowsOf(keys, rows2));

  backing->fail_writes = false;
  ASSERT_TRUE(cache->Flush().ok());
  EXPECT_EQ(BackingRows(*backing), RowsOf(keys, rows2));
}

// A Delete waits for the write-behind: a row evicted before the Delete never
// reaches the backing store after it.
TEST(CachedStoreTest, ADeleteIsNotUndoneByTheWriteBehind) {
  HeldWriteBehind h;
  ASSERT_TRUE(h.cache->Write("t", h.keys.data(), h.keys.size(), h.rows.data()).ok());
  Status deleted;
  std::thread deleter([&] { deleted = h.cache->Delete("t", h.keys.data(), 100); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  h.gate.Open();
  deleter.join();
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  ASSERT_TRUE(h.cache->Flush().ok());
  const std::vector<uint64_t> kept(h.keys.begin() + 100, h.keys.end());
  const std::vector<std::string> kept_rows(h.rows.begin() + 100, h.rows.end());
  EXPECT_EQ(BackingRows(*h.backing), RowsOf(kept, kept_rows));
  Status read;
  EXPECT_EQ(ReadAll(*h.cache, h.keys, &read), RowsOf(kept, kept_rows));
  EXPECT_TRUE(read.ok());
}

// Flush writes the dirty h.rows back in h.backing Writes of at most 65,536 h.rows
// per table.
TEST(CachedStoreTest, FlushWritesBackInBoundedBatches) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  auto cache = Cached(std::move(backing_owner), 64 << 20);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  constexpr uint64_t kRows = 70000;
  std::vector<uint64_t> keys(kRows);
  for (uint64_t k = 0; k < kRows; ++k) keys[k] = k;
  const std::vector<std::string> rows(kRows, "r");
  ASSERT_TRUE(cache->Write("t", keys.data(), kRows, rows.data()).ok());
  EXPECT_EQ(backing->writes.load(), 0);
  ASSERT_TRUE(cache->Flush().ok());
  EXPECT_EQ(backing->writes.load(), 2);
  const CachedStore::Stats st = StatsOf(*cache);
  EXPECT_EQ(st.write_backs, kRows);
  EXPECT_EQ(st.write_back_batches, 2u);
  EXPECT_EQ(st.dirty_rows, 0u);
  EXPECT_EQ(backing->Count("t").value(), kRows);
}

// Close (a server's last call) writes every dirty row back and empties the
// cache; the store still answers from the backing store, with the last values.
TEST(CachedStoreTest, CloseWritesBackAndReleasesTheCache) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  auto cache = Cached(std::move(backing_owner), 64 << 20);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  constexpr uint64_t kRows = 5000;
  std::vector<uint64_t> keys(kRows);
  std::vector<std::string> rows(kRows);
  for (uint64_t k = 0; k < kRows; ++k) {
    keys[k] = k * 7;
    rows[k] = "row" + std::to_string(k);
  }
  ASSERT_TRUE(cache->Write("t", keys.data(), kRows, rows.data()).ok());
  rows[3] = "rewritten";
  ASSERT_TRUE(cache->Write("t", &keys[3], 1, &rows[3]).ok());
  ASSERT_GT(StatsOf(*cache).bytes_used, 0u);
  ASSERT_TRUE(cache->Close().ok());
  const CachedStore::Stats st = StatsOf(*cache);
  EXPECT_EQ(st.rows, 0u);
  EXPECT_EQ(st.bytes_used, 0u);
  EXPECT_EQ(st.dirty_rows, 0u);
  EXPECT_EQ(backing->Count("t").value(), kRows);
  std::vector<std::string> got(kRows);
  ASSERT_TRUE(cache->MultiGetVisit("t", keys.data(), kRows, /*sorted=*/true,
                                   [&](size_t i, bool found, std::string_view row) {
                                     EXPECT_TRUE(found) << i;
                                     got[i] = std::string(row);
                                     return Status::OK();
                                   })
                  .ok());
  EXPECT_EQ(got, rows);
  // Used again after Close, it caches and writes as before.
  ASSERT_TRUE(cache->Write("t", &keys[0], 1, &rows[3]).ok());
  ASSERT_TRUE(cache->Flush().ok());
  EXPECT_EQ(StatsOf(*cache).dirty_rows, 0u);
}

TEST(CachedStoreTest, HitsMissesAndOneBackingLookupPerRequest) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  ASSERT_TRUE(backing->CreateTable("t").ok());
  std::vector<uint64_t> old_keys = {100, 101, 102, 103};
  std::vector<std::string> old_rows = {"a", "b", "c", std::string(100, 'd')};
  ASSERT_TRUE(backing->Write("t", old_keys.data(), 4, old_rows.data()).ok());
  auto cache = Cached(std::move(backing_owner), 1 << 20);  // existing tables are served
  std::vector<uint64_t> new_keys = {1, 2};
  std::vector<std::string> new_rows = {"x", "y"};
  ASSERT_TRUE(cache->Write("t", new_keys.data(), 2, new_rows.data()).ok());
  EXPECT_EQ(backing->writes.load(), 1);  // only the setup write: write-back, not write-through

  // 2 hits (1, 2), 4 misses from the backing store, 1 miss not anywhere.
  const std::vector<uint64_t> keys = {1, 2, 100, 101, 102, 103, 999};
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  ASSERT_TRUE(cache->MultiGet("t", keys.data(), keys.size(), true, &got, &found).ok());
  EXPECT_EQ(backing->multigets.load(), 1);
  EXPECT_TRUE(backing->last_sorted.load());
  EXPECT_EQ(found, std::vector<uint8_t>({1, 1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(got[0], "x");
  EXPECT_EQ(got[5], old_rows[3]);
  CachedStore::Stats st = StatsOf(*cache);
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.misses, 5u);
  EXPECT_EQ(st.rows, 6u);    // fetched rows are cached,
  EXPECT_EQ(st.absent, 1u);  // and so is the absence of 999
  EXPECT_EQ(st.dirty_rows, 2u);

  // Unsorted, with a repeat: everything is now a hit, 999's absence too.
  const std::vector<uint64_t> again = {103, 1, 103, 999};
  ASSERT_TRUE(cache->MultiGet("t", again.data(), again.size(), false, &got, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({1, 1, 1, 0}));
  EXPECT_EQ(got[2], old_rows[3]);
  EXPECT_EQ(backing->multigets.load(), 1);
  st = StatsOf(*cache);
  EXPECT_EQ(st.hits, 6u);
  EXPECT_EQ(st.misses, 5u);
  EXPECT_DOUBLE_EQ(st.hit_rate, 6.0 / 11.0);
  // Each row: its bytes rounded up to 8 (at least 8) plus 64 bytes of index;
  // the absent entry: 64 bytes.
  EXPECT_EQ(st.bytes_used, 7 * 64u + 5 * 8u + 104u);
  EXPECT_EQ(st.capacity_bytes, 1u << 20);

  // All hits: no backing lookup at all.
  ASSERT_TRUE(cache->MultiGet("t", keys.data(), 6, true, &got, &found).ok());
  EXPECT_EQ(backing->multigets.load(), 1);
  // ForEach and Count see the dirty rows.
  EXPECT_EQ(cache->Count("t").value(), 6u);
  EXPECT_EQ(StatsOf(*cache).dirty_rows, 0u);
}

// A key the backing store has no row for is cached as absent: looked up
// again, it is "not found" without a backing lookup, also after the first
// miss of a request; a Write gives it its row (cached, dirty), a Delete or
// eviction drops the entry, and then the backing store is asked again.
TEST(CachedStoreTest, AbsentKeysAreCachedUntilWritten) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  ASSERT_TRUE(backing->CreateTable("t").ok());
  std::vector<uint64_t> stored = {7};
  std::vector<std::string> stored_rows = {"seven"};
  ASSERT_TRUE(backing->Write("t", stored.data(), 1, stored_rows.data()).ok());
  auto cache = Cached(std::move(backing_owner), 1 << 20, /*shards=*/1);
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  const std::vector<uint64_t> new_keys = {1, 2, 3};
  ASSERT_TRUE(cache->MultiGet("t", new_keys.data(), 3, true, &got, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({0, 0, 0}));
  EXPECT_EQ(backing->multigets.load(), 1);
  EXPECT_EQ(StatsOf(*cache).absent, 3u);
  EXPECT_EQ(StatsOf(*cache).rows, 0u);

  // 7 misses first, so 1, 2, 3 are answered from the noted hits after it.
  const std::vector<uint64_t> mixed = {7, 3, 1, 2};
  ASSERT_TRUE(cache->MultiGet("t", mixed.data(), 4, false, &got, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({1, 0, 0, 0}));
  EXPECT_EQ(got[0], "seven");
  EXPECT_EQ(backing->multigets.load(), 2);  // for 7 only
  ASSERT_TRUE(cache->MultiGet("t", new_keys.data(), 3, true, &got, &found).ok());
  EXPECT_EQ(backing->multigets.load(), 2);

  // A Write gives 2 its row; nothing reaches the backing store yet.
  std::vector<uint64_t> two = {2};
  std::vector<std::string> two_row = {"two"};
  ASSERT_TRUE(cache->Write("t", two.data(), 1, two_row.data()).ok());
  ASSERT_TRUE(cache->MultiGet("t", new_keys.data(), 3, true, &got, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({0, 1, 0}));
  EXPECT_EQ(got[1], "two");
  CachedStore::Stats st = StatsOf(*cache);
  EXPECT_EQ(st.absent, 2u);
  EXPECT_EQ(st.rows, 2u);  // 7 and 2
  EXPECT_EQ(st.dirty_rows, 1u);
  EXPECT_EQ(backing->multigets.load(), 2);

  // A Delete drops the entry: the next lookup of 3 asks the backing store.
  std::vector<uint64_t> three = {3};
  ASSERT_TRUE(cache->Delete("t", three.data(), 1).ok());
  EXPECT_EQ(StatsOf(*cache).absent, 1u);
  ASSERT_TRUE(cache->MultiGet("t", three.data(), 1, true, &got, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({0}));
  EXPECT_EQ(backing->multigets.load(), 3);

  // A row written to the backing store behind the cache's back would not be
  // seen (the cache owns its backing store); the bulk writer, the one way
  // rows arrive around Write, drops the table's cached entries first.
  auto writer = cache->NewBulkWriter("t");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE(writer.value()->Add(1, "one").ok());
  ASSERT_TRUE(writer.value()->Finish().ok());
  EXPECT_EQ(StatsOf(*cache).absent, 0u);
  ASSERT_TRUE(cache->MultiGet("t", new_keys.data(), 3, true, &got, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({1, 1, 0}));
  EXPECT_EQ(got[0], "one");
  EXPECT_EQ(got[1], "two");  // written back before the load
}

// Absent entries are evicted like rows: a cache far smaller than the keys
// looked up stays within its budget.
TEST(CachedStoreTest, AbsentEntriesAreEvictedWithinTheBudget) {
  auto cache = Cached(MakeMemoryStore(), 64 * 100, /*shards=*/2);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  std::vector<uint64_t> keys(50);
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  for (uint64_t round = 0; round < 40; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = round * 1000 + i;
    ASSERT_TRUE(cache->MultiGet("t", keys.data(), keys.size(), true, &got, &found).ok());
    EXPECT_LE(StatsOf(*cache).bytes_used, 64u * 100u) << "round " << round;
  }
  EXPECT_GT(StatsOf(*cache).evictions, 0u);
  EXPECT_GT(StatsOf(*cache).absent, 0u);
}

// CLOCK: rows read between evictions keep their reference bit and survive,
// while cold rows written meanwhile are evicted; the budget holds throughout.
TEST(CachedStoreTest, ClockKeepsRowsReadBetweenEvictions) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  const std::string row(56, 'r');  // charged 56 + 64 bytes
  constexpr size_t kRows = 200;    // rows the cache holds
  auto cache = Cached(std::move(backing_owner), kRows * 120, 1);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  std::vector<uint64_t> hot(20);
  for (uint64_t k = 0; k < hot.size(); ++k) hot[k] = k;
  const std::vector<std::string> hot_rows(hot.size(), row);
  ASSERT_TRUE(cache->Write("t", hot.data(), hot.size(), hot_rows.data()).ok());
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  uint64_t next_cold = 1000;
  uint64_t hot_reads = 0, hot_hits = 0;
  for (int round = 0; round < 40; ++round) {
    // 60 new cold rows per round: a FIFO would evict each hot row every
    // ~3 rounds, CLOCK never (the hand passes a hot row at most once between
    // two reads of it).
    std::vector<uint64_t> cold(60);
    for (auto& k : cold) k = next_cold++;
    const std::vector<std::string> cold_rows(cold.size(), row);
    ASSERT_TRUE(cache->Write("t", cold.data(), cold.size(), cold_rows.data()).ok());
    const CachedStore::Stats before = StatsOf(*cache);
    ASSERT_TRUE(cache->MultiGet("t", hot.data(), hot.size(), true, &got, &found).ok());
    const CachedStore::Stats after = StatsOf(*cache);
    for (size_t i = 0; i < hot.size(); ++i) ASSERT_TRUE(found[i] && got[i] == row) << i;
    if (round >= 5) {  // past the warm-up
      hot_reads += hot.size();
      hot_hits += after.hits - before.hits;
    }
    ASSERT_LE(after.bytes_used, kRows * 120);
  }
  EXPECT_EQ(hot_hits, hot_reads);
  const CachedStore::Stats st = StatsOf(*cache);
  EXPECT_EQ(st.rows, kRows);
  // Rows inserted: the writes and the fetched misses (hot rows evicted
  // during the warm-up).
  EXPECT_EQ(st.rows + st.evictions, 20u + 40u * 60u + st.misses);
  // Every cold row evicted was dirty and reached the backing store.
  EXPECT_GE(st.write_backs, 40u * 60u - kRows);
  EXPECT_EQ(backing->Count("t").value(), st.write_backs);
}

// A read reserves its misses before fetching them: a Write or Delete of the
// same key that lands while the fetch runs is not undone by the fetched row.
TEST(CachedStoreTest, AWriteOrDeleteDuringAFetchWins) {
  auto backing_owner = std::make_unique<CountingStore>();
  CountingStore* backing = backing_owner.get();
  ASSERT_TRUE(backing->CreateTable("t").ok());
  const std::vector<uint64_t> keys = {7, 8};
  const std::vector<std::string> old_rows = {"old7", "old8"};
  ASSERT_TRUE(backing->Write("t", keys.data(), 2, old_rows.data()).ok());
  auto cache = Cached(std::move(backing_owner), 1 << 20);
  const std::string new_row = "new7";
  backing->after_fetch = [&] {
    ASSERT_TRUE(cache->Write("t", &keys[0], 1, &new_row).ok());
    ASSERT_TRUE(cache->Delete("t", &keys[1], 1).ok());
  };
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  ASSERT_TRUE(cache->MultiGet("t", keys.data(), 2, true, &got, &found).ok());
  EXPECT_EQ(got, old_rows);  // what the read fetched
  backing->after_fetch = nullptr;
  ASSERT_TRUE(cache->MultiGet("t", keys.data(), 2, true, &got, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({1, 0}));
  EXPECT_EQ(got[0], new_row);
  const CachedStore::Stats st = StatsOf(*cache);
  EXPECT_EQ(st.rows, 1u);
  EXPECT_EQ(st.dirty_rows, 1u);
  EXPECT_EQ(st.absent, 1u);  // 8, from the second read
  EXPECT_EQ(st.bytes_used, 64u + 8u + 64u);  // no reservation left behind
  EXPECT_EQ(cache->Count("t").value(), 1u);
}

// Rows that change size free and take arena space of many sizes; the arena
// compacts itself and every row keeps its content.
TEST(CachedStoreTest, RowsChangingSizeKeepTheirContent) {
  auto cache = Cached(MakeMemoryStore(), 256 << 10, 2);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  std::map<uint64_t, std::string> ref;
  std::mt19937_64 rng(11);
  for (int round = 0; round < 400; ++round) {
    std::vector<uint64_t> keys(50);
    std::vector<std::string> rows;
    for (auto& k : keys) k = rng() % 2000;
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (uint64_t k : keys) {
      rows.push_back(RowFor(k, round) +
                     std::string(rng() % 600, static_cast<char>('a' + round % 26)));
      ref[k] = rows.back();
    }
    ASSERT_TRUE(cache->Write("t", keys.data(), keys.size(), rows.data()).ok());
    ASSERT_LE(StatsOf(*cache).bytes_used, 256u << 10);
  }
  std::vector<uint64_t> keys;
  for (const auto& [k, row] : ref) keys.push_back(k);
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  ASSERT_TRUE(cache->MultiGet("t", keys.data(), keys.size(), true, &got, &found).ok());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(found[i]);
    ASSERT_EQ(got[i], ref[keys[i]]) << keys[i];
  }
  EXPECT_EQ(cache->Count("t").value(), ref.size());
}

TEST(CachedStoreTest, RejectsBadOptions) {
  RowCacheOptions o;
  o.capacity_bytes = 0;
  EXPECT_EQ(MakeCachedStore(MakeMemoryStore(), o).status().code(), Status::Code::kInvalidArgument);
  o = RowCacheOptions();
  o.shards = 0;
  EXPECT_EQ(MakeCachedStore(MakeMemoryStore(), o).status().code(), Status::Code::kInvalidArgument);
  o = RowCacheOptions();
  o.write_behind_bytes = o.capacity_bytes;  // leaves the shards nothing
  EXPECT_EQ(MakeCachedStore(MakeMemoryStore(), o).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(MakeCachedStore(nullptr, RowCacheOptions()).status().code(),
            Status::Code::kInvalidArgument);
  auto cache = Cached(MakeMemoryStore(), 1000);
  const uint64_t key = 1;
  std::vector<std::string> rows;
  std::vector<uint8_t> found;
  EXPECT_EQ(cache->MultiGet("nope", &key, 1, true, &rows, &found).code(), Status::Code::kNotFound);
}

// Writers own disjoint key ranges and bump a version per key; readers check
// every row they see is well formed and never older than a version its
// writer had already finished before the read began.
class ConcurrentTest : public ::testing::TestWithParam<size_t> {};  // write-behind bytes

TEST_P(ConcurrentTest, ReadersAndWriters) {
  constexpr int kWriters = 3;
  constexpr int kReaders = 3;
  constexpr uint64_t kKeysPerWriter = 200;
  constexpr int kRounds = 60;
  auto cache = Cached(MakeMemoryStore(), 16 << 10, 4, GetParam());
  ASSERT_TRUE(cache->CreateTable("t").ok());
  std::vector<std::atomic<int>> done(kWriters);  // last round finished by each writer
  for (auto& d : done) d = -1;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::vector<uint64_t> keys(kKeysPerWriter);
      std::vector<std::string> rows(kKeysPerWriter);
      for (int round = 0; round < kRounds; ++round) {
        for (uint64_t i = 0; i < kKeysPerWriter; ++i) {
          keys[i] = w * kKeysPerWriter + i;
          rows[i] = RowFor(keys[i], round);
        }
        if (!cache->Write("t", keys.data(), keys.size(), rows.data()).ok()) failed = true;
        done[w] = round;
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937_64 rng(r);
      std::vector<std::string> got;
      std::vector<uint8_t> found;
      for (int it = 0; it < 300; ++it) {
        std::vector<uint64_t> keys(32);
        for (auto& k : keys) k = rng() % (kWriters * kKeysPerWriter);
        std::vector<int> floor(keys.size());
        for (size_t i = 0; i < keys.size(); ++i) floor[i] = done[keys[i] / kKeysPerWriter];
        if (!cache->MultiGet("t", keys.data(), keys.size(), false, &got, &found).ok()) {
          failed = true;
        }
        for (size_t i = 0; i < keys.size(); ++i) {
          if (!found[i]) {
            if (floor[i] >= 0) failed = true;
            continue;
          }
          const std::string prefix = "row-" + std::to_string(keys[i]) + "-v";
          if (got[i].compare(0, prefix.size(), prefix) != 0) failed = true;
          const int version = std::stoi(got[i].substr(prefix.size()));
          if (version < floor[i]) failed = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(failed.load());
  ASSERT_TRUE(cache->Flush().ok());
  EXPECT_EQ(cache->Count("t").value(), kWriters * kKeysPerWriter);
  std::vector<uint64_t> keys(kWriters * kKeysPerWriter);
  for (uint64_t k = 0; k < keys.size(); ++k) keys[k] = k;
  std::vector<std::string> got;
  std::vector<uint8_t> found;
  ASSERT_TRUE(cache->MultiGet("t", keys.data(), keys.size(), true, &got, &found).ok());
  for (uint64_t k = 0; k < keys.size(); ++k) EXPECT_EQ(got[k], RowFor(k, kRounds - 1));
}

// Threads that own disjoint keys write, read, delete and flush through one
// small cache (every shard shared, constant eviction and write-back): each
// sees exactly its own writes and deletes.
TEST_P(ConcurrentTest, OwnersOfDisjointKeysSeeTheirOwnWrites) {
  constexpr int kThreads = 4;
  constexpr uint64_t kKeysPerThread = 300;
  auto cache = Cached(MakeMemoryStore(), 8 << 10, 8, GetParam() / 2);
  ASSERT_TRUE(cache->CreateTable("t").ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      std::map<uint64_t, std::string> ref;
      std::vector<std::string> got;
      std::vector<uint8_t> found;
      for (int op = 0; op < 1500; ++op) {
        std::vector<uint64_t> keys(1 + rng() % 40);
        for (auto& k : keys) k = t * kKeysPerThread + rng() % kKeysPerThread;
        const int what = static_cast<int>(rng() % 10);
        if (what < 4) {
          std::vector<std::string> rows;
          for (uint64_t k : keys) rows.push_back(RowFor(k, op));
          if (!cache->Write("t", keys.data(), keys.size(), rows.data()).ok()) ++failures;
          for (size_t i = 0; i < keys.size(); ++i) ref[keys[i]] = rows[i];
        } else if (what < 8) {
          if (!cache->MultiGet("t", keys.data(), keys.size(), false, &got, &found).ok()) {
            ++failures;
            continue;
          }
          for (size_t i = 0; i < keys.size(); ++i) {
            auto it = ref.find(keys[i]);
            if ((found[i] != 0) != (it != ref.end())) ++failures;
            if (found[i] && it != ref.end() && got[i] != it->second) ++failures;
          }
        } else if (what == 8) {
          if (!cache->Delete("t", keys.data(), keys.size()).ok()) ++failures;
          for (uint64_t k : keys) ref.erase(k);
        } else if (!cache->Flush().ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const CachedStore::Stats st = StatsOf(*cache);
  EXPECT_LE(st.bytes_used - st.write_behind_bytes, (8u << 10) - GetParam() / 2);
}

INSTANTIATE_TEST_SUITE_P(WriteBehind, ConcurrentTest, ::testing::Values(0, 4096),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param == 0 ? std::string("Off") : std::string("On");
                         });

}  // namespace
}  // namespace msrec
