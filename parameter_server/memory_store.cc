#include "parameter_server/memory_store.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "parameter_server/internal/row_map.h"

namespace msrec {
namespace {

class MemoryStore : public EmbeddingStore {
 public:
  Status CreateTable(const std::string& table) override {
    MSREC_RETURN_IF_ERROR(ValidateTableName(table));
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto& t = tables_[table];
    if (t == nullptr) t = std::make_unique<Table>();
    return Status::OK();
  }

  Status DropTable(const std::string& table) override {
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto it = tables_.find(table);
    if (it == tables_.end()) return Status::NotFound("memory store has no table '" + table + "'");
    { std::unique_lock<std::shared_mutex> rows_lock(it->second->mu); }  // calls in flight end
    tables_.erase(it);
    return Status::OK();
  }

  std::vector<std::string> TableNames() const override {
    std::shared_lock<std::shared_mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, t] : tables_) names.push_back(name);
    return names;  // std::map: already sorted
  }

  Status MultiGetVisit(const std::string& table, const uint64_t* keys, size_t n, bool sorted,
                       const RowVisitor& fn) const override {
    MSREC_ASSIGN_OR_RETURN(Table * t, Find(table));
    std::shared_lock<std::shared_mutex> lock(t->mu);
    // Slots are prefetched 16 keys ahead and rows 8 ahead, so the cache misses
    // of several keys overlap.
    constexpr size_t kSlotAhead = 16;
    constexpr size_t kRowAhead = 8;
    for (size_t i = 0; i < std::min(n, kSlotAhead); ++i) t->rows.PrefetchSlot(keys[i]);
    for (size_t i = 0; i < n; ++i) {
      if (i + kSlotAhead < n) t->rows.PrefetchSlot(keys[i + kSlotAhead]);
      if (i + kRowAhead < n) t->rows.PrefetchRow(keys[i + kRowAhead]);
      bool found = false;
      const std::string_view row = t->rows.Find(keys[i], &found);
      MSREC_RETURN_IF_ERROR(fn(i, found, row));
    }
    return Status::OK();
  }

  Status Write(const std::string& table, const uint64_t* keys, size_t n,
               const std::string* rows) override {
    MSREC_ASSIGN_OR_RETURN(Table * t, Find(table));
    std::unique_lock<std::shared_mutex> lock(t->mu);
    for (size_t i = 0; i < n; ++i) t->rows.Put(keys[i], rows[i]);
    return Status::OK();
  }

  Status Delete(const std::string& table, const uint64_t* keys, size_t n) override {
    MSREC_ASSIGN_OR_RETURN(Table * t, Find(table));
    std::unique_lock<std::shared_mutex> lock(t->mu);
    for (size_t i = 0; i < n; ++i) t->rows.Erase(keys[i]);
    return Status::OK();
  }

  Status Flush() override { return Status::OK(); }

  Status ForEach(const std::string& table,
                 const std::function<bool(uint64_t, std::string_view)>& fn) const override {
    MSREC_ASSIGN_OR_RETURN(Table * t, Find(table));
    std::shared_lock<std::shared_mutex> lock(t->mu);
    std::vector<uint64_t> keys = t->rows.Keys();
    std::sort(keys.begin(), keys.end());
    for (uint64_t key : keys) {
      bool found = false;
      const std::string_view row = t->rows.Find(key, &found);
      if (!fn(key, row)) break;
    }
    return Status::OK();
  }

  Result<uint64_t> Count(const std::string& table) const override {
    MSREC_ASSIGN_OR_RETURN(Table * t, Find(table));
    std::shared_lock<std::shared_mutex> lock(t->mu);
    return static_cast<uint64_t>(t->rows.size());
  }

  Result<uint64_t> MemoryUsageBytes() const override {
    std::shared_lock<std::shared_mutex> lock(mu_);
    uint64_t bytes = 0;
    for (const auto& [name, t] : tables_) {
      std::shared_lock<std::shared_mutex> table_lock(t->mu);
      bytes += t->rows.MemoryBytes();
    }
    return bytes;
  }

 private:
  struct Table {
    mutable std::shared_mutex mu;
    RowMap rows;  // guarded by mu
  };

  Result<Table*> Find(const std::string& table) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = tables_.find(table);
    if (it == tables_.end()) {
      return Status::NotFound("memory store has no table '" + table + "'");
    }
    return it->second.get();  // valid until DropTable (never concurrent with calls on it)
  }

  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<Table>> tables_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<EmbeddingStore> MakeMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace msrec
