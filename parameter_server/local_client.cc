#include "parameter_server/local_client.h"

namespace msrec {
namespace {

class ReadyFuture : public PsFuture {
 public:
  explicit ReadyFuture(Status status) : status_(std::move(status)) {}
  Status Wait(double) override { return status_; }

 private:
  Status status_;
};

}  // namespace

std::unique_ptr<PsFuture> MakeReadyFuture(Status status) {
  return std::make_unique<ReadyFuture>(std::move(status));
}

LocalClient::LocalClient(std::unique_ptr<EmbeddingStore> store) : shard_(std::move(store)) {}

Status LocalClient::CreateTable(const TableConfig& config) { return shard_.CreateTable(config); }

Status LocalClient::DropTable(const std::string& table) { return shard_.DropTable(table); }

Status LocalClient::Pull(const std::string& table, const uint64_t* keys, size_t n, float* weights) {
  return shard_.Pull(table, keys, n, weights);
}

Status LocalClient::Push(const std::string& table, const uint64_t* keys, size_t n,
                         const float* grads, int64_t step) {
  return shard_.Push(table, keys, n, grads, step);
}

Status LocalClient::Flush() { return shard_.Flush(); }

Status LocalClient::EvictExpired(int64_t step) {
  Result<uint64_t> evicted = shard_.EvictExpired(step);
  if (evicted.ok() && evicted.value() > 0) {
    LOG(INFO) << "evicted " << evicted.value() << " rows older than their TTL at step " << step;
  }
  return evicted.status();
}

std::unique_ptr<PsClient> MakeLocalClient(std::unique_ptr<EmbeddingStore> store) {
  return std::make_unique<LocalClient>(std::move(store));
}

}  // namespace msrec
