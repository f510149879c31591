#include "trainer/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>

#include <glog/logging.h>

namespace msrec {

double ExactAuc(const std::vector<float>& scores, const std::vector<float>& labels) {
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of (average) ranks of the positives.
  double rank_sum = 0, positives = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) ++j;
    const double avg_rank = 0.5 * double(i + j) + 1.0;
    for (size_t k = i; k <= j; ++k) {
      if (labels[order[k]] > 0.5f) {
        rank_sum += avg_rank;
        positives += 1;
      }
    }
    i = j + 1;
  }
  const double negatives = double(n) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double LogLoss(const std::vector<float>& probs, const std::vector<float>& labels) {
  if (probs.empty()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const double p = std::min(std::max(double(probs[i]), 1e-7), 1 - 1e-7);
    sum -= labels[i] > 0.5f ? std::log(p) : std::log(1 - p);
  }
  return sum / double(probs.size());
}

void MetricsAccumulator::Add(int64_t n, const float* probs, const float* labels,
                             const int32_t* scenario, const float* oracle,
                             const uint64_t* groups) {
  if (groups != nullptr) groups_.insert(groups_.end(), groups, groups + n);
  probs_.insert(probs_.end(), probs, probs + n);
  labels_.insert(labels_.end(), labels, labels + n);
  scenario_.insert(scenario_.end(), scenario, scenario + n);
  if (oracle != nullptr) oracle_.insert(oracle_.end(), oracle, oracle + n);
}

double GroupedAuc(const std::vector<float>& scores, const std::vector<float>& labels,
                  const std::vector<uint64_t>& groups, int64_t* counted_groups) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return groups[a] < groups[b]; });
  double weighted = 0, weight = 0;
  int64_t counted = 0;
  std::vector<float> s, y;
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin;
    s.clear();
    y.clear();
    while (end < order.size() && groups[order[end]] == groups[order[begin]]) {
      s.push_back(scores[order[end]]);
      y.push_back(labels[order[end]]);
      ++end;
    }
    const double auc = ExactAuc(s, y);  // NaN with one class only
    if (!std::isnan(auc)) {
      weighted += auc * double(s.size());
      weight += double(s.size());
      ++counted;
    }
    begin = end;
  }
  if (counted_groups != nullptr) *counted_groups = counted;
  return weight > 0 ? weighted / weight : std::nan("");
}

GroupMetrics MetricsAccumulator::ComputeGroup(const std::vector<size_t>& idx) const {
  GroupMetrics g;
  g.count = int64_t(idx.size());
  if (idx.empty()) {  // no instances: nothing is measured (printed n/a, null in JSON)
    g.auc = g.logloss = g.positive_rate = g.mean_prediction = std::nan("");
    return g;
  }
  std::vector<float> p(idx.size()), y(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) {
    p[i] = probs_[idx[i]];
    y[i] = labels_[idx[i]];
  }
  g.auc = ExactAuc(p, y);
  g.logloss = LogLoss(p, y);
  g.positive_rate = std::accumulate(y.begin(), y.end(), 0.0) / double(y.size());
  g.mean_prediction = std::accumulate(p.begin(), p.end(), 0.0) / double(p.size());
  g.calibration.assign(GroupMetrics::kCalibrationBuckets, GroupMetrics::Bucket());
  for (size_t i = 0; i < p.size(); ++i) {
    const int b = std::min(GroupMetrics::kCalibrationBuckets - 1,
                           std::max(0, int(p[i] * GroupMetrics::kCalibrationBuckets)));
    GroupMetrics::Bucket& bucket = g.calibration[b];
    ++bucket.count;
    bucket.mean_prediction += p[i];
    bucket.positive_rate += y[i];
  }
  for (GroupMetrics::Bucket& bucket : g.calibration) {
    if (bucket.count == 0) continue;
    bucket.mean_prediction /= double(bucket.count);
    bucket.positive_rate /= double(bucket.count);
  }
  if (oracle_.size() == probs_.size()) {
    for (size_t i = 0; i < idx.size(); ++i) p[i] = oracle_[idx[i]];
    g.bayes_auc = ExactAuc(p, y);
  }
  if (groups_.size() == probs_.size()) {
    for (size_t i = 0; i < idx.size(); ++i) p[i] = probs_[idx[i]];
    std::vector<uint64_t> keys(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) keys[i] = groups_[idx[i]];
    g.gauc = GroupedAuc(p, y, keys, &g.gauc_groups);
  }
  return g;
}

EvalMetrics MetricsAccumulator::Compute() const {
  EvalMetrics m;
  std::vector<std::vector<size_t>> groups(num_scenarios_);
  std::vector<size_t> all(probs_.size());
  for (size_t i = 0; i < probs_.size(); ++i) {
    all[i] = i;
    if (scenario_[i] >= 0 && scenario_[i] < num_scenarios_) groups[scenario_[i]].push_back(i);
  }
  for (const auto& g : groups) m.per_scenario.push_back(ComputeGroup(g));
  m.overall = ComputeGroup(all);
  return m;
}

namespace {
std::string Num(double v) {
  if (std::isnan(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6f", v);
  return buf;
}
std::string GroupJson(const GroupMetrics& g) {
  std::ostringstream s;
  s << "{\"count\":" << g.count << ",\"auc\":" << Num(g.auc) << ",\"logloss\":" << Num(g.logloss)
    << ",\"positive_rate\":" << Num(g.positive_rate)
    << ",\"mean_prediction\":" << Num(g.mean_prediction);
  if (g.bayes_auc >= 0 || std::isnan(g.bayes_auc)) s << ",\"bayes_auc\":" << Num(g.bayes_auc);
  if (g.gauc >= 0 || std::isnan(g.gauc)) {
    s << ",\"gauc\":" << Num(g.gauc) << ",\"gauc_groups\":" << g.gauc_groups;
  }
  if (!g.calibration.empty()) {
    s << ",\"calibration\":[";
    for (size_t b = 0; b < g.calibration.size(); ++b) {
      const GroupMetrics::Bucket& k = g.calibration[b];
      s << (b ? "," : "") << "[" << k.count << "," << Num(k.mean_prediction) << ","
        << Num(k.positive_rate) << "]";
    }
    s << "]";
  }
  s << "}";
  return s.str();
}
// `v` in a column of `width` with 4 decimals; "n/a" when not measured.
std::string Cell(double v, int width) {
  char buf[32];
  if (!std::isfinite(v) || v < 0) {
    std::snprintf(buf, sizeof(buf), "%*s", width, "n/a");
  } else {
    std::snprintf(buf, sizeof(buf), "%*.4f", width, v);
  }
  return buf;
}

std::string GroupLine(const std::string& name, const GroupMetrics& g) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%-12s %9lld ", name.c_str(), static_cast<long long>(g.count));
  std::string line = buf + Cell(g.auc, 8) + Cell(g.logloss, 9) + Cell(g.positive_rate, 9) +
                     Cell(g.mean_prediction, 9);
  if (g.bayes_auc >= 0 || std::isnan(g.bayes_auc)) line += Cell(g.bayes_auc, 11);
  if (g.gauc >= 0 || std::isnan(g.gauc)) line += Cell(g.gauc, 9);
  return line;
}
}  // namespace

std::string EvalMetrics::ToJson() const {
  std::ostringstream s;
  s << "{\"overall\":" << GroupJson(overall) << ",\"scenarios\":[";
  for (size_t k = 0; k < per_scenario.size(); ++k) s << (k ? "," : "") << GroupJson(per_scenario[k]);
  s << "]}";
  return s.str();
}

std::string EvalMetrics::ToTable(const std::vector<std::string>& scenario_names) const {
  std::ostringstream s;
  s << "scenario         count      auc  logloss  pos_rate mean_pred";
  if (overall.bayes_auc >= 0 || std::isnan(overall.bayes_auc)) s << "  bayes_auc";
  if (overall.gauc >= 0 || std::isnan(overall.gauc)) s << "     gauc";
  s << "\n";
  for (size_t k = 0; k < per_scenario.size(); ++k) {
    const std::string name = k < scenario_names.size() ? scenario_names[k] : std::to_string(k);
    s << GroupLine(name, per_scenario[k]) << "\n";
  }
  s << GroupLine("overall", overall) << "\n";
  return s.str();
}

namespace {
std::string FormatEta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
  return buf;
}
}  // namespace

std::pair<double, double> ProgressWindow::Log(int epoch, int64_t step, double fraction,
                                              double elapsed, const std::string& note,
                                              std::ostream* metrics) {
  const double rate = samples_ / std::max(timer_.Seconds(), 1e-9);
  const double loss = loss_sum_ / std::max<int64_t>(steps_, 1);
  fraction = std::min(std::max(fraction, 1e-9), 1.0);
  char line[256];
  std::snprintf(line, sizeof(line),
                "epoch %d step %lld loss %.5f samples/s %.0f progress %.1f%% ETA %s", epoch,
                static_cast<long long>(step), loss, rate, 100 * fraction,
                FormatEta(elapsed / fraction - elapsed).c_str());
  LOG(INFO) << line << (note.empty() ? "" : " ") << note;
  if (metrics != nullptr) {
    *metrics << "{\"event\":\"train\",\"epoch\":" << epoch << ",\"step\":" << step
             << ",\"loss\":" << loss << ",\"samples_per_sec\":" << rate << "}\n";
    metrics->flush();
  }
  loss_sum_ = 0;
  steps_ = 0;
  samples_ = 0;
  timer_.Reset();
  return {loss, rate};
}

}  // namespace msrec
