// Checkpoint cost of a large embedding table: fills a table of --rows rows
// (dim --dim, Adam rows: weights + 2 moments) in the memory store (what an
// embedded job or a memory server dumps) or in RocksDB (--store rocksdb: what
// a RocksDB server checkpoints natively), then times what a checkpoint does
// with it: the dump (SaveStore) or the RocksDB checkpoint (flush + hard
// links), the MANIFEST (reads every file for its CRC-32C, fsync),
// verification on resume, and the restore (LoadStore, or opening the
// checkpoint read-only and scanning it). Prints seconds, MiB and MiB/s.
//
//   ./build/bench/checkpoint_bench --rows 10000000 [--store rocksdb] --dir /tmp/msrec_ckpt_bench
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/timer.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"
#include "parameter_server/internal/row.h"
#include "trainer/checkpoint.h"

namespace msrec {
namespace {

// What a RocksDB server's restore does with the live database: clears it
// (ClearStore: every table dropped and created again), then loads every row
// of the checkpoint, twice, side by side: through Write in batches of 65,536
// rows (the memtable path) and through NewBulkWriter (SST files, ingested).
void LiveRestore(const std::string& checkpoint, EmbeddingStore* live, int64_t num_rows) {
  RocksDbStoreOptions read_only;
  read_only.read_only = true;
  read_only.create_if_missing = false;
  Result<std::unique_ptr<EmbeddingStore>> db = OpenRocksDbStore(checkpoint, read_only);
  CHECK(db.ok()) << db.status().ToString();
  for (const char* arm : {"write batches", "bulk writer", "write batches", "bulk writer"}) {
    Timer clear;
    CHECK(ClearStore(live).ok());
    const double clear_s = clear.Seconds();
    Timer load;
    const bool bulk = std::strcmp(arm, "bulk writer") == 0;
    std::unique_ptr<BulkWriter> writer;
    if (bulk) writer = std::move(live->NewBulkWriter("emb")).value();
    std::vector<uint64_t> keys;
    std::vector<std::string> rows;
    CHECK(db.value()
              ->ForEach("emb",
                        [&](uint64_t key, std::string_view row) {
                          if (bulk) return writer->Add(key, row).ok();
                          keys.push_back(key);
                          rows.emplace_back(row);
                          if (keys.size() == 65536) {
                            CHECK(live->Write("emb", keys.data(), keys.size(), rows.data()).ok());
                            keys.clear();
                            rows.clear();
                          }
                          return true;
                        })
              .ok());
    if (bulk) {
      CHECK(writer->Finish().ok());
    } else {
      CHECK(live->Write("emb", keys.data(), keys.size(), rows.data()).ok());
    }
    CHECK(live->Flush().ok());
    const double load_s = load.Seconds();
    Result<uint64_t> count = live->Count("emb");
    CHECK(count.ok() && count.value() == static_cast<uint64_t>(num_rows));
    std::printf("  live restore, %-13s: clear %5.2f s, load + flush %6.2f s (%.2f M rows/s)\n",
                arm, clear_s, load_s, num_rows / load_s / 1e6);
  }
}

int Run(int64_t num_rows, int dim, const std::string& dir, bool rocksdb) {
  CHECK(RemoveTree(dir).ok());
  CHECK(MakeDirs(dir).ok());
  std::unique_ptr<EmbeddingStore> store;
  if (rocksdb) {
    Result<std::unique_ptr<EmbeddingStore>> db = OpenRocksDbStore(dir + "/db");
    CHECK(db.ok()) << db.status().ToString();
    store = std::move(db).value();
  } else {
    store = MakeMemoryStore();
  }
  CHECK(store->CreateTable("emb").ok());
  const RowLayout layout(SparseOptimizerKind::kAdam, dim, 2 * dim);
  std::vector<float> weights(dim, 0.01f), state(2 * dim, 0.001f);
  Timer fill;
  const int64_t batch = 65536;
  std::vector<uint64_t> keys(batch);
  std::vector<std::string> rows(batch);
  for (int64_t start = 0; start < num_rows; start += batch) {
    const int64_t n = std::min(batch, num_rows - start);
    for (int64_t i = 0; i < n; ++i) {
      keys[i] = static_cast<uint64_t>(start + i) * 0x9E3779B97F4A7C15ull;
      weights[0] = static_cast<float>(i);
      layout.Write(weights.data(), state.data(), 1, 1, &rows[i]);
    }
    CHECK(store->Write("emb", keys.data(), n, rows.data()).ok());
  }
  std::printf("filled %lld rows (dim %d, Adam: %zu bytes/row) in %.1f s\n",
              static_cast<long long>(num_rows), dim, layout.bytes(), fill.Seconds());
  const std::string path = CheckpointPath(dir + "/checkpoints", 1000);
  CHECK(MakeDirs(path).ok());
  Timer save;
  if (rocksdb) {
    Status s = store->CheckpointTo(path + "/server-0.rocksdb");
    CHECK(s.ok()) << s.ToString();
  } else {
    CHECK(SaveStore(*store, path + "/sparse.bin").ok());
  }
  const double save_s = save.Seconds();
  Timer manifest;
  Result<CheckpointInfo> info = WriteManifest(path, TrainingPosition{1000, 1, 1000});
  CHECK(info.ok()) << info.status().ToString();
  const double manifest_s = manifest.Seconds();
  const double mib = info->bytes / 1048576.0;
  Timer verify;
  CHECK(VerifyCheckpoint(path).ok());
  const double verify_s = verify.Seconds();
  if (rocksdb) LiveRestore(path + "/server-0.rocksdb", store.get(), num_rows);
  store.reset();
  Timer load;
  if (rocksdb) {  // what a server's restore reads: the checkpoint, opened read-only, scanned
    RocksDbStoreOptions read_only;
    read_only.read_only = true;
    read_only.create_if_missing = false;
    Result<std::unique_ptr<EmbeddingStore>> db =
        OpenRocksDbStore(path + "/server-0.rocksdb", read_only);
    CHECK(db.ok()) << db.status().ToString();
    Result<uint64_t> count = db.value()->Count("emb");
    CHECK(count.ok() && count.value() == static_cast<uint64_t>(num_rows));
  } else {
    std::unique_ptr<EmbeddingStore> restored = MakeMemoryStore();
    CHECK(LoadStore(path + "/sparse.bin", restored.get()).ok());
  }
  const double load_s = load.Seconds();
  std::printf("checkpoint of %lld rows (%s): %.0f MiB\n", static_cast<long long>(num_rows),
              rocksdb ? "RocksDB, native" : "memory store, dump", mib);
  std::printf("  %s%6.2f s  %6.0f MiB/s\n",
              rocksdb ? "RocksDB checkpoint " : "dump (SaveStore)   ", save_s, mib / save_s);
  std::printf("  manifest (CRC+fsync)%5.2f s  %6.0f MiB/s\n", manifest_s, mib / manifest_s);
  std::printf("  write total        %6.2f s\n", save_s + manifest_s);
  std::printf("  verify (--resume)  %6.2f s  %6.0f MiB/s\n", verify_s, mib / verify_s);
  std::printf("  %s%6.2f s  %6.0f MiB/s\n", rocksdb ? "restore (scan)     " : "restore (LoadStore)",
              load_s, mib / load_s);
  CHECK(RemoveTree(dir).ok());
  return 0;
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) {
  int64_t rows = 10000000;
  int dim = 16;
  std::string dir = "/tmp/msrec_ckpt_bench";
  bool rocksdb = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rows") == 0) rows = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--dim") == 0) dim = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    else if (std::strcmp(argv[i], "--store") == 0) rocksdb = std::strcmp(argv[i + 1], "rocksdb") == 0;
  }
  return msrec::Run(rows, dim, dir, rocksdb);
}
