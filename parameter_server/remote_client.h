// RemoteClient: the PsClient of a worker in a multi-process job. Keys are
// routed to server ranks by virtual bucket (key_routing.h); each call sends
// one request per server over a Transport (MPI or in-process) and gathers the replies. Pull and Push have
// asynchronous forms (PullAsync / PushAsync) whose futures time out with an
// error naming the server rank that did not answer.
//
//   RemoteClientOptions options;
//   options.server_ranks = {2, 3};  // from Topology::ServerRank
//   options.worker_index = topology.worker_index();
//   RemoteClient ps(&transport, options);  // MpiMessenger or in-process
//   MSREC_RETURN_IF_ERROR(ps.CreateTable(config));
//   auto next = ps.PullAsync("emb", keys, n, weights, step + 1);  // overlaps this step
//   ...
//   MSREC_RETURN_IF_ERROR(next->Wait(options.timeout_s));
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/transport.h"
#include "parameter_server/internal/key_routing.h"
#include "parameter_server/ps_client.h"
#include "parameter_server/internal/wire_format.h"

namespace msrec {

struct RemoteClientOptions {
  std::vector<int> server_ranks;         // rank of server s on the transport
  int worker_index = 0;                  // this worker's index (servers count pushes per worker)
  int num_buckets = kDefaultNumBuckets;  // virtual buckets (same on every rank)
  double timeout_s = 120;                // how long Pull/Push/Flush wait for a server
  int64_t start_step = 0;                // the last step already applied (resume: the
                                         // checkpoint's); the first push is start_step + 1
};

// Thread safety: safe for concurrent calls; each future is waited on by one thread.
class RemoteClient : public PsClient {
 public:
  // `transport` is not owned and must outlive the client.
  RemoteClient(Transport* transport, RemoteClientOptions options);

  // Sends the config to every server (each creates its shard of the table).
  Status CreateTable(const TableConfig& config) override;
  Status DropTable(const std::string& table) override;
  // Pull / Push wait up to options.timeout_s. Pull is for step
  // (the last step this client pushed to the table + 1); Push sends a (possibly empty) request to every
  // server, which a synchronous server needs to count the workers of a step.
  Status Pull(const std::string& table, const uint64_t* keys, size_t n, float* weights) override;
  Status Push(const std::string& table, const uint64_t* keys, size_t n, const float* grads,
              int64_t step) override;
  std::unique_ptr<PsFuture> PullAsync(const std::string& table, const uint64_t* keys, size_t n,
                                      float* weights, int64_t step) override;
  std::unique_ptr<PsFuture> PushAsync(const std::string& table, const uint64_t* keys, size_t n,
                                      const float* grads, int64_t step) override;
  // Every server flushes its store.
  Status Flush() override;

  // Tells every server this worker is finished (no more pulls or pushes); a
  // server exits once all its workers are done.
  Status Done();
  // Every server flushes and writes its rows into `dir` (server-<s>.rocksdb, a
  // RocksDB checkpoint, or server-<s>.bin, a dump; `dir` must be reachable by
  // every server, e.g. a shared file system).
  Status SaveCheckpoint(const std::string& dir, int64_t step) override;
  // Every server loads the rows of its buckets from all server-* parts in
  // `dir` (written by any number of servers) and resumes after `step`.
  Status LoadCheckpoint(const std::string& dir, int64_t step) override;
  // TTL eviction on every server at `step`.
  Status EvictExpired(int64_t step) override;
  // Each server's statistics text, one entry per server.
  Result<std::vector<std::string>> Stats();

  const RemoteClientOptions& options() const { return options_; }
  double default_timeout_s() const override { return options_.timeout_s; }

 private:
  // Sends the same keyless request to every server and waits for all replies.
  Status Broadcast(RequestType type, const std::string& table, int64_t step,
                   std::string_view payload, std::vector<std::string>* messages);
  uint32_t NextId() { return next_id_.fetch_add(1); }
  struct TableInfo {
    int dim = 0;
    int64_t last_push_step = 0;
  };
  TableInfo InfoOf(const std::string& table) const;  // dim 0 if CreateTable was not called

  Transport* transport_;
  RemoteClientOptions options_;
  std::atomic<uint32_t> next_id_{1};
  mutable std::mutex mu_;
  std::map<std::string, TableInfo> tables_;  // guarded by mu_: tables created through this client
};

}  // namespace msrec
