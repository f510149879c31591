#include "trainer/data/scenario_map.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "trainer/data/internal/byte_source.h"
#include "trainer/data/internal/csv_split.h"
#include "trainer/data/internal/row_parser.h"
#include "trainer/data/shard.h"

namespace msrec {

ScenarioMap::ScenarioMap(const ScenarioMap& other) {
  std::lock_guard<std::mutex> lock(other.mu_);
  values_ = other.values_;
  ids_ = other.ids_;
  fixed_ = other.fixed_;
}

ScenarioMap& ScenarioMap::operator=(const ScenarioMap& other) {
  if (this == &other) return *this;
  ScenarioMap copy(other);
  std::lock_guard<std::mutex> lock(mu_);
  values_ = std::move(copy.values_);
  ids_ = std::move(copy.ids_);
  fixed_ = copy.fixed_;
  return *this;
}

namespace {
bool IsDecimal(const std::string& s) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}
}  // namespace

bool ScenarioMap::NumericLess(const std::string& a, const std::string& b) {
  const bool na = IsDecimal(a), nb = IsDecimal(b);
  if (na != nb) return na;
  if (!na) return a < b;
  long double x = std::strtold(a.c_str(), nullptr), y = std::strtold(b.c_str(), nullptr);
  if (x != y) return x < y;
  return a < b;
}

ScenarioMap ScenarioMap::FromValues(std::vector<std::string> values) {
  std::sort(values.begin(), values.end(), NumericLess);
  values.erase(std::unique(values.begin(), values.end()), values.end());
  ScenarioMap map;
  for (std::string& v : values) {
    map.ids_.emplace(v, static_cast<int32_t>(map.values_.size()));
    map.values_.push_back(std::move(v));
  }
  map.fixed_ = true;
  return map;
}

namespace {
// `s` with control bytes escaped and clipped, for messages.
std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 60)) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return s.size() > 60 ? out + "..." : out;
}

// The fields of a row the reader accepts, the scenario aside: the column
// count, every label 0/1, every dense value a finite number.
bool RowIsGood(const Schema& schema, const std::vector<std::string_view>& fields) {
  const std::vector<Schema::Column>& cols = schema.columns();
  if (fields.size() != cols.size()) return false;
  float v;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i].kind == ColumnKind::kLabel && !internal::ParseLabel(fields[i], &v)) return false;
    if (cols[i].kind == ColumnKind::kDense && !internal::ParseFloat(fields[i], &v)) return false;
  }
  return true;
}
}  // namespace

Result<ScenarioMap> ScenarioMap::Scan(const std::vector<std::string>& paths, const SchemaSpec& spec,
                                      char delimiter, bool multiline_quotes) {
  std::set<std::string> found;
  for (const std::string& path : paths) {
    MSREC_ASSIGN_OR_RETURN(bool is_shard, IsShardFile(path));
    if (is_shard) {  // the map is in the header
      MSREC_ASSIGN_OR_RETURN(ShardLayout layout, ReadShardLayout(path));
      found.insert(layout.scenarios.begin(), layout.scenarios.end());
      continue;
    }
    MSREC_ASSIGN_OR_RETURN(std::unique_ptr<internal::ByteSource> src,
                           internal::ByteSource::Open(path));
    internal::RecordScanner scanner(src.get(), size_t{64} << 20, multiline_quotes);
    char delim = delimiter;  // detected per file when 0
    MSREC_ASSIGN_OR_RETURN(std::vector<std::string> header, scanner.ReadHeader(&delim));
    MSREC_ASSIGN_OR_RETURN(Schema schema, Schema::Resolve(spec, header, path));
    const size_t col = static_cast<size_t>(schema.scenario_column());
    std::vector<std::string_view> fields;
    std::string scratch;
    std::string_view record;
    std::string last;
    for (;;) {
      MSREC_ASSIGN_OR_RETURN(bool more, scanner.NextRecord(&record));
      if (!more) break;
      if (record.empty()) continue;
      if (!internal::SplitRecord(record, delim, &fields, &scratch)) continue;
      // A row the reader will reject adds no scenario (it would get a path
      // that never trains).
      if (!RowIsGood(schema, fields)) continue;
      if (fields[col] != last) {
        last = std::string(fields[col]);
        found.insert(last);
      }
    }
  }
  return FromValues(std::vector<std::string>(found.begin(), found.end()));
}

Result<ScenarioMap> ScenarioMap::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot open scenario map " + path + ": " + std::strerror(errno));
  struct Entry {
    int32_t id;
    std::string value;
    int line;
    bool operator<(const Entry& o) const { return id != o.id ? id < o.id : line < o.line; }
  };
  std::vector<Entry> entries;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.rfind('\t');
    int32_t id = -1;
    const char* end = line.data() + line.size();
    if (tab == std::string::npos || std::from_chars(line.data() + tab + 1, end, id).ptr != end ||
        id < 0) {
      return Status::InvalidArgument(path + ":" + std::to_string(line_no) +
                                     ": expected 'value<TAB>id' with id >= 0");
    }
    entries.push_back({id, line.substr(0, tab), line_no});
  }
  std::sort(entries.begin(), entries.end());
  ScenarioMap map;
  std::map<std::string, int> value_lines;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    const std::string at = path + ":" + std::to_string(e.line) + ": ";
    if (i > 0 && entries[i - 1].id == e.id) {
      return Status::InvalidArgument(at + "scenario id " + std::to_string(e.id) +
                                     " again (first on line " +
                                     std::to_string(entries[i - 1].line) + ")");
    }
    if (e.id != static_cast<int32_t>(i)) {
      return Status::InvalidArgument(at + "scenario id " + std::to_string(e.id) +
                                     " leaves a gap: ids must be 0.." +
                                     std::to_string(entries.size() - 1) + ", each exactly once");
    }
    const auto [it, inserted] = value_lines.emplace(e.value, e.line);
    if (!inserted) {
      return Status::InvalidArgument(at + "scenario value '" + e.value +
                                     "' appears twice (also on line " +
                                     std::to_string(it->second) + ")");
    }
    map.ids_.emplace(e.value, e.id);
    map.values_.push_back(e.value);
  }
  map.fixed_ = true;
  return map;
}

Status ScenarioMap::Save(const std::string& path) const {
  std::vector<std::string> vals = values();
  std::ofstream out(path, std::ios::trunc);
  if (!out)
    return Status::IoError("cannot write scenario map " + path + ": " + std::strerror(errno));
  for (size_t i = 0; i < vals.size(); ++i) {
    if (vals[i].find_first_of("\t\n") != std::string::npos) {
      return Status::InvalidArgument("scenario value \"" + Printable(vals[i]) +
                                     "\" contains a tab or newline and cannot be saved in " +
                                     path + " (is the input text? binary input must be shards)");
    }
    out << vals[i] << '\t' << i << '\n';
  }
  out.close();
  if (!out) return Status::IoError("error writing scenario map " + path);
  return Status::OK();
}

int32_t ScenarioMap::Find(std::string_view value) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ids_.find(std::string(value));
  return it == ids_.end() ? -1 : it->second;
}

int32_t ScenarioMap::FindOrAdd(std::string_view value) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string key(value);
  auto it = ids_.find(key);
  if (it != ids_.end()) return it->second;
  if (fixed_) return -1;
  const int32_t id = static_cast<int32_t>(values_.size());
  ids_.emplace(key, id);
  values_.push_back(std::move(key));
  return id;
}

bool ScenarioMap::fixed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fixed_;
}
void ScenarioMap::set_fixed(bool fixed) {
  std::lock_guard<std::mutex> lock(mu_);
  fixed_ = fixed;
}
int ScenarioMap::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(values_.size());
}
std::string ScenarioMap::value(int32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  CHECK(id >= 0 && id < static_cast<int32_t>(values_.size())) << "scenario id " << id;
  return values_[id];
}
std::vector<std::string> ScenarioMap::values() const {
  std::lock_guard<std::mutex> lock(mu_);
  return values_;
}

}  // namespace msrec
