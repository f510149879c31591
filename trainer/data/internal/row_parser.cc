#include "trainer/data/internal/row_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/hash.h"
#include "trainer/data/internal/csv_split.h"

namespace msrec::internal {

bool ParseFloat(std::string_view v, float* out) {
  if (!v.empty() && v[0] == '+') v.remove_prefix(1);
  if (v.empty()) return false;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, *out);
  return ec == std::errc() && ptr == end && std::isfinite(*out);
}

bool ParseLabel(std::string_view v, float* out) {
  if (v.size() == 1 && (v[0] == '0' || v[0] == '1')) {
    *out = static_cast<float>(v[0] - '0');
    return true;
  }
  return ParseFloat(v, out) && (*out == 0.0f || *out == 1.0f);
}

namespace {

std::string Clip(std::string_view v) {
  return v.size() <= 40 ? std::string(v) : std::string(v.substr(0, 37)) + "...";
}

}  // namespace

RowParser::RowParser(const Schema& schema, ScenarioMap* map) : schema_(schema), map_(map) {}

int32_t RowParser::ScenarioId(std::string_view value, ParsedChunk* out) {
  if (last_id_ >= 0 && value == last_value_) return last_id_;
  std::string key(value);
  auto it = cache_.find(key);
  int32_t id = -1;
  if (it != cache_.end()) {
    id = it->second;
  } else {
    id = map_->Find(value);
    if (id >= 0) cache_.emplace(key, id);
  }
  if (id >= 0) {
    last_value_ = std::move(key);
    last_id_ = id;
    return id;
  }
  if (map_->fixed()) return kUnknown;
  auto p = pending_.find(key);
  if (p == pending_.end()) {
    p = pending_.emplace(key, static_cast<int32_t>(out->pending_scenarios.size())).first;
    out->pending_scenarios.push_back(key);
  }
  return -1 - p->second;
}

// Appends column `c`'s value `v` to the chunk's rows; false (and *kind) when
// the value is bad. Scenario columns set *scenario instead.
bool RowParser::ParseField(const Schema::Column& c, std::string_view v, ParsedChunk* out,
                           int32_t* scenario, BadRowKind* kind) {
  Batch& b = out->rows;
  switch (c.kind) {
    case ColumnKind::kCategorical:
      b.keys.push_back(FeatureKey(c.seed, v));
      b.offsets.push_back(static_cast<int64_t>(b.keys.size()));
      return true;
    case ColumnKind::kMulti: {
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t end = v.find(c.separator, pos);
        if (end == std::string_view::npos) end = v.size();
        if (end > pos) b.keys.push_back(FeatureKey(c.seed, v.substr(pos, end - pos)));
        pos = end + 1;
      }
      b.offsets.push_back(static_cast<int64_t>(b.keys.size()));
      return true;
    }
    case ColumnKind::kDense: {
      float x;
      *kind = BadRowKind::kBadNumber;
      if (!ParseFloat(v, &x)) return false;
      b.dense.push_back(x);
      return true;
    }
    case ColumnKind::kLabel: {
      float x;
      *kind = BadRowKind::kBadLabel;
      if (!ParseLabel(v, &x)) return false;
      b.labels.push_back(x);
      return true;
    }
    case ColumnKind::kScenario:
      *scenario = ScenarioId(v, out);
      *kind = BadRowKind::kUnknownScenario;
      return *scenario != kUnknown;
    case ColumnKind::kId: {
      uint64_t id;
      const char* end = v.data() + v.size();
      auto [ptr, ec] = std::from_chars(v.data(), end, id);
      if (ec != std::errc() || ptr != end || v.empty()) id = Hash64(v, 0x4944ULL);
      b.instance_id.push_back(id);
      return true;
    }
    case ColumnKind::kOracle: {
      float x;
      *kind = BadRowKind::kBadNumber;
      if (!ParseFloat(v, &x) || x < 0.0f || x > 1.0f) return false;
      b.oracle.push_back(x);
      return true;
    }
    case ColumnKind::kIgnore:
      return true;
  }
  return true;
}

bool RowParser::ParseRecord(std::string_view record, char delim, ParsedChunk* out, BadRow* bad) {
  if (!SplitRecord(record, delim, &fields_, &scratch_)) {
    bad->kind = BadRowKind::kBadQuote;
    bad->reason = "malformed quoting";
    return false;
  }
  const std::vector<Schema::Column>& cols = schema_.columns();
  if (fields_.size() != cols.size()) {
    bad->kind = BadRowKind::kColumnCount;
    bad->reason = "expected " + std::to_string(cols.size()) + " fields, got " +
                  std::to_string(fields_.size());
    return false;
  }
  Batch& b = out->rows;
  const size_t keys0 = b.keys.size(), offsets0 = b.offsets.size(), dense0 = b.dense.size(),
               labels0 = b.labels.size(), ids0 = b.instance_id.size(), oracle0 = b.oracle.size();
  int32_t scenario = 0;
  for (size_t i = 0; i < cols.size(); ++i) {
    BadRowKind kind = BadRowKind::kBadNumber;
    if (ParseField(cols[i], fields_[i], out, &scenario, &kind)) continue;
    // A bad value costs its row only: what the row appended is taken back.
    b.keys.resize(keys0);
    b.offsets.resize(offsets0);
    b.dense.resize(dense0);
    b.labels.resize(labels0);
    b.instance_id.resize(ids0);
    b.oracle.resize(oracle0);
    bad->kind = kind;
    bad->reason = std::string(BadRowKindName(kind)) + " in column '" + cols[i].name + "': '" +
                  Clip(fields_[i]) + "'";
    return false;
  }
  b.scenario.push_back(scenario);
  b.record.push_back(out->records);
  ++b.size;
  return true;
}

void RowParser::Parse(const Chunk& chunk, ParsedChunk* out) {
  out->seq = chunk.seq;
  out->file = chunk.file;
  out->file_pos = chunk.file_pos;
  Batch& b = out->rows;
  b.num_cat_fields = schema_.num_cat_fields();
  b.num_dense = schema_.num_dense();
  b.num_labels = schema_.num_labels();
  b.ClearRows();
  pending_.clear();
  const char* p = chunk.data.data();
  const char* end = p + chunk.data.size();
  int64_t line = chunk.first_line;
  BadRow bad;
  while (p < end) {
    size_t len;
    if (chunk.has_quote) {
      len = FindRecordEnd(p, end - p, chunk.delimiter, /*first=*/true, /*multiline_quotes=*/true);
    } else {
      const void* nl = std::memchr(p, '\n', end - p);
      len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - p) + 1 : 0;
    }
    if (len == 0) len = end - p;  // last record without a terminator
    std::string_view record(p, len);
    const int64_t record_line = line;
    line += chunk.has_quote ? std::count(record.begin(), record.end(), '\n') : 1;
    p += len;
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
    if (record.empty()) {
      ++out->blank_lines;
      continue;
    }
    if (!chunk.count_only && !ParseRecord(record, chunk.delimiter, out, &bad)) {
      bad.line = record_line;
      out->bad.push_back(std::move(bad));
      bad = BadRow();
    }
    ++out->records;
  }
}

}  // namespace msrec::internal
