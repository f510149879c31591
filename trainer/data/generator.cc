#include "trainer/data/generator.h"

#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace msrec {
namespace {

// Salts that separate the hash streams of the model's terms.
constexpr uint64_t kSaltBias = 0xB1A5;
constexpr uint64_t kSaltField = 0xF1E1D;
constexpr uint64_t kSaltScenario = 0x5CE2;
constexpr uint64_t kSaltPair = 0x9A12;
constexpr uint64_t kSaltSlope = 0x510E;
constexpr uint64_t kSaltTag = 0x7A65;
constexpr uint64_t kSaltRow = 0x20E5;
constexpr uint64_t kSaltScramble = 0x5C2A;

uint64_t Key(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  return Mix64(Mix64(Mix64(Mix64(a) ^ b) ^ c) ^ d);
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Appends v with exactly `decimals` decimals (round half away from zero).
void AppendFixed(double v, int decimals, std::string* out) {
  static constexpr int64_t kPow[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  const int64_t scaled = std::llround(v * kPow[decimals]);
  uint64_t mag = scaled < 0 ? static_cast<uint64_t>(-scaled) : static_cast<uint64_t>(scaled);
  if (scaled < 0) out->push_back('-');
  out->append(std::to_string(mag / kPow[decimals]));
  out->push_back('.');
  std::string frac = std::to_string(mag % kPow[decimals]);
  out->append(decimals - frac.size(), '0');
  out->append(frac);
}

float RoundTo(double v, int decimals) {
  const double p = std::pow(10.0, decimals);
  return static_cast<float>(std::llround(v * p) / p);
}

class OutputFile {
 public:
  ~OutputFile() { (void)Close(); }
  Status Open(const std::string& path) {
    path_ = path;
    gzip_ = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    if (gzip_) {
      gz_ = gzopen(path.c_str(), "wb6");
      if (gz_ == nullptr) return Status::IoError("cannot create " + path);
    } else {
      file_ = std::fopen(path.c_str(), "wb");
      if (file_ == nullptr) {
        return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
      }
    }
    return Status::OK();
  }
  Status Write(const std::string& data) {
    const bool ok = gzip_ ? gzwrite(gz_, data.data(), static_cast<unsigned>(data.size())) ==
                                static_cast<int>(data.size())
                          : std::fwrite(data.data(), 1, data.size(), file_) == data.size();
    return ok ? Status::OK() : Status::IoError("write " + path_ + " failed");
  }
  Status Close() {
    int rc = 0;
    if (gz_ != nullptr) rc = gzclose(gz_) == Z_OK ? 0 : -1;
    if (file_ != nullptr) rc = std::fclose(file_);
    gz_ = nullptr;
    file_ = nullptr;
    return rc == 0 ? Status::OK() : Status::IoError("close " + path_ + " failed");
  }

 private:
  std::string path_;
  bool gzip_ = false;
  gzFile gz_ = nullptr;
  std::FILE* file_ = nullptr;
};

}  // namespace

SyntheticModel::SyntheticModel(const GeneratorOptions& options) : o_(options) {
  o_.scenario_bias_scale *= o_.scenario_strength;
  o_.scenario_effect_scale *= o_.scenario_strength;
  o_.dense_scenario_scale *= o_.scenario_strength;
  vocab_ = o_.vocab_sizes;
  if (vocab_.empty()) {
    const double lo = std::log(static_cast<double>(o_.min_vocab));
    const double hi = std::log(static_cast<double>(o_.max_vocab));
    for (int f = 0; f < o_.num_fields; ++f) {
      const double t = o_.num_fields == 1 ? 0.0 : static_cast<double>(f) / (o_.num_fields - 1);
      vocab_.push_back(std::max<int64_t>(1, std::llround(std::exp(lo + t * (hi - lo)))));
    }
  }
  for (int64_t v : vocab_) {
    int bits = 1;
    while ((int64_t{1} << bits) < v) ++bits;
    vocab_bits_.push_back(bits);
    zipf_.emplace_back(static_cast<uint64_t>(v), o_.zipf_exponent);
  }
  tag_zipf_ = std::make_unique<ZipfSampler>(
      static_cast<uint64_t>(std::max<int64_t>(1, o_.tag_vocab)), o_.zipf_exponent);
  const int k_count = std::max(1, o_.num_scenarios);
  double total = 0;
  for (int k = 0; k < k_count; ++k) {
    shares_.push_back(std::pow(o_.scenario_decay, k));
    total += shares_.back();
  }
  double acc = 0;
  for (double& s : shares_) {
    s /= total;
    acc += s;
    cumulative_.push_back(acc);
  }
  cumulative_.back() = 1.0;
  for (int k = 0; k < k_count; ++k) {
    bias_.push_back(o_.base_logit +
                    o_.scenario_bias_scale * HashNormal(Key(o_.seed, kSaltBias, k)));
  }
  mean_slope_.assign(o_.num_dense, 0.0);
  for (int k = 0; k < k_count; ++k) {
    for (int j = 0; j < o_.num_dense; ++j) {
      const double s = o_.dense_scale * HashNormal(Key(o_.seed, kSaltSlope, j)) +
                       o_.dense_scenario_scale * HashNormal(Key(o_.seed, kSaltSlope, j, k + 1));
      slope_.push_back(s);
      mean_slope_[j] += shares_[k] * s;
    }
  }
}

double SyntheticModel::FieldEffect(int field, uint64_t rank) const {
  return o_.field_effect_scale * HashNormal(Key(o_.seed, kSaltField, field, rank));
}

double SyntheticModel::ScenarioEffect(int field, uint64_t rank, int scenario) const {
  return o_.scenario_effect_scale *
         HashNormal(
             Key(o_.seed, kSaltScenario, (static_cast<uint64_t>(field) << 32) | scenario, rank));
}

uint64_t SyntheticModel::Scramble(int field, uint64_t rank) const {
  // A bijection on [0, 2^bits): value ids do not reveal popularity ranks.
  const int bits = vocab_bits_[field];
  const uint64_t mask = bits >= 64 ? ~0ULL : (uint64_t{1} << bits) - 1;
  uint64_t x = (rank - 1) & mask;
  const uint64_t salt = Key(o_.seed, kSaltScramble, field);
  for (int round = 0; round < 2; ++round) {
    x = (x * (0x9E3779B97F4A7C15ULL | 1)) & mask;
    x ^= x >> (bits / 2 + 1);
    x = (x + salt) & mask;
  }
  return x;
}

void SyntheticModel::SampleRow(int64_t index, GeneratedRow* row) const {
  SplitMix64 rng(Key(o_.seed, kSaltRow, static_cast<uint64_t>(index)));
  const int k_count = static_cast<int>(shares_.size());
  const double u = rng.Uniform();
  int k = 0;
  while (k + 1 < k_count && u >= cumulative_[k]) ++k;
  row->scenario = k;

  double logit = bias_[k], agnostic = 0;
  for (int j = 0; j < k_count; ++j) agnostic += shares_[j] * bias_[j];

  const int f_count = static_cast<int>(vocab_.size());
  row->values.resize(f_count);
  uint64_t rank0 = 0, rank1 = 0;
  for (int f = 0; f < f_count; ++f) {
    const uint64_t rank = zipf_[f].Sample(&rng);
    if (f == 0) rank0 = rank;
    if (f == 1) rank1 = rank;
    row->values[f] = Scramble(f, rank);
    const double shared = FieldEffect(f, rank);
    logit += shared;
    agnostic += shared;
    if (f < o_.num_scenario_fields) {
      logit += ScenarioEffect(f, rank, k);
      for (int j = 0; j < k_count; ++j) agnostic += shares_[j] * ScenarioEffect(f, rank, j);
    }
  }
  if (f_count >= 2) {
    const double pair = o_.interaction_scale * HashNormal(Key(o_.seed, kSaltPair, rank0, rank1));
    logit += pair;
    agnostic += pair;
  }
  row->tags.clear();
  if (o_.multi_field) {
    const int n = static_cast<int>(rng.Next() % static_cast<uint64_t>(o_.max_tags + 1));
    for (int t = 0; t < n; ++t) {
      const uint64_t rank = tag_zipf_->Sample(&rng);
      row->tags.push_back(Mix64(rank ^ Key(o_.seed, kSaltTag)) % 1000000007ULL);
      const double e = o_.tag_effect_scale * HashNormal(Key(o_.seed, kSaltTag, rank));
      logit += e;
      agnostic += e;
    }
  }
  row->dense.resize(o_.num_dense);
  for (int j = 0; j < o_.num_dense; ++j) {
    const float d = RoundTo(rng.Normal(), 4);
    row->dense[j] = d;
    logit += slope_[k * o_.num_dense + j] * d;
    agnostic += mean_slope_[j] * d;
  }
  row->logit = logit;
  row->agnostic_logit = agnostic;
  row->prob = Sigmoid(logit);
  row->label = rng.Uniform() < row->prob ? 1 : 0;
}

std::string SyntheticModel::Header() const {
  std::string h = "label,scenario,true_prob";
  for (size_t f = 0; f < vocab_.size(); ++f) h += ",f" + std::to_string(f);
  if (o_.multi_field) h += ",tags";
  for (int j = 0; j < o_.num_dense; ++j) h += ",d" + std::to_string(j);
  return h + "\n";
}

std::string SyntheticModel::SchemaSpecString() const {
  std::string s = "label:label,scenario:scenario,true_prob:oracle";
  if (o_.multi_field) s += ",tags:multi:|";
  for (int j = 0; j < o_.num_dense; ++j) s += ",d" + std::to_string(j) + ":dense";
  return s + ",*:cat";
}

void SyntheticModel::AppendCsv(const GeneratedRow& row, std::string* out) const {
  out->push_back(static_cast<char>('0' + row.label));
  out->push_back(',');
  out->append(std::to_string(row.scenario));
  out->push_back(',');
  AppendFixed(row.prob, 6, out);
  for (uint64_t v : row.values) {
    out->push_back(',');
    out->append(std::to_string(v));
  }
  if (o_.multi_field) {
    out->push_back(',');
    for (size_t t = 0; t < row.tags.size(); ++t) {
      if (t > 0) out->push_back('|');
      out->append(std::to_string(row.tags[t]));
    }
  }
  for (float d : row.dense) {
    out->push_back(',');
    AppendFixed(d, 4, out);
  }
  out->push_back('\n');
}

Status GenerateCsv(const GeneratorOptions& options, const std::vector<GeneratorSplit>& splits) {
  if (options.num_dense < 0 || options.max_tags < 0 || options.num_scenarios <= 0 ||
      (options.vocab_sizes.empty() && options.num_fields <= 0) || options.zipf_exponent <= 0) {
    return Status::InvalidArgument(
        "generator: bad options (need scenarios >= 1, fields >= 1, "
        "zipf_exponent > 0)");
  }
  for (int64_t v : options.vocab_sizes) {
    if (v <= 0) return Status::InvalidArgument("generator: vocabulary sizes must be > 0");
  }
  SyntheticModel model(options);
  GeneratedRow row;
  int64_t index = options.first_row;
  std::string buf;
  for (const GeneratorSplit& split : splits) {
    OutputFile out;
    MSREC_RETURN_IF_ERROR(out.Open(split.path));
    buf = model.Header();
    for (int64_t i = 0; i < split.num_rows; ++i, ++index) {
      model.SampleRow(index, &row);
      model.AppendCsv(row, &buf);
      if (buf.size() >= (1 << 20)) {
        MSREC_RETURN_IF_ERROR(out.Write(buf));
        buf.clear();
      }
    }
    MSREC_RETURN_IF_ERROR(out.Write(buf));
    MSREC_RETURN_IF_ERROR(out.Close());
  }
  return Status::OK();
}

Status GenerateCsvSplits(const GeneratorOptions& options, const std::string& dir,
                         double val_fraction, double test_fraction) {
  if (val_fraction < 0 || test_fraction < 0 || val_fraction + test_fraction > 1) {
    return Status::InvalidArgument("generator: split fractions must be >= 0 and sum to <= 1");
  }
  const int64_t val = std::llround(options.num_rows * val_fraction);
  const int64_t test = std::llround(options.num_rows * test_fraction);
  return GenerateCsv(options, {{dir + "/train.csv", options.num_rows - val - test},
                               {dir + "/val.csv", val},
                               {dir + "/test.csv", test}});
}

}  // namespace msrec
