// Helpers shared by the data_*_test suites: temp files and reading all batches.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "trainer/data/reader.h"

namespace msrec::testing {

// A fresh directory under $TMPDIR (or /tmp), removed at destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/msrec_data_test.XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

inline void WriteGzip(const std::string& path, const std::string& content) {
  gzFile gz = gzopen(path.c_str(), "wb");
  gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
  gzclose(gz);
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Reads every batch; returns the status of the first failing Next().
inline Status ReadAll(Reader* reader, std::vector<Batch>* batches) {
  for (;;) {
    Batch b;
    Result<bool> more = reader->Next(&b);
    if (!more.ok()) return more.status();
    if (!more.value()) return Status::OK();
    batches->push_back(std::move(b));
  }
}

// All rows of `batches` concatenated into one Batch.
inline Batch Concat(const std::vector<Batch>& batches) {
  Batch all;
  if (!batches.empty()) {
    all.num_cat_fields = batches[0].num_cat_fields;
    all.num_dense = batches[0].num_dense;
    all.num_labels = batches[0].num_labels;
  }
  all.ClearRows();
  for (const Batch& b : batches) all.AppendRows(b, 0, b.size);
  return all;
}

inline ReaderOptions Options(const std::string& spec) {
  ReaderOptions o;
  Result<SchemaSpec> s = SchemaSpec::Parse(spec);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (s.ok()) o.schema = s.value();
  return o;
}

// Area under the ROC curve with ties counted half (for tests only).
inline double TestAuc(std::vector<std::pair<double, int>> scored) {
  std::sort(scored.begin(), scored.end());
  double pos = 0, neg = 0, rank_sum = 0;
  size_t i = 0;
  while (i < scored.size()) {
    size_t j = i;
    while (j < scored.size() && scored[j].first == scored[i].first) ++j;
    const double mid = (i + j + 1) / 2.0;  // average 1-based rank
    for (size_t t = i; t < j; ++t) {
      if (scored[t].second) {
        rank_sum += mid;
        pos += 1;
      } else {
        neg += 1;
      }
    }
    i = j;
  }
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

}  // namespace msrec::testing
