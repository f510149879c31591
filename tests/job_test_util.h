// Fixture pieces for tests that run msrec jobs on generated data in a
// temporary directory (tests/checkpoint_test.cc, tests/distributed_train_test.cc).
#pragma once

#include <stdlib.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/internal/row.h"
#include "trainer/data/generator.h"
#include "trainer/job_io.h"
#include "trainer/model_dir.h"
#include "trainer/ssim_artefact.h"

namespace msrec {

// Makes a fresh temporary directory /tmp/<prefix>.XXXXXX, writes generated
// train/val/test CSVs of `rows` rows (seed `seed`, four small vocabularies)
// into <dir>/data and returns the msrec flags that read them:
// " --schema '...' --train <dir>/data/train.csv --val <dir>/data/val.csv".
inline std::string MakeJobData(const std::string& prefix, uint64_t seed, int64_t rows,
                               std::string* dir) {
  std::string tmpl = "/tmp/" + prefix + ".XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  *dir = tmpl;
  GeneratorOptions gen;
  gen.seed = seed;
  gen.num_rows = rows;
  gen.vocab_sizes = {30, 100, 1000, 5000};
  EXPECT_TRUE(MakeDirs(*dir + "/data").ok());
  EXPECT_TRUE(GenerateCsvSplits(gen, *dir + "/data").ok());
  return " --schema '" + SyntheticModel(gen).SchemaSpecString() + "' --train " + *dir +
         "/data/train.csv --val " + *dir + "/data/val.csv";
}

// The dense parameters saved in `model_dir` (job.txt + dense.pt).
inline std::vector<torch::Tensor> SavedDenseParameters(const std::string& model_dir) {
  Result<JobSpec> spec = LoadJobSpec(model_dir + "/job.txt");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  if (!spec.ok()) return {};
  auto model = BuiltinModels().Create(spec->model, spec->model_config);
  EXPECT_TRUE(model.ok());
  if (!model.ok()) return {};
  EXPECT_TRUE(LoadDenseParameters(model.value().get(), model_dir + "/dense.pt").ok());
  return model.value()->parameters();
}

// The selection network of an ssim-search artefact.
inline std::vector<torch::Tensor> SavedSelector(const std::string& dir) {
  Result<SsimArtefact> a = LoadSsimArtefact(dir);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  if (!a.ok()) return {};
  const ModelConfig& c = a->backbone.model_config;
  SelectionNetwork net(c.num_fields, a->backbone.table.dim, a->settings.selector_hidden,
                       c.num_scenarios);
  EXPECT_TRUE(LoadDenseParameters(&net, ModelDir(dir).selector()).ok());
  return net.parameters();
}

// Expects the selectors of two artefacts to agree within `tolerance`.
inline void ExpectSameSelectors(const std::string& a_dir, const std::string& b_dir,
                                double tolerance) {
  const std::vector<torch::Tensor> a = SavedSelector(a_dir);
  const std::vector<torch::Tensor> b = SavedSelector(b_dir);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE((a[i] - b[i]).abs().max().item<double>(), tolerance) << "selector parameter " << i;
  }
}

// Expects the dense parameters of two model directories to agree within `tolerance`.
inline void ExpectSameDenseParameters(const std::string& a_dir, const std::string& b_dir,
                                      double tolerance) {
  const std::vector<torch::Tensor> a = SavedDenseParameters(a_dir);
  const std::vector<torch::Tensor> b = SavedDenseParameters(b_dir);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE((a[i] - b[i]).abs().max().item<double>(), tolerance) << "dense parameter " << i;
  }
}

// key -> weights of every row in a SaveStore dump.
inline std::map<uint64_t, std::vector<float>> ReadRows(const std::string& dump) {
  std::unique_ptr<EmbeddingStore> store = MakeMemoryStore();
  Status loaded = LoadStore(dump, store.get());
  EXPECT_TRUE(loaded.ok()) << loaded.ToString();
  std::map<uint64_t, std::vector<float>> rows;
  for (const std::string& table : store->TableNames()) {
    EXPECT_TRUE(store
                    ->ForEach(table,
                              [&](uint64_t key, std::string_view bytes) {
                                Row row;
                                EXPECT_TRUE(DecodeRow(bytes, table, key, &row).ok());
                                rows[key] = row.weights;
                                return true;
                              })
                    .ok());
  }
  return rows;
}

// Expects two dumps to hold the same keys (more than 1000) with weights
// within `tolerance`.
inline void ExpectSameRows(const std::string& dump_a, const std::string& dump_b,
                           double tolerance) {
  const auto rows_a = ReadRows(dump_a);
  const auto rows_b = ReadRows(dump_b);
  ASSERT_EQ(rows_a.size(), rows_b.size());
  ASSERT_GT(rows_a.size(), 1000u);
  double worst = 0;
  for (const auto& [key, w] : rows_a) {
    auto it = rows_b.find(key);
    ASSERT_NE(it, rows_b.end()) << "row " << key << " missing";
    for (size_t j = 0; j < w.size(); ++j) worst = std::max(worst, double(std::fabs(w[j] - it->second[j])));
  }
  EXPECT_LE(worst, tolerance);
}

}  // namespace msrec
