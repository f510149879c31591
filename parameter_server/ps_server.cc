#include "parameter_server/ps_server.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/file_util.h"
#include "common/hash.h"
#include "parameter_server/internal/key_routing.h"
#include "parameter_server/store_snapshot.h"
#include <utility>

namespace msrec {
namespace {

double Percentile(std::vector<double>* v, double q) {
  if (v->empty()) return 0;
  const size_t k = static_cast<size_t>(q * (v->size() - 1));
  std::nth_element(v->begin(), v->begin() + k, v->end());
  return (*v)[k];
}

// The union of the pushes' keys and, per key, the sum of its gradients over
// the pushes divided by their number. Summed in the pushes' order (worker
// order), so the result does not depend on arrival.
void AverageGradients(const std::vector<RequestView>& pushes, size_t dim,
                      std::vector<uint64_t>* keys, std::vector<float>* grads) {
  std::unordered_map<uint64_t, size_t> index;
  for (const RequestView& r : pushes) {
    for (size_t i = 0; i < r.header.num_keys; ++i) {
      auto [pos, inserted] = index.emplace(r.keys[i], keys->size());
      if (inserted) {
        keys->push_back(r.keys[i]);
        grads->insert(grads->end(), r.floats + i * dim, r.floats + (i + 1) * dim);
      } else {
        float* g = &(*grads)[pos->second * dim];
        for (size_t j = 0; j < dim; ++j) g[j] += r.floats[i * dim + j];
      }
    }
  }
  const float scale = 1.0f / static_cast<float>(pushes.size());
  for (float& g : *grads) g *= scale;
}

}  // namespace

// The prefetches of deferred pulls, on threads of their own: the RocksDB
// reads of step t+1's misses (most of a server's time when the table is far
// larger than the row cache) overlap the request thread's work on step t
// (applying its pushes), and a prefetch's keys are split over the threads.
// A prefetch only warms the row cache, which is safe beside any concurrent
// pull or push (cached_store.h); its errors are logged, and the pull that
// follows reads what it needs itself.
class Prefetcher {
 public:
  // A part has at least this many keys (smaller ones are not worth a thread).
  static constexpr size_t kMinPartKeys = 1024;

  Prefetcher(SparseShard* shard, int threads) : shard_(shard) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
  }
  // Runs what is queued, then stops.
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  void Enqueue(const std::string& table, const uint64_t* keys, size_t n) {
    const size_t parts =
        std::max<size_t>(1, std::min(threads_.size(), n / kMinPartKeys));
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t p = 0; p < parts; ++p) {
        const size_t begin = n * p / parts, end = n * (p + 1) / parts;
        queue_.push_back(Task{table, std::vector<uint64_t>(keys + begin, keys + end)});
        ++queued_;
      }
    }
    work_cv_.notify_all();
  }

  // Waits until every prefetch queued so far has run.
  void WaitAll() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t target = queued_;
    done_cv_.wait(lock, [&] { return done_ >= target; });
  }

 private:
  struct Task {
    std::string table;
    std::vector<uint64_t> keys;
  };

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopped, nothing left
      Task task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      const Status s = shard_->Prefetch(task.table, task.keys.data(), task.keys.size());
      if (!s.ok()) LOG(WARNING) << "prefetch: " << s.ToString();
      lock.lock();
      ++done_;
      done_cv_.notify_all();
    }
  }

  SparseShard* const shard_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Task> queue_;  // guarded by mu_
  uint64_t queued_ = 0;     // guarded by mu_
  uint64_t done_ = 0;       // guarded by mu_
  bool stop_ = false;       // guarded by mu_
  std::vector<std::thread> threads_;
};

// The second parts of split steps (PsServerOptions::split_steps), on a thread
// of its own: meanwhile the request thread takes the next step's pulls and
// starts their prefetch. One part at a time; Wait returns its status.
class SecondPart {
 public:
  SecondPart() : thread_([this] { Run(); }) {}
  // Runs the part started (if any), then stops.
  ~SecondPart() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SecondPart(const SecondPart&) = delete;
  SecondPart& operator=(const SecondPart&) = delete;

  void Start(std::function<Status()> part) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      CHECK(!running_);
      part_ = std::move(part);
      running_ = true;
    }
    cv_.notify_all();
  }

  // Waits for the part started last; its status (OK if none ran since).
  Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !running_; });
    Status result = std::move(result_);
    result_ = Status::OK();
    return result;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || part_ != nullptr; });
      if (part_ == nullptr) return;  // stopped, nothing left
      std::function<Status()> part = std::move(part_);
      part_ = nullptr;
      lock.unlock();
      Status s = part();
      lock.lock();
      result_ = std::move(s);
      running_ = false;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<Status()> part_;  // guarded by mu_
  bool running_ = false;          // guarded by mu_
  bool stop_ = false;             // guarded by mu_
  Status result_;                 // guarded by mu_
  std::thread thread_;
};

PsServer::PsServer(SparseShard* shard, Transport* transport, PsServerOptions options)
    : shard_(shard),
      transport_(transport),
      options_(std::move(options)),
      last_push_(options_.num_workers, 0),
      done_(options_.num_workers, false) {
  CHECK(shard_ != nullptr && transport_ != nullptr);
  CHECK_GT(options_.num_workers, 0);
  if (options_.async_prefetch) {
    prefetcher_ = std::make_unique<Prefetcher>(shard_, options_.prefetch_threads);
  }
  if (options_.sync && options_.split_steps) second_part_ = std::make_unique<SecondPart>();
}

PsServer::~PsServer() = default;

int PsServer::ActiveWorkers() const {
  return static_cast<int>(std::count(done_.begin(), done_.end(), false));
}

Status PsServer::Run() {
  // How long one wait for a request lasts before the loop checks its timers.
  constexpr double kPollSeconds = 0.05;
  Timer idle;
  while (ActiveWorkers() > 0 || transport_->PendingSends() > 0) {
    Pending p;
    const Status got = transport_->Receive(kAnySource, kRequestTag, kPollSeconds, &p.message);
    MaybeLogStats();
    MSREC_RETURN_IF_ERROR(CheckStalledSteps());
    if (got.code() == Status::Code::kTimeout) {
      if (ActiveWorkers() > 0 && idle.Seconds() > options_.idle_timeout_s) {
        return Status::Timeout("parameter server " + std::to_string(options_.server_index) +
                               ": no request for " + std::to_string(options_.idle_timeout_s) +
                               " s while " + WorkerList(done_, false) +
                               " have not finished (a worker died?)");
      }
      if (ActiveWorkers() == 0 && idle.Seconds() > options_.idle_timeout_s) break;  // sends stuck
      continue;
    }
    MSREC_RETURN_IF_ERROR(got);
    idle.Reset();
    p.arrived_s = since_start_.Seconds();
    Handle(std::move(p));
  }
  FinishSecondPart();
  LOG(INFO) << "parameter server " << options_.server_index << " done: " << StatsText();
  if (prefetcher_ != nullptr) prefetcher_->WaitAll();
  MSREC_RETURN_IF_ERROR(late_failure_);
  return shard_->Close();
}

std::string PsServer::WorkerList(const std::vector<bool>& flags, bool value) {
  std::string list;
  for (size_t w = 0; w < flags.size(); ++w) {
    if (flags[w] != value) continue;
    list += (list.empty() ? "" : ", ") + std::to_string(w);
  }
  return "worker(s) " + list;
}

Status PsServer::CheckStalledSteps() const {
  if (!options_.sync) return Status::OK();
  const double now = since_start_.Seconds();
  for (const auto& [name, t] : tables_) {
    if (t.pushes.empty()) continue;
    double first = now;
    std::vector<bool> missing = done_;  // finished workers are not waited for
    for (const auto& [worker, pending] : t.pushes) {
      first = std::min(first, pending.arrived_s);
      missing[worker] = true;
    }
    if (now - first <= options_.idle_timeout_s) continue;
    char waited[32];
    std::snprintf(waited, sizeof(waited), "%.1f", now - first);
    return Status::Timeout(
        "parameter server " + std::to_string(options_.server_index) + ": synchronous step " +
        std::to_string(t.pending_step) + " of table '" + name + "' has waited " + waited +
        " s for the push of " + WorkerList(missing, false) + " (a worker died or hangs?)");
  }
  return Status::OK();
}

void PsServer::Handle(Pending p) {
  ++requests_;
  RequestView r;
  Status decoded = p.message.oversized
                       ? Status::InvalidArgument("request of " + std::to_string(p.message.size) +
                                                 " bytes exceeds the limit of " +
                                                 std::to_string(transport_->max_message_bytes()))
                       : DecodeRequest(p.message.bytes, options_.limits, &r);
  if (decoded.ok() && (r.header.worker < 0 || r.header.worker >= options_.num_workers)) {
    decoded = Status::InvalidArgument("worker index " + std::to_string(r.header.worker) +
                                      " outside [0, " + std::to_string(options_.num_workers) + ")");
  }
  if (!decoded.ok()) {
    ++bad_requests_;
    LOG(WARNING) << "parameter server " << options_.server_index << ": bad request from rank "
                 << p.message.source << ": " << decoded.message();
    uint32_t id = 0;
    const bool routable = PeekRequestId(p.message.bytes, &id);
    transport_->Send(p.message.source, routable ? ReplyTag(id) : kUnroutableReplyTag,
                     EncodeReply(0, id, decoded.WithContext("malformed request"), nullptr, 0))
        .ok();
    return;
  }
  // Everything but a pull (which may wait for the step after) sees whole steps.
  if (r.header.type != RequestType::kPull) FinishSecondPart();
  if (!late_failure_.ok()) {
    // A step's rows are incomplete: nothing may read or save them.
    if (r.header.type == RequestType::kDone) done_[r.header.worker] = true;
    Reply(p, r, late_failure_);
    return;
  }
  if (!Serve(&p, r)) {
    if (r.header.type == RequestType::kPull) {
      // A pull for the next step waits for this step's pushes; meanwhile its
      // rows come from the backing store into the row cache (RocksDB reads
      // overlap the worker's compute instead of following its push, and with
      // async_prefetch the server's work on this step too).
      if (prefetcher_ != nullptr) {
        prefetcher_->Enqueue(std::string(r.table), r.keys, r.header.num_keys);
      } else {
        Status prefetched = shard_->Prefetch(std::string(r.table), r.keys, r.header.num_keys);
        if (!prefetched.ok()) LOG(WARNING) << "prefetch: " << prefetched.ToString();
      }
      deferred_pulls_.push_back(std::move(p));
    }
    // a deferred push is kept in its table's state by ServePush
  }
}

bool PsServer::Serve(Pending* p, const RequestView& r) {
  const std::string table(r.table);
  const RequestHeader& h = r.header;
  // A push may run beside the prefetches (that is their point); everything
  // else waits for them: a pull would otherwise read the keys they are
  // fetching a second time, and a checkpoint, restore, drop or flush must not
  // race a fetch into the cache.
  if (prefetcher_ != nullptr && h.type != RequestType::kPush) prefetcher_->WaitAll();
  switch (h.type) {
    case RequestType::kCreateTable: {
      TableConfig config;
      config.name = table;
      Status s = DecodeTableConfig(r.payload, &config);
      if (s.ok()) s = shard_->CreateTable(config);
      if (s.ok()) {
        // The creating worker says which step was applied last (0 for a new
        // job, the checkpoint's step on resume); a table keeps its first value.
        // A table of the restored checkpoint starts at its step; a new one
        // (e.g. a share-sweep retrain's after a resumed search) at 0.
        auto [it, inserted] = tables_.try_emplace(table);
        it->second.dim = config.dim;
        it->second.split_updates = config.admit_after <= 1;
        const int64_t restored = restored_tables_.count(table) != 0 ? restored_step_ : 0;
        if (inserted) it->second.applied = std::max<int64_t>({h.step, restored, 0});
      }
      Reply(*p, r, s);
      return true;
    }
    case RequestType::kDropTable: {
      auto it = tables_.find(table);
      Status s;
      if (it == tables_.end()) {
        s = Status::NotFound("no table '" + table + "' to drop");
      } else if (!it->second.pushes.empty()) {
        s = Status::InvalidArgument("table '" + table + "': step " +
                                    std::to_string(it->second.pending_step) +
                                    " is incomplete; drop it after the last step");
      } else {
        s = shard_->DropTable(table);
        tables_.erase(it);
        restored_tables_.erase(table);  // created again, it starts at step 0
      }
      Reply(*p, r, s);
      return true;
    }
    case RequestType::kPull: {
      auto it = tables_.find(table);
      if (it == tables_.end() || it->second.dim != static_cast<int>(h.dim)) {
        Reply(*p, r, Status::NotFound("no table '" + table + "' of dim " + std::to_string(h.dim)));
        return true;
      }
      // The reply must fit a message (and memory): refuse instead of failing
      // to allocate or to send.
      if (uint64_t(h.num_keys) * h.dim * sizeof(float) + 1024 > transport_->max_message_bytes()) {
        Reply(*p, r, Status::InvalidArgument(
                         "pull of " + std::to_string(h.num_keys) + " keys x " +
                         std::to_string(h.dim) + " floats is larger than a message (" +
                         std::to_string(transport_->max_message_bytes()) + " bytes): split it"));
        return true;
      }
      if (!PullReady(it->second, h.step)) return false;
      FinishSecondPart();  // its keys may be among this pull's
      if (!late_failure_.ok()) {
        Reply(*p, r, late_failure_);
        return true;
      }
      std::vector<float> rows(h.num_keys * h.dim);
      Status s = shard_->Pull(table, r.keys, h.num_keys, rows.data());
      if (s.ok()) {
        keys_pulled_ += h.num_keys;
        interval_pulled_ += h.num_keys;
      }
      Reply(*p, r, s, rows.data(), rows.size());
      return true;
    }
    case RequestType::kPush: {
      Status s = ServePush(p, r);
      if (!s.ok()) Reply(*p, r, s);
      return true;  // replies (now or when the step is applied) are ServePush's
    }
    case RequestType::kFlush:
      Reply(*p, r, shard_->Flush());
      return true;
    case RequestType::kDone: {
      done_[h.worker] = true;
      Reply(*p, r, Status::OK());
      // A step may now be complete without this worker.
      for (auto& [name, t] : tables_) {
        if (!t.pushes.empty() && static_cast<int>(t.pushes.size()) >= ActiveWorkers()) {
          Status s = ApplySyncStep(name, &t);
          if (!s.ok()) LOG(ERROR) << s.ToString();
        }
      }
      RetryDeferred();
      return true;
    }
    case RequestType::kStats: {
      const std::string text = StatsText();
      Reply(*p, r, Status::OK(), nullptr, 0, text);
      return true;
    }
    case RequestType::kCheckpoint:
      Reply(*p, r, Checkpoint(std::string(r.payload)));
      return true;
    case RequestType::kRestore:
      Reply(*p, r, Restore(std::string(r.payload), h.step));
      return true;
    case RequestType::kEvict: {
      Result<uint64_t> evicted = shard_->EvictExpired(h.step);
      if (evicted.ok()) {
        LOG(INFO) << "parameter server " << options_.server_index << ": evicted "
                  << evicted.value() << " rows older than their TTL at step " << h.step;
      }
      Reply(*p, r, evicted.status());
      return true;
    }
  }
  return true;
}

Status PsServer::Checkpoint(const std::string& dir) {
  MSREC_RETURN_IF_ERROR(shard_->Flush());
  MSREC_RETURN_IF_ERROR(MakeDirs(dir));
  const std::string base = dir + "/server-" + std::to_string(options_.server_index);
  Timer timer;
  // Natively where the store can (RocksDB: hard-linked SST files), else a dump.
  std::string path = base + ".rocksdb";
  Status native = shard_->store()->CheckpointTo(path);
  if (native.code() == Status::Code::kUnavailable) {
    path = base + ".bin";
    MSREC_RETURN_IF_ERROR(SaveStore(*shard_->store(), path));
  } else {
    MSREC_RETURN_IF_ERROR(native);
  }
  LOG(INFO) << "parameter server " << options_.server_index << ": checkpoint " << path << " in "
            << timer.Seconds() << " s";
  return Status::OK();
}

Status PsServer::Restore(const std::string& dir, int64_t step) {
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  // The checkpoint replaces every row: rows created since it was taken go.
  MSREC_RETURN_IF_ERROR(ClearStore(shard_->store()));
  uint64_t kept = 0;
  int dumps = 0;
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const std::string& name : names) {
    if (name.rfind("server-", 0) != 0) continue;
    // Each part may hold keys of any server (another server count wrote it):
    // keep those whose bucket is ours.
    if (!ends_with(name, ".bin") && !ends_with(name, ".rocksdb")) continue;
    MSREC_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddingStore> dump,
                           OpenStoreSnapshot(dir + "/" + name));
    ++dumps;
    for (const std::string& table : dump->TableNames()) {
      restored_tables_.insert(table);
      MSREC_RETURN_IF_ERROR(shard_->store()->CreateTable(table));
      // Streamed in the part's ascending key order (RocksDB: into SST files
      // that are ingested), so no part is ever held in memory.
      MSREC_ASSIGN_OR_RETURN(std::unique_ptr<BulkWriter> writer,
                             shard_->store()->NewBulkWriter(table));
      Status added;
      MSREC_RETURN_IF_ERROR(dump->ForEach(table, [&](uint64_t key, std::string_view row) {
        if (KeyServer(key, options_.num_buckets, options_.num_servers) != options_.server_index) {
          return true;
        }
        added = writer->Add(key, row);
        ++kept;
        return added.ok();
      }));
      MSREC_RETURN_IF_ERROR(added);
      MSREC_RETURN_IF_ERROR(writer->Finish());
    }
  }
  if (dumps == 0) {
    return Status::NotFound("no server-*.bin or server-*.rocksdb parts in checkpoint " + dir);
  }
  restored_step_ = step;
  for (auto& [name, t] : tables_) t.applied = step;
  LOG(INFO) << "parameter server " << options_.server_index << ": restored " << kept
            << " rows of its buckets from " << dumps << " dump(s) in " << dir << ", step " << step;
  return Status::OK();
}

bool PsServer::PullReady(const TableState& t, int64_t step) const {
  if (step <= 0) return true;
  if (options_.sync) return t.applied >= step - 1;
  int64_t slowest = INT64_MAX;
  for (size_t w = 0; w < done_.size(); ++w) {
    if (!done_[w]) slowest = std::min(slowest, last_push_[w]);
  }
  return slowest == INT64_MAX || step - 1 - slowest <= options_.max_staleness;
}

Status PsServer::ServePush(Pending* p, const RequestView& r) {
  const std::string table(r.table);
  const RequestHeader& h = r.header;
  auto it = tables_.find(table);
  if (it == tables_.end() || it->second.dim != static_cast<int>(h.dim)) {
    return Status::NotFound("no table '" + table + "' of dim " + std::to_string(h.dim));
  }
  if (h.step < 1) return Status::InvalidArgument("push at step " + std::to_string(h.step));
  TableState& t = it->second;
  last_push_[h.worker] = std::max(last_push_[h.worker], h.step);
  if (!options_.sync) {
    Status s = shard_->Push(table, r.keys, h.num_keys, r.floats, h.step);
    if (s.ok()) {
      keys_pushed_ += h.num_keys;
      interval_pushed_ += h.num_keys;
      if (t.applied < h.step) t.applied = h.step;
    }
    Reply(*p, r, s);
    RetryDeferred();
    return Status::OK();
  }
  if (t.pushes.empty()) t.pending_step = h.step;
  if (h.step != t.pending_step || h.step != t.applied + 1) {
    return Status::InvalidArgument(
        "synchronous push for step " + std::to_string(h.step) + " from worker " +
        std::to_string(h.worker) + " while step " +
        std::to_string(t.pushes.empty() ? t.applied + 1 : t.pending_step) + " is expected");
  }
  if (t.pushes.count(h.worker) != 0) {
    return Status::InvalidArgument("worker " + std::to_string(h.worker) + " pushed step " +
                                   std::to_string(h.step) + " twice");
  }
  t.pushes.emplace(h.worker, std::move(*p));
  if (static_cast<int>(t.pushes.size()) >= ActiveWorkers()) {
    // Its failure went to the pushes (or, in its second part, goes to every
    // later request): not the caller's to reply.
    Status applied = ApplySyncStep(table, &t);
    if (!applied.ok()) LOG(ERROR) << applied.ToString();
    RetryDeferred();
  }
  return Status::OK();
}

Status PsServer::ApplySyncStep(const std::string& table, TableState* t) {
  FinishSecondPart();  // the previous step's rows are complete first
  // The pushes leave the table's state now; their messages hold the keys and
  // gradients until this function returns.
  std::map<int, Pending> pushes;
  pushes.swap(t->pushes);
  const int64_t step = t->pending_step;
  t->pending_step = -1;
  std::vector<RequestView> views(pushes.size());
  size_t v = 0;
  for (auto& [worker, pending] : pushes) {
    CHECK(DecodeRequest(pending.message.bytes, options_.limits, &views[v++]).ok());
  }
  if (!late_failure_.ok()) {  // the previous step is incomplete: this one is not applied
    v = 0;
    for (auto& [worker, pending] : pushes) Reply(pending, views[v++], late_failure_);
    return late_failure_;
  }
  const size_t dim = static_cast<size_t>(t->dim);
  const uint64_t* keys;
  const float* grads;
  size_t n;
  std::vector<uint64_t> averaged_keys;
  std::vector<float> averaged_grads;
  if (views.size() == 1) {
    // One contributor: the average is its own gradient and its keys are unique
    // (PsClient::Push; SparseTable::Push checks), so its message is applied
    // as it is, without an index or a copy of the gradients.
    keys = views[0].keys;
    grads = views[0].floats;
    n = views[0].header.num_keys;
  } else {
    AverageGradients(views, dim, &averaged_keys, &averaged_grads);
    keys = averaged_keys.data();
    grads = averaged_grads.data();
    n = averaged_keys.size();
  }
  size_t first = n;
  if (second_part_ != nullptr && t->split_updates) {
    first = OrderForWaitingPulls(table, step, keys, grads, n, dim);
    if (first < n) {
      keys = split_keys_.data();
      grads = split_grads_.data();
    }
  }
  Status s = shard_->Push(table, keys, first, grads, step);
  if (s.ok()) {
    keys_pushed_ += first;
    interval_pushed_ += first;
    t->applied = step;
  }
  v = 0;
  for (auto& [worker, pending] : pushes) Reply(pending, views[v++], s);
  if (!s.ok() || first == n) return s;
  // The waiting pulls read only rows of the first part: they are answered
  // now, and the rest of the step is applied on the second part's thread
  // while the workers compute (split_keys_ and split_grads_ stay untouched
  // until FinishSecondPart).
  RetryDeferred();
  second_part_pending_ = {table, step, n - first};
  second_part_->Start([this, table, keys, grads, first, n, dim, step] {
    return shard_->Push(table, keys + first, n - first, grads + first * dim, step);
  });
  return Status::OK();
}

void PsServer::FinishSecondPart() {
  if (second_part_ == nullptr || second_part_pending_.keys == 0) return;
  const Status s = second_part_->Wait();
  const SecondPartInfo done = second_part_pending_;
  second_part_pending_ = SecondPartInfo();
  if (!s.ok()) {
    late_failure_ = s.WithContext("parameter server " + std::to_string(options_.server_index) +
                                  ": step " + std::to_string(done.step) + " of table '" +
                                  done.table + "', applied after its pushes were answered");
    LOG(ERROR) << late_failure_.ToString();
    return;
  }
  keys_pushed_ += done.keys;
  interval_pushed_ += done.keys;
  keys_applied_late_ += done.keys;
  ++steps_split_;
}

size_t PsServer::OrderForWaitingPulls(const std::string& table, int64_t step, const uint64_t* keys,
                                      const float* grads, size_t n, size_t dim) {
  // The keys of the deferred pulls of this table that this step makes ready,
  // in an open-addressing set (no allocation per key).
  size_t wanted_keys = 0;
  std::vector<RequestView> pulls;
  for (const Pending& p : deferred_pulls_) {
    RequestView r;
    CHECK(DecodeRequest(p.message.bytes, options_.limits, &r).ok());
    if (r.table != table || r.header.step > step + 1) continue;
    wanted_keys += r.header.num_keys;
    pulls.push_back(r);
  }
  if (pulls.empty()) return n;  // nobody waits: the step is applied at once
  size_t capacity = 64;
  while (capacity < 2 * wanted_keys) capacity *= 2;
  const size_t mask = capacity - 1;
  wanted_.resize(capacity);
  wanted_used_.assign(capacity, 0);
  for (const RequestView& r : pulls) {
    for (size_t i = 0; i < r.header.num_keys; ++i) {
      for (size_t h = Mix64(r.keys[i]) & mask;; h = (h + 1) & mask) {
        if (!wanted_used_[h]) {
          wanted_used_[h] = 1;
          wanted_[h] = r.keys[i];
          break;
        }
        if (wanted_[h] == r.keys[i]) break;
      }
    }
  }
  auto wanted = [&](uint64_t key) {
    for (size_t h = Mix64(key) & mask; wanted_used_[h]; h = (h + 1) & mask) {
      if (wanted_[h] == key) return true;
    }
    return false;
  };
  split_keys_.resize(n);
  split_grads_.resize(n * dim);
  size_t front = 0, back = n;  // wanted keys fill the front, the others the back
  for (size_t i = 0; i < n; ++i) {
    const size_t to = wanted(keys[i]) ? front++ : --back;
    split_keys_[to] = keys[i];
    std::copy(grads + i * dim, grads + (i + 1) * dim, split_grads_.begin() + to * dim);
  }
  return front;
}

void PsServer::RetryDeferred() {
  const size_t n = deferred_pulls_.size();
  for (size_t i = 0; i < n; ++i) {
    Pending p = std::move(deferred_pulls_.front());
    deferred_pulls_.pop_front();
    RequestView r;
    CHECK(DecodeRequest(p.message.bytes, options_.limits, &r).ok());
    if (!Serve(&p, r)) deferred_pulls_.push_back(std::move(p));
  }
}

void PsServer::Reply(const Pending& to, const RequestView& r, const Status& status,
                     const float* floats, uint64_t n, std::string_view text) {
  Status sent = transport_->Send(
      to.message.source, ReplyTag(r.header.request_id),
      EncodeReply(static_cast<uint16_t>(r.header.type), r.header.request_id, status, floats, n,
                  text));
  if (!sent.ok()) LOG(WARNING) << "reply to rank " << to.message.source << ": " << sent.ToString();
  latencies_us_.push_back((since_start_.Seconds() - to.arrived_s) * 1e6);
}

std::string PsServer::StatsText() {
  const double total_s = std::max(since_start_.Seconds(), 1e-9);
  const double interval_s = std::max(since_stats_.Seconds(), 1e-9);
  char line[640];
  std::snprintf(line, sizeof(line),
                "server %d: requests %llu (bad %llu), keys pulled %llu (%.0f/s now), pushed %llu "
                "(%.0f/s now; %llu of them in %llu split steps after the reply), latency p50 %.0f "
                "us p99 %.0f us, up %.0f s",
                options_.server_index, static_cast<unsigned long long>(requests_),
                static_cast<unsigned long long>(bad_requests_),
                static_cast<unsigned long long>(keys_pulled_), interval_pulled_ / interval_s,
                static_cast<unsigned long long>(keys_pushed_), interval_pushed_ / interval_s,
                static_cast<unsigned long long>(keys_applied_late_),
                static_cast<unsigned long long>(steps_split_), Percentile(&latencies_us_, 0.5),
                Percentile(&latencies_us_, 0.99), total_s);
  std::string text = line;
  if (options_.extra_stats) text += ", " + options_.extra_stats();
  return text;
}

void PsServer::MaybeLogStats() {
  if (options_.stats_interval_s <= 0 || since_stats_.Seconds() < options_.stats_interval_s) return;
  LOG(INFO) << "parameter " << StatsText();
  since_stats_.Reset();
  interval_pulled_ = interval_pushed_ = 0;
  latencies_us_.clear();
}

}  // namespace msrec
