// Helpers shared by the parameter-server test suites: a store that forwards
// every call to a MemoryStore, the base of the fakes that count calls or
// inject failures.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parameter_server/embedding_store.h"
#include "parameter_server/memory_store.h"

namespace msrec::testing {

class ForwardingStore : public EmbeddingStore {
 public:
  ForwardingStore() : store_(MakeMemoryStore()) {}
  Status CreateTable(const std::string& t) override { return store_->CreateTable(t); }
  Status DropTable(const std::string& t) override { return store_->DropTable(t); }
  std::vector<std::string> TableNames() const override { return store_->TableNames(); }
  Status MultiGetVisit(const std::string& t, const uint64_t* keys, size_t n, bool sorted,
                       const RowVisitor& fn) const override {
    return store_->MultiGetVisit(t, keys, n, sorted, fn);
  }
  Status Write(const std::string& t, const uint64_t* keys, size_t n,
               const std::string* rows) override {
    return store_->Write(t, keys, n, rows);
  }
  Status Delete(const std::string& t, const uint64_t* keys, size_t n) override {
    return store_->Delete(t, keys, n);
  }
  Status Flush() override { return store_->Flush(); }
  Status ForEach(const std::string& t,
                 const std::function<bool(uint64_t, std::string_view)>& fn) const override {
    return store_->ForEach(t, fn);
  }
  Result<uint64_t> Count(const std::string& t) const override { return store_->Count(t); }

 private:
  std::unique_ptr<EmbeddingStore> store_;
};

}  // namespace msrec::testing
