#include "parameter_server/embedded_ps.h"

#include <limits>

#include "cluster/inprocess_transport.h"

namespace msrec {
namespace {

constexpr int kWorkerRank = 0;
constexpr int kServerRank = 1;
constexpr size_t kMaxMessageBytes = size_t{1} << 31;  // in memory: only a sanity bound

}  // namespace

Result<std::unique_ptr<EmbeddedPs>> EmbeddedPs::Start(ServerOptions options,
                                                      double client_timeout_s) {
  MSREC_RETURN_IF_ERROR(ValidateServerOptions(options));
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddingStore> store, OpenStore(options.store));
  std::unique_ptr<EmbeddedPs> ps(new EmbeddedPs());
  ps->transports_ = MakeInProcessTransports(2, kMaxMessageBytes);
  options.server.num_workers = 1;
  options.server.num_servers = 1;
  options.server.server_index = 0;
  // The only worker is this process: it cannot die while the server waits.
  options.server.idle_timeout_s = std::numeric_limits<double>::infinity();
  Transport* server_transport = ps->transports_[kServerRank].get();
  EmbeddedPs* self = ps.get();
  ps->server_ = std::thread([self, server_transport, options, store = std::move(store)]() mutable {
    self->server_status_ = Serve(std::move(store), options, server_transport);
    self->server_finished_ = true;
    if (!self->server_status_.ok()) {
      LOG(ERROR) << "embedded parameter server: " << self->server_status_.ToString();
      // Close the server's endpoint: the worker's waits for its replies fail
      // now (the in-process transport reports the rank gone) instead of at
      // the client's timeout.
      self->transports_[kServerRank].reset();
    }
  });
  RemoteClientOptions client_options;
  client_options.server_ranks = {kServerRank};
  client_options.worker_index = 0;
  client_options.timeout_s = client_timeout_s;
  ps->client_ = std::make_unique<RemoteClient>(ps->transports_[kWorkerRank].get(), client_options);
  return ps;
}

Status EmbeddedPs::Stop() {
  if (stopped_) return server_status_;
  stopped_ = true;
  // A server that already failed no longer answers: do not wait for it.
  Status done = server_finished_ ? Status::OK() : client_->Done();
  server_.join();
  MSREC_RETURN_IF_ERROR(server_status_);
  return done;
}

EmbeddedPs::~EmbeddedPs() {
  Status s = Stop();
  if (!s.ok()) LOG(ERROR) << "stopping the embedded parameter server: " << s.ToString();
}

}  // namespace msrec
