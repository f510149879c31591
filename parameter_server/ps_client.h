// PsClient: how a worker reads and updates sparse embedding rows. The local
// (in-process) client and the remote client over MPI implement it, so the
// trainer never knows which one it talks to.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "parameter_server/table_config.h"

namespace msrec {

// A call in flight (see PsClient::PullAsync). Thread safety: one thread waits.
class PsFuture {
 public:
  virtual ~PsFuture() = default;
  // Waits until the call has completed or `timeout_s` seconds have passed:
  // the call's Status, or Timeout naming who did not answer. After a Timeout
  // the call is abandoned (its buffers may still be written until the
  // client is destroyed, so a caller that times out should stop).
  virtual Status Wait(double timeout_s) = 0;
};

// A future that is already complete with `status`.
std::unique_ptr<PsFuture> MakeReadyFuture(Status status);

class PsClient {
 public:
  virtual ~PsClient() = default;

  // Creates `config.name` if it does not exist; an existing table must have the
  // same dim and optimizer, else InvalidArgument.
  virtual Status CreateTable(const TableConfig& config) = 0;

  // Removes `table` and every row of it (on every server). NotFound if it
  // does not exist. No call on the table may be in flight (a data-parallel
  // job drops it from one worker after a barrier).
  virtual Status DropTable(const std::string& table) = 0;

  // Reads the weights of `n` keys into `weights` (n x dim floats, caller-owned).
  // Keys without a row get their deterministic initial value (a function of the
  // key and table seed only, so any server count gives the same value).
  // Keys need not be unique. Does not change any row.
  virtual Status Pull(const std::string& table, const uint64_t* keys, size_t n, float* weights) = 0;

  // Applies the server-side optimizer to the rows of `n` UNIQUE keys with
  // gradients `grads` (n x dim floats) at global step `step` (>= 1). Creates
  // missing rows (from their initial value) first, bumps frequency, sets last step.
  virtual Status Push(const std::string& table, const uint64_t* keys, size_t n, const float* grads,
                      int64_t step) = 0;

  // Asynchronous Pull: starts it and returns; `weights` must stay valid until
  // the future's Wait returns. `step` is the global step the rows are for
  // (0: any): a synchronous remote server answers only once the pushes of
  // step - 1 are applied, so a pull for step t+1 may be issued before the
  // push of step t. The default runs Pull at once.
  virtual std::unique_ptr<PsFuture> PullAsync(const std::string& table, const uint64_t* keys,
                                              size_t n, float* weights, int64_t step) {
    return MakeReadyFuture(Pull(table, keys, n, weights));
  }

  // Asynchronous Push (same contract as Push; `grads` must stay valid until
  // Wait returns). The default runs Push at once.
  virtual std::unique_ptr<PsFuture> PushAsync(const std::string& table, const uint64_t* keys,
                                              size_t n, const float* grads, int64_t step) {
    return MakeReadyFuture(Push(table, keys, n, grads, step));
  }

  // Checkpoint of every row into directory `dir` at global step `step`, and
  // its restore (rows replaced by the checkpoint's; pushes continue at
  // step + 1). The remote client implements them; the embedded trainer
  // snapshots its store directly, so the default is Unavailable.
  virtual Status SaveCheckpoint(const std::string& dir, int64_t step) {
    return Status::Unavailable("this client cannot checkpoint");
  }
  virtual Status LoadCheckpoint(const std::string& dir, int64_t step) {
    return Status::Unavailable("this client cannot restore checkpoints");
  }

  // TTL eviction at global step `step`: every table with ttl_steps > 0 deletes
  // the rows (and their optimizer state) not pushed since step - ttl_steps.
  virtual Status EvictExpired(int64_t step) = 0;

  // How long callers should wait on this client's futures (seconds).
  virtual double default_timeout_s() const { return 3600; }

  // Makes every update durable in the backing store (flushes caches).
  virtual Status Flush() = 0;
};

}  // namespace msrec
