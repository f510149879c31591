// Reader throughput: generates a synthetic CSV (default 2M rows), then reads it
// with 1 and 2 parser threads, converts it to a binary shard and reads that.
// Prints one `name=value` line per figure.
//
//   data_reader_bench [--rows=N] [--dir=PATH] [--batch_size=N] [--keep]
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/timer.h"
#include "trainer/data/generator.h"
#include "trainer/data/reader.h"
#include "trainer/data/shard.h"

namespace msrec {
namespace {

struct BenchArgs {
  int64_t rows = 2000000;
  std::string dir;
  int64_t batch_size = 4096;
  bool keep = false;
};

bool Flag(const char* arg, const char* name, std::string* value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

// Reads `paths` to the end; returns rows/s (best of `repeats`) or -1 on error.
double MeasureRead(const std::vector<std::string>& paths, ReaderOptions options, int repeats,
                   int64_t* rows_out) {
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    Timer timer;
    auto reader = OpenReader(paths, options);
    if (!reader.ok()) {
      std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
      return -1;
    }
    Batch batch;
    int64_t rows = 0;
    uint64_t checksum = 0;
    for (;;) {
      Result<bool> more = (*reader)->Next(&batch);
      if (!more.ok()) {
        std::fprintf(stderr, "%s\n", more.status().ToString().c_str());
        return -1;
      }
      if (!more.value()) break;
      rows += batch.size;
      checksum += batch.keys.empty() ? 0 : batch.keys.back();
    }
    const double secs = timer.Seconds();
    if (checksum == 42) std::fprintf(stderr, " ");  // keeps the loop honest
    *rows_out = rows;
    best = std::max(best, rows / secs);
  }
  return best;
}

int Run(const BenchArgs& args) {
  std::string dir = args.dir;
  bool made_dir = false;
  if (dir.empty()) {
    std::string tmpl = "/tmp/msrec_data_bench.XXXXXX";
    dir = mkdtemp(tmpl.data());
    made_dir = true;
  }
  GeneratorOptions gen;
  gen.num_rows = args.rows;
  SyntheticModel model(gen);
  const std::string csv = dir + "/bench.csv";
  const std::string shard = dir + "/bench.shard";

  Timer timer;
  Status st = GenerateCsv(gen, {{csv, args.rows}});
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("rows=%lld\n", static_cast<long long>(args.rows));
  std::printf("generate_rows_per_s=%.0f\n", args.rows / timer.Seconds());
  std::printf("csv_bytes_per_row=%.1f\n", double(FileSize(csv)) / args.rows);

  ReaderOptions options;
  options.schema = SchemaSpec::Parse(model.SchemaSpecString()).value();
  options.batch_size = args.batch_size;
  int64_t rows = 0;
  for (int threads : {1, 2}) {
    options.num_threads = threads;
    const double rate = MeasureRead({csv}, options, 2, &rows);
    if (rate < 0 || rows != args.rows) return 1;
    std::printf("csv_rows_per_s_threads%d=%.0f\n", threads, rate);
  }

  timer.Reset();
  options.num_threads = 2;
  st = ConvertToShards({csv}, options, shard);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("convert_rows_per_s=%.0f\n", args.rows / timer.Seconds());
  std::printf("shard_bytes_per_row=%.1f\n", double(FileSize(shard)) / args.rows);
  const double rate = MeasureRead({shard}, options, 3, &rows);
  if (rate < 0 || rows != args.rows) return 1;
  std::printf("shard_rows_per_s=%.0f\n", rate);

  // Real MovieLens-100K rows (13 columns, 11 categorical), read 10 times over.
  const char* shared = std::getenv("MSREC_SHARED_DATA");
  const std::string ml =
      std::string(shared ? shared : "../shared/data") + "/movielens-100k/ctr/train.csv";
  if (FileSize(ml) > 0) {
    ReaderOptions mo;
    mo.schema = SchemaSpec::Parse("label:label,scenario:scenario,genres:multi:|,*:cat").value();
    mo.batch_size = args.batch_size;
    const std::vector<std::string> paths(10, ml);
    for (int threads : {1, 2}) {
      mo.num_threads = threads;
      const double ml_rate = MeasureRead(paths, mo, 2, &rows);
      if (ml_rate < 0) return 1;
      std::printf("movielens_csv_rows_per_s_threads%d=%.0f\n", threads, ml_rate);
    }
  } else {
    std::printf("movielens_csv_rows_per_s=skipped (no %s)\n", ml.c_str());
  }

  if (!args.keep) {
    std::remove(csv.c_str());
    std::remove(shard.c_str());
    if (made_dir) ::rmdir(dir.c_str());
  } else {
    std::printf("files=%s\n", dir.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) {
  msrec::BenchArgs args;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    if (msrec::Flag(argv[i], "--rows", &v)) {
      args.rows = std::atoll(v.c_str());
    } else if (msrec::Flag(argv[i], "--dir", &v)) {
      args.dir = v;
    } else if (msrec::Flag(argv[i], "--batch_size", &v)) {
      args.batch_size = std::atoll(v.c_str());
    } else if (std::strcmp(argv[i], "--keep") == 0) {
      args.keep = true;
    } else {
      std::fprintf(stderr, "usage: %s [--rows=N] [--dir=PATH] [--batch_size=N] [--keep]\n",
                   argv[0]);
      return 2;
    }
  }
  return msrec::Run(args);
}
