// Flags, keys, timing and the report of ps_remote_bench.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "bench/ps_remote_bench.h"
#include "parameter_server/sparse_optimizer.h"

namespace msrec {
namespace bench {
namespace {

// Where each flag's value goes, by name.
struct FlagTable {
  std::map<std::string, std::string*> strings;
  std::map<std::string, int*> ints;
  std::map<std::string, uint64_t*> u64s;
  std::map<std::string, size_t*> sizes;
  std::map<std::string, double*> doubles;

  explicit FlagTable(BenchFlags* f) {
    strings = {{"dir", &f->dir}, {"parts", &f->parts}, {"optimizer", &f->optimizer}};
    ints = {{"dim", &f->dim},
            {"batch_rows", &f->batch_rows},
            {"fields", &f->fields},
            {"batches", &f->batches},
            {"reps", &f->reps},
            {"scale_steps", &f->scale_steps},
            {"scale_warmup_steps", &f->scale_warmup_steps},
            {"num_servers", &f->num_servers},
            {"scale_partitioned", &f->scale_partitioned},
            {"scale_universal", &f->scale_universal},
            {"malloc_keep_mb", &f->malloc_keep_mb},
            {"scale_apply_threads", &f->scale_apply_threads},
            {"scale_write_behind_mib", &f->scale_write_behind_mib},
            {"scale_async_prefetch", &f->scale_async_prefetch},
            {"scale_pin_index_filters", &f->scale_pin_index_filters},
            {"scale_cache_data_blocks", &f->scale_cache_data_blocks},
            {"scale_prefetch_threads", &f->scale_prefetch_threads},
            {"scale_verify_checksums", &f->scale_verify_checksums},
            {"scale_mmap_reads", &f->scale_mmap_reads},
            {"scale_low_priority_compaction", &f->scale_low_priority_compaction},
            {"scale_keep", &f->scale_keep},
            {"scale_sorted_runs", &f->scale_sorted_runs},
            {"scale_settle_s", &f->scale_settle_s}};
    u64s = {{"universe", &f->universe},
            {"uncached_rows", &f->uncached_rows},
            {"scale_keys", &f->scale_keys},
            {"fill_batch", &f->fill_batch}};
    sizes = {{"hot_cache_mib", &f->hot_cache_mib},
             {"scale_cache_mib", &f->scale_cache_mib},
             {"scale_memtable_mib", &f->scale_memtable_mib},
             {"scale_block_cache_mib", &f->scale_block_cache_mib},
             {"scale_block_kib", &f->scale_block_kib},
             {"scale_compaction_readahead_kib", &f->scale_compaction_readahead_kib}};
    doubles = {{"zipf", &f->zipf}, {"timeout_s", &f->timeout_s}};
  }

  Status Set(const std::string& name, const std::string& value) {
    char* end = nullptr;
    if (auto it = strings.find(name); it != strings.end()) {
      *it->second = value;
      return Status::OK();
    }
    if (auto it = doubles.find(name); it != doubles.end()) {
      *it->second = std::strtod(value.c_str(), &end);
    } else if (auto it = ints.find(name); it != ints.end()) {
      *it->second = static_cast<int>(std::strtol(value.c_str(), &end, 10));
    } else if (auto it = u64s.find(name); it != u64s.end()) {
      *it->second = std::strtoull(value.c_str(), &end, 10);
    } else if (auto it = sizes.find(name); it != sizes.end()) {
      *it->second = std::strtoull(value.c_str(), &end, 10);
    } else {
      return Status::InvalidArgument("unknown flag --" + name);
    }
    if (value.empty() || *end != '\0') {
      return Status::InvalidArgument("flag --" + name + ": '" + value + "' is not a number");
    }
    return Status::OK();
  }
};

}  // namespace

Status ParseFlags(int argc, char** argv, BenchFlags* flags) {
  FlagTable table(flags);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument " + arg);
    arg = arg.substr(2);
    std::string value;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Status::InvalidArgument("flag --" + arg + " needs a value");
    }
    MSREC_RETURN_IF_ERROR(table.Set(arg, value));
  }
  SparseOptimizerKind kind;
  if (!ParseSparseOptimizerKind(flags->optimizer, &kind)) {
    return Status::InvalidArgument("unknown optimizer " + flags->optimizer);
  }
  if (flags->reps < 1 || flags->batches < 2 || flags->dim < 1 || flags->scale_keys < 1) {
    return Status::InvalidArgument("--reps >= 1, --batches >= 2, --dim >= 1, --scale_keys >= 1");
  }
  if (flags->scale_apply_threads < 1) {
    return Status::InvalidArgument("--scale_apply_threads must be >= 1");
  }
  if (flags->scale_write_behind_mib < -1 ||
      size_t(std::max(0, flags->scale_write_behind_mib)) >= flags->scale_cache_mib) {
    return Status::InvalidArgument(
        "--scale_write_behind_mib must be -1 (default) or in 0 .. "
        "--scale_cache_mib - 1");
  }
  return Status::OK();
}

TableConfig MakeTableConfig(const BenchFlags& flags, const std::string& name) {
  TableConfig config;
  config.name = name;
  config.dim = flags.dim;
  ParseSparseOptimizerKind(flags.optimizer, &config.optimizer.kind);
  return config;
}

size_t RowBytes(const TableConfig& config) {
  auto optimizer = MakeSparseOptimizer(config.optimizer);
  Check(optimizer.status(), "optimizer");
  return 28 + 4 * static_cast<size_t>(config.dim + optimizer.value()->StateFloats(config.dim));
}

ZipfRanks::ZipfRanks(uint64_t n, double s) : n_(n), s_(s) {
  const double top = static_cast<double>(n) + 1;
  span_ = s == 1.0 ? std::log(top) : std::pow(top, 1 - s) - 1;
}

uint64_t ZipfRanks::operator()(std::mt19937_64& rng) const {
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  const double x = s_ == 1.0 ? std::exp(u * span_) : std::pow(span_ * u + 1, 1 / (1 - s_));
  const uint64_t rank = x < 1 ? 0 : static_cast<uint64_t>(x) - 1;
  return std::min(rank, n_ - 1);
}

std::vector<uint64_t> MakeZipfBatch(const ZipfRanks& zipf, std::mt19937_64& rng, size_t draws) {
  std::vector<uint64_t> keys(draws);
  for (uint64_t& k : keys) k = KeyOfRank(zipf(rng));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::vector<uint64_t> MakeUniformBatch(uint64_t n, std::mt19937_64& rng, size_t count) {
  std::vector<uint64_t> keys;
  while (keys.size() < count) {
    while (keys.size() < count) keys.push_back(KeyOfRank(rng() % n));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  }
  return keys;
}

uint64_t TotalKeys(const Batches& batches) {
  uint64_t n = 0;
  for (const auto& b : batches) n += b.size();
  return n;
}

size_t MaxKeys(const Batches& batches) {
  size_t n = 0;
  for (const auto& b : batches) n = std::max(n, b.size());
  return n;
}

void Check(const Status& status, const std::string& what) {
  if (status.ok()) return;
  std::fprintf(stderr, "ps_remote_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t m = values.size() / 2;
  return values.size() % 2 ? values[m] : (values[m - 1] + values[m]) / 2;
}

double TimedRate(const std::function<uint64_t()>& pass) {
  const auto start = std::chrono::steady_clock::now();
  const uint64_t keys = pass();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return keys / std::max(s, 1e-9);
}

double MedianRate(int reps, const std::function<uint64_t()>& pass) {
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) rates.push_back(TimedRate(pass));
  return Median(rates);
}

uint64_t ProcStatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::strtoull(line.c_str() + prefix.size(), nullptr, 10);
  }
  return 0;
}

uint64_t DirBytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t bytes = 0;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;  // a file may vanish under compaction
    if (it->is_regular_file(size_ec)) {
      const uint64_t size = it->file_size(size_ec);
      if (!size_ec) bytes += size;
    }
  }
  return bytes;
}

double StatField(const std::string& text, const std::string& name) {
  const size_t at = text.find(name + "=");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + name.size() + 1, nullptr);
}

std::string FormatRate(double keys_per_s) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.2f M keys/s", keys_per_s / 1e6);
  return text;
}

void Report::Rate(const std::string& part, const std::string& name, double keys_per_s,
                  double target) {
  if (target <= 0) return Text(part, name, FormatRate(keys_per_s));
  Text(part, name, FormatRate(keys_per_s), ">= " + FormatRate(target), keys_per_s >= target);
}

void Report::Text(const std::string& part, const std::string& name, const std::string& value,
                  const std::string& target, int met) {
  lines_.push_back(Line{part, name, value, target, met});
}

void Report::Print() const {
  std::vector<Line> lines = lines_;  // by part, in the order they were measured
  std::stable_sort(lines.begin(), lines.end(),
                   [](const Line& a, const Line& b) { return a.part < b.part; });
  std::printf("\n%-12s %-58s %-18s %-22s %s\n", "part", "figure", "value", "target", "");
  for (const Line& l : lines) {
    const char* verdict = l.met < 0 ? "" : (l.met ? "MET" : "UNMET");
    std::printf("%-12s %-58s %-18s %-22s %s\n", l.part.c_str(), l.name.c_str(), l.value.c_str(),
                l.target.c_str(), verdict);
  }
  std::fflush(stdout);
}

}  // namespace bench
}  // namespace msrec
