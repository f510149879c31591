// One suite run against every EmbeddingStore (memory and RocksDB), plus the
// local client over each: both stores must give the same pulls after the same
// pushes. Also RocksDB reopen and SaveStore/LoadStore.
#include <sched.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "parameter_server/embedding_store.h"
#include "parameter_server/internal/row.h"
#include "parameter_server/local_client.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"

namespace msrec {
namespace {

// A fresh directory under /tmp, removed with its content on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/msrec_ps_test_XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

RocksDbStoreOptions SmallRocksOptions() {
  RocksDbStoreOptions o;
  o.write_buffer_bytes = 4 << 20;
  o.block_cache_bytes = 8 << 20;
  return o;
}

struct MemoryStoreFactory {
  static std::unique_ptr<EmbeddingStore> Make(const std::string& dir) { return MakeMemoryStore(); }
};

struct RocksDbStoreFactory {
  static std::unique_ptr<EmbeddingStore> Make(const std::string& dir) {
    auto store = OpenRocksDbStore(dir + "/db", SmallRocksOptions());
    CHECK(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }
};

// The read and compaction settings that are not the defaults: data blocks
// cached, checksums not verified, SST files read through mmap, compaction
// inputs read ahead.
struct RocksDbOtherReadsFactory {
  static std::unique_ptr<EmbeddingStore> Make(const std::string& dir) {
    RocksDbStoreOptions o = SmallRocksOptions();
    o.cache_data_blocks = !o.cache_data_blocks;
    o.verify_read_checksums = !o.verify_read_checksums;
    o.mmap_reads = !o.mmap_reads;
    o.compaction_readahead_bytes = size_t{2} << 20;
    auto store = OpenRocksDbStore(dir + "/db", o);
    CHECK(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }
};

template <typename Factory>
class EmbeddingStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<EmbeddingStore> MakeStore() { return Factory::Make(dir_.path()); }
  TempDir dir_;
};

using StoreTypes =
    ::testing::Types<MemoryStoreFactory, RocksDbStoreFactory, RocksDbOtherReadsFactory>;
TYPED_TEST_SUITE(EmbeddingStoreTest, StoreTypes);

TYPED_TEST(EmbeddingStoreTest, WriteThenMultiGet) {
  auto store = this->MakeStore();
  ASSERT_TRUE(store->CreateTable("a").ok());
  ASSERT_TRUE(store->CreateTable("a").ok());  // idempotent
  ASSERT_TRUE(store->CreateTable("b").ok());
  EXPECT_EQ(store->TableNames(), std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(store->CreateTable("default").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store->CreateTable("").code(), Status::Code::kInvalidArgument);

  const uint64_t keys[] = {5, ~0ULL, 1ULL << 40};
  const std::string rows[] = {"five", "max", std::string(300, 'x')};
  ASSERT_TRUE(store->Write("a", keys, 3, rows).ok());

  const uint64_t query[] = {1ULL << 40, 6, 5, 5};
  std::vector<std::string> out;
  std::vector<uint8_t> found;
  ASSERT_TRUE(store->MultiGet("a", query, 4, false, &out, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({1, 0, 1, 1}));
  EXPECT_EQ(out[0], rows[2]);
  EXPECT_EQ(out[2], "five");
  EXPECT_EQ(out[3], "five");

  ASSERT_TRUE(store->MultiGet("b", keys, 3, false, &out, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({0, 0, 0}));  // tables are separate
  EXPECT_EQ(store->MultiGet("c", keys, 3, false, &out, &found).code(), Status::Code::kNotFound);
  EXPECT_EQ(store->Write("c", keys, 3, rows).code(), Status::Code::kNotFound);

  const std::string replaced[] = {"FIVE"};
  ASSERT_TRUE(store->Write("a", keys, 1, replaced).ok());
  ASSERT_TRUE(store->MultiGet("a", keys, 1, true, &out, &found).ok());
  EXPECT_EQ(out[0], "FIVE");
  EXPECT_EQ(store->Count("a").value(), 3u);
  EXPECT_EQ(store->Count("b").value(), 0u);
  ASSERT_TRUE(store->Flush().ok());
}

// Keys out of order and repeated in one Write: the last row of a repeated key
// wins (RocksDB's store sorts the batch, stably).
TYPED_TEST(EmbeddingStoreTest, UnsortedWriteWithRepeatsKeepsTheLastRow) {
  auto store = this->MakeStore();
  ASSERT_TRUE(store->CreateTable("a").ok());
  const uint64_t keys[] = {9, 3, ~0ULL, 3, 0, 9, 3};
  const std::string rows[] = {"9a", "3a", "max", "3b", "zero", "9b", "3c"};
  ASSERT_TRUE(store->Write("a", keys, 7, rows).ok());
  const uint64_t query[] = {0, 3, 9, ~0ULL};
  std::vector<std::string> out;
  std::vector<uint8_t> found;
  ASSERT_TRUE(store->MultiGet("a", query, 4, true, &out, &found).ok());
  EXPECT_EQ(found, std::vector<uint8_t>({1, 1, 1, 1}));
  EXPECT_EQ(out, std::vector<std::string>({"zero", "3c", "9b", "max"}));
  EXPECT_EQ(store->Count("a").value(), 4u);
}

TYPED_TEST(EmbeddingStoreTest, ManyKeysAndRowsThatChangeSize) {
  auto store = this->MakeStore();
  ASSERT_TRUE(store->CreateTable("t").ok());
  const size_t n = 20000;  // grows the memory store's hash map several times
  std::vector<uint64_t> keys(n);
  std::vector<std::string> rows(n);
  for (size_t i = 0; i < n; ++i) {
    keys[i] = i * 0x9E3779B97F4A7C15ULL;
    rows[i] = std::string(1 + i % 50, static_cast<char>('a' + i % 26));
  }
  ASSERT_TRUE(store->Write("t", keys.data(), n, rows.data()).ok());
  for (size_t i = 0; i < n; i += 3) rows[i] += "longer";
  for (size_t i = 1; i < n; i += 3) rows[i][0] = 'Z';  // same size, new content
  ASSERT_TRUE(store->Write("t", keys.data(), n, rows.data()).ok());
  std::vector<std::string> out;
  std::vector<uint8_t> found;
  ASSERT_TRUE(store->MultiGet("t", keys.data(), n, false, &out, &found).ok());
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(found[i]) << i;
    ASSERT_EQ(out[i], rows[i]) << i;
  }
  EXPECT_EQ(store->Count("t").value(), n);
  // Sorted, with absent keys among the rows (30k keys in one call), after a
  // Flush (RocksDB: read from SST files, by pread or mmap): each key gets its
  // own answer, in request order.
  ASSERT_TRUE(store->Flush().ok());
  std::map<uint64_t, std::string> want;
  for (size_t i = 0; i < n; ++i) want[keys[i]] = rows[i];
  std::vector<uint64_t> query = keys;
  for (size_t i = 0; i < n / 2; ++i) query.push_back(keys[i] ^ 0x5555);
  std::sort(query.begin(), query.end());
  ASSERT_TRUE(store->MultiGet("t", query.data(), query.size(), true, &out, &found).ok());
  for (size_t i = 0; i < query.size(); ++i) {
    const auto it = want.find(query[i]);
    ASSERT_EQ(found[i] != 0, it != want.end()) << i;
    if (it != want.end()) {
      ASSERT_EQ(out[i], it->second) << i;
    }
  }
}

TYPED_TEST(EmbeddingStoreTest, ForEachIsInKeyOrderAndStops) {
  auto store = this->MakeStore();
  ASSERT_TRUE(store->CreateTable("t").ok());
  const uint64_t keys[] = {300, 2, ~0ULL, 256, 1};
  const std::string rows[] = {"300", "2", "max", "256", "1"};
  ASSERT_TRUE(store->Write("t", keys, 5, rows).ok());
  std::vector<uint64_t> seen;
  std::vector<std::string> seen_rows;
  ASSERT_TRUE(store
                  ->ForEach("t",
                            [&](uint64_t key, std::string_view row) {
                              seen.push_back(key);
                              seen_rows.emplace_back(row);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(seen, std::vector<uint64_t>({1, 2, 256, 300, ~0ULL}));
  EXPECT_EQ(seen_rows, std::vector<std::string>({"1", "2", "256", "300", "max"}));
  int calls = 0;
  ASSERT_TRUE(store->ForEach("t", [&](uint64_t, std::string_view) { return ++calls < 2; }).ok());
  EXPECT_EQ(calls, 2);
}

TableConfig Config(const std::string& name, SparseOptimizerKind kind, int dim) {
  TableConfig c;
  c.name = name;
  c.dim = dim;
  c.init_scale = 0.05f;
  c.seed = 7;
  c.optimizer.kind = kind;
  c.optimizer.learning_rate = 0.05f;
  return c;
}

// Runs a fixed random sequence of pulls and pushes on `client` and returns
// every pulled value, so two stores can be compared bit for bit.
std::vector<float> RunSequence(PsClient* client) {
  const int dim = 4;
  EXPECT_TRUE(client->CreateTable(Config("adam", SparseOptimizerKind::kAdam, dim)).ok());
  EXPECT_TRUE(client->CreateTable(Config("ada", SparseOptimizerKind::kAdagrad, dim)).ok());
  EXPECT_TRUE(client->CreateTable(Config("sgd", SparseOptimizerKind::kSgd, dim)).ok());
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> grad(-1.0f, 1.0f);
  std::vector<float> pulled;
  for (int step = 1; step <= 20; ++step) {
    for (const char* table : {"adam", "ada", "sgd"}) {
      std::vector<uint64_t> keys;
      for (int i = 0; i < 64; ++i) keys.push_back(rng() % 100);  // repeats on purpose
      std::vector<float> w(keys.size() * dim);
      EXPECT_TRUE(client->Pull(table, keys.data(), keys.size(), w.data()).ok());
      pulled.insert(pulled.end(), w.begin(), w.end());
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      std::shuffle(keys.begin(), keys.end(), rng);
      std::vector<float> g(keys.size() * dim);
      for (float& x : g) x = grad(rng);
      EXPECT_TRUE(client->Push(table, keys.data(), keys.size(), g.data(), step).ok());
    }
  }
  EXPECT_TRUE(client->Flush().ok());
  return pulled;
}

TYPED_TEST(EmbeddingStoreTest, ClientAgreesWithMemoryReference) {
  auto reference = MakeLocalClient(MakeMemoryStore());
  auto client = MakeLocalClient(this->MakeStore());
  const std::vector<float> expected = RunSequence(reference.get());
  const std::vector<float> got = RunSequence(client.get());
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "value " << i;
}

TYPED_TEST(EmbeddingStoreTest, PushCreatesRowsWithFrequencyAndStep) {
  auto client = std::make_unique<LocalClient>(this->MakeStore());
  ASSERT_TRUE(client->CreateTable(Config("t", SparseOptimizerKind::kSgd, 2)).ok());
  const uint64_t keys[] = {10, 20};
  float before[4];
  ASSERT_TRUE(client->Pull("t", keys, 2, before).ok());
  EXPECT_EQ(client->store()->Count("t").value(), 0u);  // Pull writes nothing
  const float grads[] = {1.0f, 1.0f, -1.0f, -1.0f};
  ASSERT_TRUE(client->Push("t", keys, 2, grads, 3).ok());
  ASSERT_TRUE(client->Push("t", keys, 1, grads, 5).ok());
  float after[4];
  ASSERT_TRUE(client->Pull("t", keys, 2, after).ok());
  EXPECT_FLOAT_EQ(after[0], before[0] - 0.1f);  // two SGD steps of lr 0.05 * g 1
  EXPECT_FLOAT_EQ(after[2], before[2] + 0.05f);
  std::vector<std::string> rows;
  std::vector<uint8_t> found;
  ASSERT_TRUE(client->store()->MultiGet("t", keys, 2, true, &rows, &found).ok());
  Row row;
  ASSERT_TRUE(DecodeRow(rows[0], "t", 10, &row).ok());
  EXPECT_EQ(row.frequency, 2u);
  EXPECT_EQ(row.last_step, 5);
  ASSERT_TRUE(DecodeRow(rows[1], "t", 20, &row).ok());
  EXPECT_EQ(row.frequency, 1u);
  EXPECT_EQ(row.last_step, 3);
}

TYPED_TEST(EmbeddingStoreTest, SaveLoadRoundTrip) {
  auto client = std::make_unique<LocalClient>(this->MakeStore());
  RunSequence(client.get());
  const std::string path = this->dir_.path() + "/store.bin";
  ASSERT_TRUE(SaveStore(*client->store(), path).ok());
  auto loaded = MakeMemoryStore();
  ASSERT_TRUE(LoadStore(path, loaded.get()).ok());
  EXPECT_EQ(loaded->TableNames(), client->store()->TableNames());
  for (const std::string& table : loaded->TableNames()) {
    std::vector<std::pair<uint64_t, std::string>> a, b;
    ASSERT_TRUE(client->store()
                    ->ForEach(table,
                              [&](uint64_t k, std::string_view r) {
                                a.emplace_back(k, std::string(r));
                                return true;
                              })
                    .ok());
    ASSERT_TRUE(loaded
                    ->ForEach(table,
                              [&](uint64_t k, std::string_view r) {
                                b.emplace_back(k, std::string(r));
                                return true;
                              })
                    .ok());
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, b) << table;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(SaveStoreTest, CorruptFileIsDetected) {
  TempDir dir;
  auto client = std::make_unique<LocalClient>(MakeMemoryStore());
  RunSequence(client.get());
  const std::string path = dir.path() + "/store.bin";
  ASSERT_TRUE(SaveStore(*client->store(), path).ok());
  const std::string good = ReadFile(path);

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  WriteFile(path, flipped);
  auto target = MakeMemoryStore();
  Status s = LoadStore(path, target.get());
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos);
  EXPECT_TRUE(target->TableNames().empty());  // nothing written from a bad file

  WriteFile(path, good.substr(0, good.size() - 100));
  EXPECT_EQ(LoadStore(path, target.get()).code(), Status::Code::kCorruption);
  WriteFile(path, "short");
  EXPECT_EQ(LoadStore(path, target.get()).code(), Status::Code::kCorruption);
  EXPECT_EQ(LoadStore(dir.path() + "/missing.bin", target.get()).code(), Status::Code::kIoError);
  EXPECT_TRUE(target->TableNames().empty());

  WriteFile(path, good);
  EXPECT_TRUE(LoadStore(path, target.get()).ok());
}

TEST(RocksDbStoreTest, ReopenKeepsTablesAndRows) {
  TempDir dir;
  const std::string db = dir.path() + "/db";
  std::vector<float> before;
  const uint64_t keys[] = {1, 2, 3, 99};
  {
    auto store = OpenRocksDbStore(db, SmallRocksOptions());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto client = MakeLocalClient(std::move(store).value());
    RunSequence(client.get());
    before.resize(4 * 4);
    ASSERT_TRUE(client->Pull("adam", keys, 4, before.data()).ok());
  }  // closed without an explicit Flush: the destructor must persist the memtables
  auto store = OpenRocksDbStore(db, SmallRocksOptions());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store.value()->TableNames(), std::vector<std::string>({"ada", "adam", "sgd"}));
  EXPECT_GT(store.value()->Count("adam").value(), 50u);
  auto client = MakeLocalClient(std::move(store).value());
  // Reopened with another dim: the stored rows do not fit.
  EXPECT_EQ(client->CreateTable(Config("adam", SparseOptimizerKind::kAdam, 8)).code(),
            Status::Code::kInvalidArgument);
  ASSERT_TRUE(client->CreateTable(Config("adam", SparseOptimizerKind::kAdam, 4)).ok());
  std::vector<float> after(4 * 4);
  ASSERT_TRUE(client->Pull("adam", keys, 4, after.data()).ok());
  EXPECT_EQ(after, before);
}

// Databases written before universal compaction became the default (leveled;
// six flushes, so L0 files and at least one compaction) reopen with it, rows
// intact.
TEST(RocksDbStoreTest, LeveledDatabaseReopensWithUniversalCompaction) {
  TempDir dir;
  const std::string db = dir.path() + "/db";
  const uint64_t keys[] = {1, 2, 3, 99};
  std::vector<float> before(4 * 4);
  RocksDbStoreOptions leveled = SmallRocksOptions();
  leveled.universal_compaction = false;
  for (int cycle = 0; cycle < 6; ++cycle) {  // each close flushes one more SST file
    auto store = OpenRocksDbStore(db, leveled);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto client = MakeLocalClient(std::move(store).value());
    RunSequence(client.get());
    ASSERT_TRUE(client->Pull("adam", keys, 4, before.data()).ok());
  }
  RocksDbStoreOptions universal = SmallRocksOptions();
  ASSERT_TRUE(universal.universal_compaction);
  auto store = OpenRocksDbStore(db, universal);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto client = MakeLocalClient(std::move(store).value());
  ASSERT_TRUE(client->CreateTable(Config("adam", SparseOptimizerKind::kAdam, 4)).ok());
  std::vector<float> after(4 * 4);
  ASSERT_TRUE(client->Pull("adam", keys, 4, after.data()).ok());
  EXPECT_EQ(after, before);
  RunSequence(client.get());  // and it takes writes
}

// The scheduling policy of this process's threads named `name` (-1: none).
std::vector<int> PoliciesOfThreads(const std::string& name) {
  std::vector<int> policies;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    std::getline(comm, line);
    if (line == name) policies.push_back(sched_getscheduler(std::stoi(task.path().filename())));
  }
  return policies;
}

// low_priority_compaction (the default): a thread that has run a compaction
// runs at SCHED_IDLE afterwards, and the rows come through the compaction.
TEST(RocksDbStoreTest, CompactionsRunAtIdlePriority) {
  TempDir dir;
  RocksDbStoreOptions o = SmallRocksOptions();
  ASSERT_TRUE(o.low_priority_compaction);
  auto opened = OpenRocksDbStore(dir.path() + "/db", o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<EmbeddingStore> store = std::move(opened).value();
  ASSERT_TRUE(store->CreateTable("t").ok());
  // Eight flushed files of overlapping keys: universal compaction merges them.
  const std::string row(64, 'r');
  std::vector<uint64_t> keys(1000);
  std::vector<std::string> rows(keys.size(), row);
  for (int file = 0; file < 8; ++file) {
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = i * 8 + file;
    ASSERT_TRUE(store->Write("t", keys.data(), keys.size(), rows.data()).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  bool idle = false;
  for (int wait = 0; wait < 200 && !idle; ++wait) {
    for (int policy : PoliciesOfThreads("rocksdb:low")) idle = idle || policy == SCHED_IDLE;
    if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(idle) << "no compaction thread runs at SCHED_IDLE";
  EXPECT_EQ(store->Count("t").value(), 8000u);
  EXPECT_TRUE(RocksDbCompactionDebt(*store).ok());
  EXPECT_EQ(RocksDbCompactionDebt(*MakeMemoryStore()).status().code(),
            Status::Code::kInvalidArgument);
}

// SST files in `dir` once compactions have stopped running (polled up to 10 s
// for `done`).
template <typename Done>
size_t SstFilesWhen(const std::string& dir, const EmbeddingStore& store, Done done) {
  size_t files = 0;
  for (int wait = 0; wait < 200; ++wait) {
    files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      files += entry.path().extension() == ".sst";
    }
    if (RocksDbCompactionDebt(store).value().running == 0 && done(files)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return files;
}

// universal_sorted_runs is the number of flushed sorted runs that wait for a
// compaction: 7 flushes stay 7 files at 8, are merged at RocksDB's 4.
TEST(RocksDbStoreTest, UniversalSortedRunsSetWhenCompactionsStart) {
  for (int runs : {4, 8}) {
    SCOPED_TRACE("universal_sorted_runs " + std::to_string(runs));
    TempDir dir;
    RocksDbStoreOptions o = SmallRocksOptions();
    o.universal_sorted_runs = runs;
    std::unique_ptr<EmbeddingStore> store = OpenRocksDbStore(dir.path() + "/db", o).value();
    ASSERT_TRUE(store->CreateTable("t").ok());
    const std::string row(64, 'r');
    std::vector<uint64_t> keys(1000);
    std::vector<std::string> rows(keys.size(), row);
    auto flush_file = [&](int file) {
      for (size_t i = 0; i < keys.size(); ++i) keys[i] = i * 8 + file;
      ASSERT_TRUE(store->Write("t", keys.data(), keys.size(), rows.data()).ok());
      ASSERT_TRUE(store->Flush().ok());
    };
    for (int file = 0; file < 7; ++file) flush_file(file);
    const size_t after7 =
        SstFilesWhen(dir.path() + "/db", *store, [&](size_t n) { return runs == 8 || n <= 4; });
    if (runs == 8) {
      EXPECT_EQ(after7, 7u);
      // 7 sorted runs under a trigger of 8: no compaction wanted, none running.
      const CompactionDebt debt = RocksDbCompactionDebt(*store).value();
      EXPECT_EQ(debt.tables_pending, 0u);
      EXPECT_EQ(debt.running, 0u);
      flush_file(7);  // the 8th sorted run starts a compaction
      EXPECT_LT(SstFilesWhen(dir.path() + "/db", *store, [](size_t n) { return n < 8; }), 8u);
    } else {
      EXPECT_LE(after7, 4u);
    }
    EXPECT_EQ(store->Count("t").value(), runs == 8 ? 8000u : 7000u);
  }
  RocksDbStoreOptions bad = SmallRocksOptions();
  bad.universal_sorted_runs = 1;
  TempDir dir;
  auto opened = OpenRocksDbStore(dir.path() + "/db", bad);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("universal_sorted_runs"), std::string::npos);
}

TEST(RocksDbStoreTest, ErrorsNameThePath) {
  RocksDbStoreOptions o = SmallRocksOptions();
  o.create_if_missing = false;
  auto store = OpenRocksDbStore("/tmp/msrec_no_such_dir_for_ps_test/db", o);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/tmp/msrec_no_such_dir_for_ps_test/db"),
            std::string::npos)
      << store.status().ToString();
}

}  // namespace
}  // namespace msrec
