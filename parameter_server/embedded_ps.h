// The embedded default's parameter server: the same PsServer and RemoteClient
// as an mpirun job, one server on a thread of this process and the caller as
// its only worker, over the in-process transport (cluster/inprocess_transport.h).
// So one process gets what a distributed job gets: the row cache in front of
// RocksDB, the next step's rows fetched while this step computes,
// asynchronous pushes, synchronous-step semantics, statistics and server-side
// checkpoints (PsClient::SaveCheckpoint / LoadCheckpoint).
//
//   ServerOptions options;
//   options.store = {"rocksdb", model_dir + "/embeddings", /*fresh=*/true, 1024};
//   MSREC_ASSIGN_OR_RETURN(auto ps, EmbeddedPs::Start(options));
//   MSREC_RETURN_IF_ERROR(ps->client()->CreateTable(config));
//   ...
//   MSREC_RETURN_IF_ERROR(ps->Stop());  // the worker is done; the store is persisted
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "cluster/transport.h"
#include "parameter_server/ps_service.h"
#include "parameter_server/remote_client.h"

namespace msrec {

// Thread safety: client() is as thread-safe as RemoteClient; Start and Stop
// from one thread.
class EmbeddedPs {
 public:
  // Opens the store (errors are returned here, naming the path) and starts
  // the server thread. options.server.num_workers is set to 1; its timeouts
  // apply as in a distributed job (`client_timeout_s` is the client's).
  static Result<std::unique_ptr<EmbeddedPs>> Start(ServerOptions options,
                                                   double client_timeout_s = 3600);
  ~EmbeddedPs();  // Stop() unless it ran (errors are logged)

  RemoteClient* client() { return client_.get(); }

  // Tells the server this worker is done, waits for it to finish (persisting
  // the store) and returns its status. Idempotent.
  Status Stop();

 private:
  EmbeddedPs() = default;

  std::vector<std::unique_ptr<Transport>> transports_;  // [0] the worker's, [1] the server's
  std::unique_ptr<RemoteClient> client_;
  std::thread server_;
  Status server_status_;  // written by the server thread, read after join
  std::atomic<bool> server_finished_{false};  // the server thread has left Serve
  bool stopped_ = false;
};

}  // namespace msrec
