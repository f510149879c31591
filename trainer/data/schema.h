// Schema: which input columns are categorical, multi-valued, dense, labels,
// the scenario, an instance id, a true probability, or ignored.
//
// A SchemaSpec is what the user writes (command line or schema file); a Schema
// is a spec resolved against a file header. See docs/data.md for the syntax:
//   label:label,scenario:scenario,genres:multi:|,*:cat
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace msrec {

enum class ColumnKind {
  kCategorical,  // "cat": one hashed key per row
  kMulti,        // "multi[:SEP]": 0..n hashed keys, split on SEP (default '|')
  kDense,        // "dense": a float
  kLabel,        // "label": 0 or 1 ("0.0"/"1.0" accepted)
  kScenario,     // "scenario": mapped to a dense id by a ScenarioMap
  kId,           // "id": instance id; unsigned integer, or hashed if not numeric
  kOracle,       // "oracle": true click probability, reported only
  kIgnore,       // "ignore": skipped
};

// "cat", "multi", ... as written in a spec.
const char* ColumnKindName(ColumnKind kind);

// One `column:kind[:arg]` token.
struct ColumnRule {
  std::string column;  // header name, or "*" for the default rule
  ColumnKind kind = ColumnKind::kIgnore;
  char separator = '|';  // kMulti only
};

// The unresolved spec: rules in the order written.
struct SchemaSpec {
  std::vector<ColumnRule> rules;
  bool empty() const { return rules.empty(); }

  // Parses "a:kind,b:kind:arg,*:kind". Separator args: one character, or one of
  // comma, tab, space, semicolon, colon, pipe. Errors name the bad token.
  static Result<SchemaSpec> Parse(std::string_view spec);
  // Same tokens, one per line (or comma-separated); '#' starts a comment.
  static Result<SchemaSpec> LoadFile(const std::string& path);
  // The spec as a comma-separated token list; Parse(ToString()) == *this.
  std::string ToString() const;
};

// A spec resolved against a header. Immutable after construction; thread-safe.
class Schema {
 public:
  struct Column {
    std::string name;
    ColumnKind kind = ColumnKind::kIgnore;
    char separator = '|';  // kMulti only
    int slot = -1;         // index among its kind: field index for cat/multi
                           // (shared numbering), dense index, label index; else -1
    uint64_t seed = 0;     // FieldSeed(name) for cat/multi, else 0
  };

  Schema() = default;

  // Resolves `spec` against `header` (column names in file order). Every named
  // column must exist; every header column must be named or covered by "*".
  // Exactly one scenario column, at least one label, at most one id and one
  // oracle column. `source` (a file name) is used in error messages.
  static Result<Schema> Resolve(const SchemaSpec& spec, const std::vector<std::string>& header,
                                const std::string& source);

  // Every column in header order, e.g. "label:label,scenario:scenario,g:multi:|,u:cat".
  // Resolve(SchemaSpec::Parse(s), names-in-s) reproduces this schema; shards store it.
  std::string ToString() const;
  // Rebuilds a schema from ToString() output (header = the column names in order).
  static Result<Schema> FromString(std::string_view s);
  // Stable 64-bit hash of ToString(); shards record it.
  uint64_t Fingerprint() const;

  const std::vector<Column>& columns() const { return columns_; }
  int num_cat_fields() const { return num_cat_fields_; }  // F (cat + multi)
  int num_dense() const { return num_dense_; }
  int num_labels() const { return num_labels_; }
  int scenario_column() const { return scenario_column_; }  // index into columns()
  bool has_id() const { return id_column_ >= 0; }
  bool has_oracle() const { return oracle_column_ >= 0; }
  // Names of the categorical fields / dense features / labels in slot order.
  std::vector<std::string> CatFieldNames() const;
  std::vector<std::string> DenseNames() const;
  std::vector<std::string> LabelNames() const;
  std::string scenario_name() const { return columns_[scenario_column_].name; }

  bool operator==(const Schema& o) const { return ToString() == o.ToString(); }
  bool operator!=(const Schema& o) const { return !(*this == o); }

 private:
  std::vector<Column> columns_;
  int num_cat_fields_ = 0;
  int num_dense_ = 0;
  int num_labels_ = 0;
  int scenario_column_ = -1;
  int id_column_ = -1;
  int oracle_column_ = -1;
};

}  // namespace msrec
