// PsServer: the loop of one server rank. It owns nothing but its state: the
// tables live in a SparseShard (over RocksDB, the row cache or memory), the
// bytes travel through a Transport (MPI or in-process). Requests come from any worker on
// kRequestTag; each gets exactly one reply on its reply tag, an error reply
// when the request is malformed (the server keeps serving).
//
// Synchronous mode (default): the pushes of all active workers for step t of a
// table are buffered, summed in worker order (deterministic), averaged over
// the workers that pushed, and applied once; a pull for step t+1 waits until
// step t is applied. With split_steps, the update's keys that the pulls already
// waiting for step t+1 read are applied first, the pushes and those pulls are
// answered, and the rest of the step is applied on a thread of its own while
// the workers compute step t+1; meanwhile only pulls that must wait anyway are
// taken (and their prefetch started), every other request waits for it. So
// every pull sees every row as after the whole step, and a failure of the
// second part is the answer to every later request.
// Asynchronous mode: each push is applied on arrival; a pull for step s waits
// while some active worker's last push is older than s - 1 - max_staleness.
//
//   PsServer server(&shard, &transport, options);
//   MSREC_RETURN_IF_ERROR(server.Run());  // until every worker sent Done
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/transport.h"
#include "common/status.h"
#include "common/timer.h"
#include "parameter_server/internal/sparse_table.h"
#include "parameter_server/internal/wire_format.h"

namespace msrec {

struct PsServerOptions {
  int server_index = 0;         // this server's index (logs, stats)
  int num_servers = 1;          // servers in the job (restore keeps the keys of its buckets)
  int num_buckets = 4096;       // virtual buckets (key_routing.h), the same on every rank
  int num_workers = 1;          // workers that will talk to it (sync: pushes per step)
  bool sync = true;             // false: asynchronous, apply each push on arrival
  int64_t max_staleness = 0;    // async only: steps a pull may run ahead of the slowest worker
  double idle_timeout_s = 600;  // Run fails when no request arrives this long while
                                // workers are active, or (sync) when a step's pushes
                                // are incomplete this long: a dead worker must not hang
                                // it; the error names the workers it waited for
  double stats_interval_s = 60; // log statistics this often (0: never)
  // Run the prefetch of a deferred pull's rows on a thread of its own, so that
  // the request thread applies the step's pushes meanwhile (the pull waits for
  // it before it is served); false: the request thread prefetches itself.
  bool async_prefetch = true;
  // Sync: update a step's rows in two parts, the keys that the pulls already
  // waiting for the step read first; the pushes and those pulls are answered
  // between the parts, so the second part overlaps the workers' next step.
  // Every row ends the same either way (docs/parameter_server.md, "Split steps").
  bool split_steps = true;
  // Threads of the asynchronous prefetch: a deferred pull's keys are split
  // into this many contiguous parts, read from the store side by side.
  // Default 1: side by side a second thread gained nothing in training (the
  // 100M-row benchmark 63.7k samples/s with 1 against 62.9k with 2;
  // docs/parameter_server.md, "The second prefetch thread, side by side"),
  // and on a 50M-key table with a core to spare it read the misses 1.3x
  // faster in one set of runs and no faster in another. msrec's
  // --ps_prefetch_threads.
  int prefetch_threads = 1;
  WireLimits limits;            // request limits beyond the transport's byte limit
  // Extra statistics appended to the stats line (cache hit rate, RocksDB memory).
  std::function<std::string()> extra_stats;
};

// Runs the prefetches of deferred pulls on threads of its own (ps_server.cc).
class Prefetcher;
// Runs the second parts of split steps on a thread of its own (ps_server.cc).
class SecondPart;

// Thread safety: Run on one thread; nothing else touches the server meanwhile.

class PsServer {
 public:
  // `shard` and `transport` are not owned and must outlive the server.
  PsServer(SparseShard* shard, Transport* transport, PsServerOptions options);
  ~PsServer();

  // Serves until every worker has sent Done (then flushes the shard), or fails:
  // Timeout when idle past options.idle_timeout_s or when a synchronous step
  // waits that long for some worker's push (naming the workers), Unavailable
  // on transport errors.
  Status Run();

  // The statistics since the start: keys pulled/pushed and per second,
  // requests, p50/p99 latency of the last interval, extra_stats.
  std::string StatsText();

 private:
  struct Pending {  // a request that waits (a pull for a later step, a push of a step)
    Message message;
    double arrived_s = 0;  // since_start_ when it came off the wire
  };
  struct TableState {
    int dim = 0;
    // Without admission a step's rows may be updated in two parts (the keys
    // that waiting pulls read first): each key's update is the same either way.
    // Admission counts sightings in key order, so such a table is updated at once.
    bool split_updates = true;
    int64_t applied = 0;                  // last applied step (set by CreateTable)
    std::map<int, Pending> pushes;        // sync: pushes of step applied+1 by worker
    int64_t pending_step = -1;            // the step those pushes are for
  };

  void Handle(Pending pending);
  // Serves a decoded request and replies, or keeps it for later (false).
  bool Serve(Pending* pending, const RequestView& request);
  // Applies a push (async) or keeps it in its table's state until the step
  // is complete (sync); replies when applied. An error is for the caller to reply.
  Status ServePush(Pending* pending, const RequestView& r);
  bool PullReady(const TableState& t, int64_t step) const;
  Status Checkpoint(const std::string& dir);
  Status Restore(const std::string& dir, int64_t step);
  // Applies step pending_step of `table` (the average of its pushes) and
  // replies to the pushes. The keys that the pulls waiting for this step read
  // are updated first; those pulls are served (RetryDeferred) and the rest of
  // the step is started on second_part_, while the workers compute the next step.
  Status ApplySyncStep(const std::string& table, TableState* t);
  // Reorders the step's update (keys[0..n), grads n x dim) into split_keys_ /
  // split_grads_: the keys that a deferred pull of `table` ready after `step`
  // reads, then the others. Returns how many come first.
  size_t OrderForWaitingPulls(const std::string& table, int64_t step, const uint64_t* keys,
                              const float* grads, size_t n, size_t dim);
  void RetryDeferred();
  // Waits for the second part of the last split step (if one runs) and counts
  // it; its failure becomes late_failure_.
  void FinishSecondPart();
  void Reply(const Pending& to, const RequestView& r, const Status& status,
             const float* floats = nullptr, uint64_t n = 0, std::string_view text = {});
  int ActiveWorkers() const;
  // Sync: Timeout naming the missing workers when a step's first push came
  // more than idle_timeout_s ago and the step is still incomplete.
  Status CheckStalledSteps() const;
  // "worker(s) 1, 3": the indices whose flag is `value`.
  static std::string WorkerList(const std::vector<bool>& flags, bool value);
  void MaybeLogStats();

  SparseShard* shard_;
  Transport* transport_;
  PsServerOptions options_;
  std::map<std::string, TableState> tables_;
  std::deque<Pending> deferred_pulls_;
  // A step's update reordered by OrderForWaitingPulls (reused buffers).
  std::vector<uint64_t> split_keys_;
  std::vector<float> split_grads_;
  std::vector<uint64_t> wanted_;  // an open-addressing set of the waiting pulls' keys
  std::vector<uint8_t> wanted_used_;
  // The failure of a step's second part, applied after its pushes were
  // answered: every later request is answered with it.
  Status late_failure_;
  struct SecondPartInfo {
    std::string table;
    int64_t step = 0;
    size_t keys = 0;  // 0: none running
  };
  SecondPartInfo second_part_pending_;
  std::vector<int64_t> last_push_;  // per worker: last step pushed (async staleness)
  std::vector<bool> done_;          // per worker: sent Done
  std::set<std::string> restored_tables_;  // the tables in that checkpoint
  int64_t restored_step_ = 0;       // the step of the checkpoint restored (0: none)
  // Statistics.
  Timer since_start_;
  Timer since_stats_;
  uint64_t keys_pulled_ = 0, keys_pushed_ = 0, requests_ = 0, bad_requests_ = 0;
  uint64_t interval_pulled_ = 0, interval_pushed_ = 0;
  uint64_t steps_split_ = 0, keys_applied_late_ = 0;  // split steps, their second parts' keys
  std::vector<double> latencies_us_;  // of the current interval
  // Null without async_prefetch. Every request but a push waits for the
  // prefetches queued before it (WaitAll).
  std::unique_ptr<Prefetcher> prefetcher_;
  // Null unless sync and split_steps. Declared last: destroyed first, after
  // the part it runs.
  std::unique_ptr<SecondPart> second_part_;
};

}  // namespace msrec
