#include "trainer/data/schema.h"

#include <fstream>
#include <unordered_map>

#include "common/hash.h"

namespace msrec {
namespace {

struct KindName {
  ColumnKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {ColumnKind::kCategorical, "cat"},   {ColumnKind::kMulti, "multi"},
    {ColumnKind::kDense, "dense"},       {ColumnKind::kLabel, "label"},
    {ColumnKind::kScenario, "scenario"}, {ColumnKind::kId, "id"},
    {ColumnKind::kOracle, "oracle"},     {ColumnKind::kIgnore, "ignore"},
};

struct SepName {
  char sep;
  const char* name;
};
constexpr SepName kSeparators[] = {{',', "comma"},     {'\t', "tab"},  {' ', "space"},
                                   {';', "semicolon"}, {':', "colon"}, {'|', "pipe"}};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string SeparatorToString(char sep) {
  if (sep == '|') return "|";
  for (const SepName& s : kSeparators) {
    if (s.sep == sep) return s.name;
  }
  return std::string(1, sep);
}

Result<ColumnRule> ParseToken(std::string_view token) {
  const size_t c1 = token.find(':');
  if (c1 == std::string_view::npos || c1 == 0) {
    return Status::InvalidArgument("schema token '" + std::string(token) +
                                   "' is not of the form column:kind[:arg]");
  }
  ColumnRule rule;
  rule.column = std::string(token.substr(0, c1));
  std::string_view rest = token.substr(c1 + 1);
  std::string_view kind = rest, arg;
  bool has_arg = false;
  if (const size_t c2 = rest.find(':'); c2 != std::string_view::npos) {
    kind = rest.substr(0, c2);
    arg = rest.substr(c2 + 1);
    has_arg = true;
  }
  bool found = false;
  for (const KindName& k : kKinds) {
    if (kind == k.name) {
      rule.kind = k.kind;
      found = true;
    }
  }
  if (!found) {
    return Status::InvalidArgument("schema token '" + std::string(token) + "': unknown kind '" +
                                   std::string(kind) +
                                   "' (expected cat, multi, dense, label, scenario, id, oracle "
                                   "or ignore)");
  }
  if (has_arg) {
    if (rule.kind != ColumnKind::kMulti) {
      return Status::InvalidArgument("schema token '" + std::string(token) +
                                     "': only 'multi' takes an argument");
    }
    if (arg.size() == 1) {
      rule.separator = arg[0];
    } else {
      bool named = false;
      for (const SepName& s : kSeparators) {
        if (arg == s.name) {
          rule.separator = s.sep;
          named = true;
        }
      }
      if (!named) {
        return Status::InvalidArgument("schema token '" + std::string(token) +
                                       "': separator must be one character or one of comma, "
                                       "tab, space, semicolon, colon, pipe");
      }
    }
  }
  return rule;
}

Status AddToken(std::string_view token, SchemaSpec* spec) {
  token = Trim(token);
  if (token.empty()) return Status::OK();
  MSREC_ASSIGN_OR_RETURN(ColumnRule rule, ParseToken(token));
  for (const ColumnRule& r : spec->rules) {
    if (r.column == rule.column) {
      return Status::InvalidArgument("schema names column '" + rule.column + "' twice");
    }
  }
  spec->rules.push_back(std::move(rule));
  return Status::OK();
}

}  // namespace

const char* ColumnKindName(ColumnKind kind) {
  for (const KindName& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "?";
}

Result<SchemaSpec> SchemaSpec::Parse(std::string_view text) {
  SchemaSpec spec;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find_first_of(",\n", pos);
    if (end == std::string_view::npos) end = text.size();
    MSREC_RETURN_IF_ERROR(AddToken(text.substr(pos, end - pos), &spec));
    pos = end + 1;
  }
  if (spec.rules.empty()) return Status::InvalidArgument("schema spec is empty");
  return spec;
}

Result<SchemaSpec> SchemaSpec::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot open schema file " + path);
  std::string text, line;
  while (std::getline(in, line)) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    text += line;
    text += '\n';
  }
  Result<SchemaSpec> spec = Parse(text);
  if (!spec.ok()) return spec.status().WithContext("schema file " + path);
  return spec;
}

std::string SchemaSpec::ToString() const {
  std::string out;
  for (const ColumnRule& r : rules) {
    if (!out.empty()) out += ',';
    out += r.column;
    out += ':';
    out += ColumnKindName(r.kind);
    if (r.kind == ColumnKind::kMulti) out += ":" + SeparatorToString(r.separator);
  }
  return out;
}

namespace {
// The rule of each header column (a named rule, else the '*' default).
Result<std::vector<const ColumnRule*>> MatchRules(const SchemaSpec& spec,
                                                  const std::vector<std::string>& header,
                                                  const std::string& source) {
  std::unordered_map<std::string, int> index;
  for (size_t i = 0; i < header.size(); ++i) {
    if (!index.emplace(header[i], static_cast<int>(i)).second) {
      return Status::InvalidArgument(source + ": header names column '" + header[i] + "' twice");
    }
  }
  const ColumnRule* fallback = nullptr;
  std::vector<const ColumnRule*> rule_of(header.size(), nullptr);
  for (const ColumnRule& r : spec.rules) {
    if (r.column == "*") {
      fallback = &r;
      continue;
    }
    auto it = index.find(r.column);
    if (it == index.end()) {
      return Status::InvalidArgument("schema column '" + r.column + "' is not in the header of " +
                                     source);
    }
    rule_of[it->second] = &r;
  }
  for (size_t i = 0; i < header.size(); ++i) {
    if (rule_of[i] == nullptr) rule_of[i] = fallback;
    if (rule_of[i] == nullptr) {
      return Status::InvalidArgument(source + ": column '" + header[i] +
                                     "' is not in the schema and there is no '*:KIND' default "
                                     "(use *:ignore to skip unnamed columns)");
    }
  }
  return rule_of;
}
}  // namespace

Result<Schema> Schema::Resolve(const SchemaSpec& spec, const std::vector<std::string>& header,
                               const std::string& source) {
  if (spec.empty()) return Status::InvalidArgument("no schema given for " + source);
  MSREC_ASSIGN_OR_RETURN(const std::vector<const ColumnRule*> rule_of,
                         MatchRules(spec, header, source));
  Schema schema;
  for (size_t i = 0; i < header.size(); ++i) {
    const ColumnRule* r = rule_of[i];
    Column c;
    c.name = header[i];
    c.kind = r->kind;
    c.separator = r->separator;
    const int col = static_cast<int>(i);
    switch (c.kind) {
      case ColumnKind::kCategorical:
      case ColumnKind::kMulti:
        c.slot = schema.num_cat_fields_++;
        c.seed = FieldSeed(c.name);
        break;
      case ColumnKind::kDense:
        c.slot = schema.num_dense_++;
        break;
      case ColumnKind::kLabel:
        c.slot = schema.num_labels_++;
        break;
      case ColumnKind::kScenario:
        if (schema.scenario_column_ >= 0) {
          return Status::InvalidArgument(source + ": more than one scenario column ('" +
                                         schema.columns_[schema.scenario_column_].name + "' and '" +
                                         c.name + "')");
        }
        schema.scenario_column_ = col;
        break;
      case ColumnKind::kId:
        if (schema.id_column_ >= 0) {
          return Status::InvalidArgument(source + ": more than one id column");
        }
        schema.id_column_ = col;
        break;
      case ColumnKind::kOracle:
        if (schema.oracle_column_ >= 0) {
          return Status::InvalidArgument(source + ": more than one oracle column");
        }
        schema.oracle_column_ = col;
        break;
      case ColumnKind::kIgnore:
        break;
    }
    schema.columns_.push_back(std::move(c));
  }
  if (schema.scenario_column_ < 0) {
    return Status::InvalidArgument(source + ": the schema has no scenario column");
  }
  if (schema.num_labels_ == 0) {
    return Status::InvalidArgument(source + ": the schema has no label column");
  }
  return schema;
}

std::string Schema::ToString() const {
  std::string out;
  for (const Column& c : columns_) {
    if (!out.empty()) out += ',';
    out += c.name;
    out += ':';
    out += ColumnKindName(c.kind);
    if (c.kind == ColumnKind::kMulti) out += ":" + SeparatorToString(c.separator);
  }
  return out;
}

Result<Schema> Schema::FromString(std::string_view s) {
  MSREC_ASSIGN_OR_RETURN(SchemaSpec spec, SchemaSpec::Parse(s));
  std::vector<std::string> header;
  for (const ColumnRule& r : spec.rules) header.push_back(r.column);
  return Resolve(spec, header, "schema string");
}

uint64_t Schema::Fingerprint() const { return Hash64(ToString(), 0x5343484D41ULL); }

namespace {
std::vector<std::string> NamesOfSlots(const std::vector<Schema::Column>& columns,
                                      bool (*match)(ColumnKind), int n) {
  std::vector<std::string> names(n);
  for (const Schema::Column& c : columns) {
    if (match(c.kind)) names[c.slot] = c.name;
  }
  return names;
}
}  // namespace

std::vector<std::string> Schema::CatFieldNames() const {
  return NamesOfSlots(
      columns_,
      [](ColumnKind k) { return k == ColumnKind::kCategorical || k == ColumnKind::kMulti; },
      num_cat_fields_);
}
std::vector<std::string> Schema::DenseNames() const {
  return NamesOfSlots(
      columns_, [](ColumnKind k) { return k == ColumnKind::kDense; }, num_dense_);
}
std::vector<std::string> Schema::LabelNames() const {
  return NamesOfSlots(
      columns_, [](ColumnKind k) { return k == ColumnKind::kLabel; }, num_labels_);
}

}  // namespace msrec
