// The in-process PsClient: the whole of every table lives in one store of this
// process (one worker, tests, single-machine runs). Typical use:
//
//   MSREC_ASSIGN_OR_RETURN(auto store, OpenRocksDbStore(dir));   // or MakeMemoryStore()
//   std::unique_ptr<PsClient> ps = MakeLocalClient(std::move(store));
//   MSREC_RETURN_IF_ERROR(ps->CreateTable(config));
//   MSREC_RETURN_IF_ERROR(ps->Pull("emb", keys, n, weights));
#pragma once

#include <memory>

#include "parameter_server/embedding_store.h"
#include "parameter_server/ps_client.h"
#include "parameter_server/internal/sparse_table.h"

namespace msrec {

// Thread safety: safe for concurrent calls (see SparseTable for how Pull and
// Push on one table interleave).
class LocalClient : public PsClient {
 public:
  // `store` is owned; CHECK-fails if null.
  explicit LocalClient(std::unique_ptr<EmbeddingStore> store);

  Status CreateTable(const TableConfig& config) override;
  Status DropTable(const std::string& table) override;
  Status Pull(const std::string& table, const uint64_t* keys, size_t n, float* weights) override;
  Status Push(const std::string& table, const uint64_t* keys, size_t n, const float* grads,
              int64_t step) override;
  Status Flush() override;
  Status EvictExpired(int64_t step) override;

  // The backing store, e.g. for SaveStore next to a model checkpoint. Owned by
  // the client; do not write to it directly while the client is in use.
  EmbeddingStore* store() const { return shard_.store(); }

 private:
  SparseShard shard_;
};

std::unique_ptr<PsClient> MakeLocalClient(std::unique_ptr<EmbeddingStore> store);

}  // namespace msrec
