// Synthetic multi-scenario CTR logs with known ground truth: every row carries
// its true click probability, so the Bayes-optimal AUC is known. The model is
// described in docs/data.md ("Synthetic generator"). Output is a pure function
// of the options: the same seed gives byte-identical files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer/data/zipf.h"

namespace msrec {

struct GeneratorOptions {
  uint64_t seed = 1;          // everything derives from it
  int64_t num_rows = 100000;  // rows for GenerateCsvSplits (all splits together)
  int64_t first_row = 0;      // index of the first row written: later rows of the same world
                              // (new "days" of one model: first_row = day * num_rows)

  // Scenarios: K of them with shares proportional to scenario_decay^k
  // (k = 0..K-1), so scenario 0 is the largest. Default 4 and 0.5.
  int num_scenarios = 4;
  double scenario_decay = 0.5;

  // Categorical fields f0..f{F-1}. Empty vocab_sizes: num_fields sizes
  // log-spaced from min_vocab to max_vocab (default 8 fields, 1e2..1e7).
  std::vector<int64_t> vocab_sizes;
  int num_fields = 8;
  int64_t min_vocab = 100;
  int64_t max_vocab = 10000000;
  double zipf_exponent = 1.1;  // value ranks ~ Zipf(zipf_exponent)

  int num_dense = 4;  // dense features d0..; each ~ N(0, 1), 4 decimals

  // Multi-valued field "tags" (written with '|'): 0..max_tags values drawn
  // from a Zipf vocabulary of tag_vocab. Default on, 3, 1000.
  bool multi_field = true;
  int max_tags = 3;
  int64_t tag_vocab = 1000;

  // Strengths (standard deviations of the logit terms).
  double base_logit = -1.6;            // mean logit (sets the base CTR)
  double scenario_bias_scale = 0.5;    // per-scenario bias
  double field_effect_scale = 0.3;     // shared effect of each field value
  int num_scenario_fields = 3;         // fields f0.. whose effect also depends on the scenario
  double scenario_effect_scale = 0.4;  // scale of those (value, scenario) effects
  double interaction_scale = 0.4;      // pairwise effect of (f0 value, f1 value)
  double dense_scale = 0.25;           // shared slope of each dense feature
  double dense_scenario_scale = 0.25;  // scenario-specific slope deviations
  double tag_effect_scale = 0.3;       // effect of each tag
  // Multiplies the three scenario-specific scales above (scenario bias,
  // (value, scenario) effects, slope deviations): 0 gives data whose click
  // probability ignores the scenario, 2 doubles every scenario effect.
  double scenario_strength = 1.0;
};

// One generated row before formatting.
struct GeneratedRow {
  int scenario = 0;
  std::vector<uint64_t> values;  // written value of each field (scrambled rank)
  std::vector<uint64_t> tags;    // written tag values
  std::vector<float> dense;      // rounded to 4 decimals, as written
  double logit = 0;              // true logit
  double agnostic_logit = 0;     // the logit with scenario terms averaged over scenarios
  double prob = 0;               // sigmoid(logit)
  int label = 0;
};

// The generative model. Immutable after construction; thread-safe.
class SyntheticModel {
 public:
  explicit SyntheticModel(const GeneratorOptions& options);

  // Row `index` of the stream (a pure function of seed and index).
  void SampleRow(int64_t index, GeneratedRow* row) const;

  // "label,scenario,true_prob,f0,..,tags,d0,.."
  std::string Header() const;
  // The CSV line of `row`, with '\n'.
  void AppendCsv(const GeneratedRow& row, std::string* out) const;

  const std::vector<int64_t>& vocab_sizes() const { return vocab_; }
  const std::vector<double>& scenario_shares() const { return shares_; }
  // The schema spec of the generated files, e.g.
  // "label:label,scenario:scenario,true_prob:oracle,tags:multi:|,d0:dense,..,*:cat".
  std::string SchemaSpecString() const;

 private:
  double FieldEffect(int field, uint64_t rank) const;
  double ScenarioEffect(int field, uint64_t rank, int scenario) const;
  uint64_t Scramble(int field, uint64_t rank) const;

  GeneratorOptions o_;
  std::vector<int64_t> vocab_;
  std::vector<int> vocab_bits_;
  std::vector<ZipfSampler> zipf_;
  std::unique_ptr<ZipfSampler> tag_zipf_;
  std::vector<double> shares_, cumulative_;
  std::vector<double> bias_;        // per scenario
  std::vector<double> slope_;       // [k * D + j]
  std::vector<double> mean_slope_;  // share-weighted over scenarios
};

struct GeneratorSplit {
  std::string path;      // output file; gzip if it ends in ".gz"
  int64_t num_rows = 0;  // rows in this split
};

// Writes the splits in order: split i holds the next num_rows rows of the
// stream (rows are i.i.d., so splits are samples of one distribution).
Status GenerateCsv(const GeneratorOptions& options, const std::vector<GeneratorSplit>& splits);

// Writes dir/train.csv, dir/val.csv, dir/test.csv holding options.num_rows
// rows split by the given fractions (train gets the rest).
Status GenerateCsvSplits(const GeneratorOptions& options, const std::string& dir,
                         double val_fraction = 0.1, double test_fraction = 0.1);

}  // namespace msrec
