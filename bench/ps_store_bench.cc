// Pull/Push throughput of the local client over MemoryStore and RocksDbStore.
// Usage: ps_store_bench [keys=1000000] [batch=8192] [dim=16] [optimizer=adam]
//                       [rocksdb memtable MiB=default] [rocksdb_only]
// Prints keys/s per phase; the RocksDB database lives in a temp dir under /tmp
// that is removed at the end.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "parameter_server/local_client.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"

namespace msrec {
namespace {

struct BenchArgs {
  size_t keys = 1000000;
  size_t batch = 8192;
  int dim = 16;
  std::string optimizer = "adam";
  size_t memtable_mib = 0;  // 0: RocksDbStoreOptions default
  bool skip_memory = false;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Runs `op(begin, count)` over `n` keys in batches and prints the rate.
template <typename Op>
void Phase(const char* store, const char* name, size_t n, size_t batch, Op op) {
  const auto start = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < n; begin += batch) {
    Status s = op(begin, std::min(batch, n - begin));
    if (!s.ok()) {
      std::fprintf(stderr, "%s %s: %s\n", store, name, s.ToString().c_str());
      std::exit(1);
    }
  }
  const double sec = Seconds(start);
  std::printf("%-8s %-22s %10zu keys %8.3f s %12.0f keys/s\n", store, name, n, sec, n / sec);
}

void RunStore(const char* store_name, std::unique_ptr<EmbeddingStore> store, const BenchArgs& a) {
  TableConfig config;
  config.name = "emb";
  config.dim = a.dim;
  if (!ParseSparseOptimizerKind(a.optimizer, &config.optimizer.kind)) {
    std::fprintf(stderr, "unknown optimizer %s\n", a.optimizer.c_str());
    std::exit(2);
  }
  auto client = MakeLocalClient(std::move(store));
  Status s = client->CreateTable(config);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
  std::mt19937_64 rng(42);
  std::vector<uint64_t> keys(a.keys);
  for (auto& k : keys) k = rng();
  // Pull batches: keys drawn with repeats from the full set, as a trainer does.
  std::vector<uint64_t> pull_keys(a.keys);
  for (auto& k : pull_keys) k = keys[rng() % keys.size()];
  std::vector<uint64_t> fresh(a.keys);
  for (auto& k : fresh) k = rng();
  std::vector<float> buf(a.batch * a.dim, 0.001f);
  const size_t n = a.keys;
  const size_t b = a.batch;

  Phase(store_name, "Pull (all missing)", n, b, [&](size_t begin, size_t count) {
    return client->Pull("emb", &fresh[begin], count, buf.data());
  });
  Phase(store_name, "Push (insert)", n, b, [&](size_t begin, size_t count) {
    return client->Push("emb", &keys[begin], count, buf.data(), 1);
  });
  Phase(store_name, "Pull (hit)", n, b, [&](size_t begin, size_t count) {
    return client->Pull("emb", &pull_keys[begin], count, buf.data());
  });
  Phase(store_name, "Push (update)", n, b, [&](size_t begin, size_t count) {
    return client->Push("emb", &keys[begin], count, buf.data(), 2);
  });
  const auto start = std::chrono::steady_clock::now();
  s = client->Flush();
  if (!s.ok()) std::fprintf(stderr, "flush: %s\n", s.ToString().c_str());
  std::printf("%-8s %-22s %8.3f s\n", store_name, "Flush", Seconds(start));
  Phase(store_name, "Pull (hit, flushed)", n, b, [&](size_t begin, size_t count) {
    return client->Pull("emb", &pull_keys[begin], count, buf.data());
  });
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) {
  msrec::BenchArgs a;
  if (argc > 1) a.keys = std::strtoull(argv[1], nullptr, 10);
  if (argc > 2) a.batch = std::strtoull(argv[2], nullptr, 10);
  if (argc > 3) a.dim = std::atoi(argv[3]);
  if (argc > 4) a.optimizer = argv[4];
  if (argc > 5) a.memtable_mib = std::strtoull(argv[5], nullptr, 10);
  if (argc > 6) a.skip_memory = std::string(argv[6]) == "rocksdb_only";
  std::printf("keys %zu, batch %zu, dim %d, optimizer %s\n", a.keys, a.batch, a.dim,
              a.optimizer.c_str());
  if (!a.skip_memory) msrec::RunStore("memory", msrec::MakeMemoryStore(), a);

  char tmpl[] = "/tmp/msrec_ps_bench_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  {
    msrec::RocksDbStoreOptions options;
    if (a.memtable_mib > 0) options.write_buffer_bytes = a.memtable_mib << 20;
    auto store = msrec::OpenRocksDbStore(std::string(tmpl) + "/db", options);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 1;
    }
    msrec::RunStore("rocksdb", std::move(store).value(), a);
  }
  std::filesystem::remove_all(tmpl);
  return 0;
}
