// ScenarioMap: scenario value (a string from the scenario column) -> dense id
// in [0, size()).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "trainer/data/schema.h"

namespace msrec {

// Thread-safe: every method may be called concurrently. Ids, once assigned,
// never change, so callers may cache Find() results.
class ScenarioMap {
 public:
  ScenarioMap() = default;  // empty and growable
  ScenarioMap(const ScenarioMap& other);
  ScenarioMap& operator=(const ScenarioMap& other);

  // Ids 0..n-1 assigned to the distinct `values` in numeric-aware sorted order
  // ("2" < "10" < "a"). The map is fixed.
  static ScenarioMap FromValues(std::vector<std::string> values);

  // Scans the scenario column of `paths` (CSV/TSV, optionally gzip; the header
  // locates the column) and returns a fixed map of every value found, sorted
  // as in FromValues. `delimiter` 0 = auto-detect from each header. For a
  // binary shard the values of its embedded map are taken. `multiline_quotes`:
  // the CSV dialect (ReaderOptions::multiline_quotes).
  static Result<ScenarioMap> Scan(const std::vector<std::string>& paths, const SchemaSpec& spec,
                                  char delimiter = 0, bool multiline_quotes = false);

  // Loads "value<TAB>id" lines (ids must be exactly 0..n-1, each once). The
  // result is fixed. Errors name the file and line.
  static Result<ScenarioMap> Load(const std::string& path);
  // Writes "value<TAB>id" lines in id order.
  Status Save(const std::string& path) const;

  // The id of `value`, or -1 if unknown.
  int32_t Find(std::string_view value) const;
  // The id of `value`, adding it with the next id if the map is growable.
  // Returns -1 if unknown and the map is fixed.
  int32_t FindOrAdd(std::string_view value);

  // A fixed map turns unknown values into bad rows; a growable one adds them.
  bool fixed() const;
  void set_fixed(bool fixed);

  int size() const;
  // The value with id `id` (0 <= id < size()).
  std::string value(int32_t id) const;
  // All values in id order.
  std::vector<std::string> values() const;

  // Numeric-aware order used for ids: two decimal integers compare as numbers,
  // a number sorts before a non-number, others compare bytewise.
  static bool NumericLess(const std::string& a, const std::string& b);

 private:
  mutable std::mutex mu_;
  std::vector<std::string> values_;               // guarded by mu_
  std::unordered_map<std::string, int32_t> ids_;  // guarded by mu_
  bool fixed_ = false;                            // guarded by mu_
};

}  // namespace msrec
