// Evaluation metrics: exact AUC, logloss, calibration, per scenario and overall.
// Torch-free. Exact means no histogram/bucket approximation: AUC sorts all
// scores and counts ties as half (the Mann-Whitney statistic).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "common/timer.h"

namespace msrec {

// Exact ROC AUC of `scores` against 0/1 `labels` (ties count 1/2).
// Returns NaN when only one class is present.
double ExactAuc(const std::vector<float>& scores, const std::vector<float>& labels);

// Mean binary cross-entropy of probabilities (clipped to [1e-7, 1-1e-7]).
double LogLoss(const std::vector<float>& probs, const std::vector<float>& labels);

struct GroupMetrics {
  int64_t count = 0;        // instances
  double auc = 0;           // exact AUC of the model's predictions
  double logloss = 0;       // mean BCE
  double positive_rate = 0; // mean label
  double mean_prediction = 0;  // mean predicted probability (calibration = mean_pred / pos_rate)
  double bayes_auc = -1;    // AUC of the oracle column (true probability); -1 when absent
  // Grouped AUC (--gauc_column): the mean of per-group exact AUC over the
  // groups (e.g. users) that have both labels, weighted by their instances;
  // -1 when not asked for, NaN when no group has both labels.
  double gauc = -1;
  int64_t gauc_groups = 0;  // groups that count (both labels)
  // Calibration by score bucket: predictions cut into kCalibrationBuckets
  // equal-width buckets of [0, 1]; per bucket {instances, mean prediction,
  // positive rate} (empty buckets: count 0).
  static constexpr int kCalibrationBuckets = 10;
  struct Bucket {
    int64_t count = 0;
    double mean_prediction = 0, positive_rate = 0;
  };
  std::vector<Bucket> calibration;
};

// Grouped AUC of `scores` against 0/1 `labels` with group keys `groups` (see
// GroupMetrics::gauc). Exact: each group's AUC is ExactAuc of its instances.
double GroupedAuc(const std::vector<float>& scores, const std::vector<float>& labels,
                  const std::vector<uint64_t>& groups, int64_t* counted_groups = nullptr);

struct EvalMetrics {
  std::vector<GroupMetrics> per_scenario;  // index = scenario id
  GroupMetrics overall;
  // {"overall":{...},"scenarios":[{...},...]}
  std::string ToJson() const;
  // A human-readable table, one line per scenario then overall.
  std::string ToTable(const std::vector<std::string>& scenario_names) const;
};

// Accumulates predictions and computes EvalMetrics. Not thread-safe.
class MetricsAccumulator {
 public:
  explicit MetricsAccumulator(int num_scenarios) : num_scenarios_(num_scenarios) {}
  // `oracle` may be null (no true-probability column); `groups` (gAUC group
  // keys) null when gAUC is not computed.
  void Add(int64_t n, const float* probs, const float* labels, const int32_t* scenario,
           const float* oracle, const uint64_t* groups = nullptr);
  EvalMetrics Compute() const;

  // The accumulated instances (all the same length, oracle empty when absent),
  // e.g. to merge the accumulators of several workers.
  std::vector<float>& probs() { return probs_; }
  std::vector<float>& labels() { return labels_; }
  std::vector<float>& oracle() { return oracle_; }
  std::vector<int32_t>& scenario() { return scenario_; }
  std::vector<uint64_t>& groups() { return groups_; }

 private:
  GroupMetrics ComputeGroup(const std::vector<size_t>& idx) const;
  int num_scenarios_;
  std::vector<float> probs_, labels_, oracle_;
  std::vector<int32_t> scenario_;
  std::vector<uint64_t> groups_;  // gAUC group of each instance (empty: no gAUC)
};

// Running loss and throughput between two progress lines of training. Not
// thread-safe.
class ProgressWindow {
 public:
  void Add(int64_t samples, double loss) {
    loss_sum_ += loss;
    ++steps_;
    samples_ += samples;
  }
  // A step without a loss of this worker's own (an empty batch, zero weight).
  void AddSamples(int64_t samples) { samples_ += samples; }
  // Logs "epoch E step S loss L samples/s R progress P% ETA T[ note]",
  // appends the same as a JSON line to `metrics` (when not null), and starts a
  // new window. `fraction`: the share of the whole job done; `elapsed`: its
  // seconds so far.
  // Returns the window's {mean loss, samples/s}.
  std::pair<double, double> Log(int epoch, int64_t step, double fraction, double elapsed,
                                const std::string& note, std::ostream* metrics);

 private:
  double loss_sum_ = 0;
  int64_t steps_ = 0, samples_ = 0;
  Timer timer_;
};

}  // namespace msrec
