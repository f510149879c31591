// Thread tier of the parameter server (no mpirun): the in-process transport,
// servers and clients on threads talking through it, the embedded server,
// malformed requests, a server that stops answering, and restore semantics.
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <cstring>

#include <gtest/gtest.h>

#include "cluster/inprocess_transport.h"
#include "common/file_util.h"
#include "common/timer.h"
#include "parameter_server/embedded_ps.h"
#include "parameter_server/ps_server.h"
#include "parameter_server/ps_service.h"
#include "parameter_server/remote_client.h"
#include "parameter_server/internal/wire_format.h"
#include "tests/store_test_util.h"

namespace msrec {
namespace {

constexpr size_t kLimit = size_t{1} << 20;

TableConfig Config(SparseOptimizerKind kind = SparseOptimizerKind::kAdam) {
  TableConfig c;
  c.name = "emb";
  c.dim = 4;
  c.init_scale = 0.1f;
  c.optimizer.kind = kind;
  c.optimizer.learning_rate = 0.05f;
  return c;
}

std::string TempDir(const std::string& name) {
  std::string tmpl = "/tmp/msrec_" + name + ".XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

TEST(InProcessTransportTest, OrderTagsSourcesAndLimits) {
  auto t = MakeInProcessTransports(3, /*max_message_bytes=*/100);
  ASSERT_EQ(t[1]->size(), 3);
  ASSERT_TRUE(t[0]->Send(2, 7, "a").ok());
  ASSERT_TRUE(t[1]->Send(2, 7, "b").ok());
  ASSERT_TRUE(t[0]->Send(2, 8, "c").ok());
  ASSERT_TRUE(t[0]->Send(2, 7, "d").ok());
  Message m;
  // Tag 8 is taken out of order; per source the tag-7 order holds.
  ASSERT_TRUE(t[2]->Receive(kAnySource, 8, 1, &m).ok());
  EXPECT_EQ(m.bytes, "c");
  EXPECT_EQ(m.source, 0);
  ASSERT_TRUE(t[2]->Receive(0, 7, 1, &m).ok());
  EXPECT_EQ(m.bytes, "a");
  ASSERT_TRUE(t[2]->Receive(0, 7, 1, &m).ok());
  EXPECT_EQ(m.bytes, "d");
  ASSERT_TRUE(t[2]->Receive(kAnySource, 7, 0, &m).ok());  // already there: no wait
  EXPECT_EQ(m.bytes, "b");
  EXPECT_EQ(m.source, 1);
  // Oversized: only the head arrives, with the announced size.
  ASSERT_TRUE(t[0]->Send(1, 3, std::string(1000, 'x')).ok());
  ASSERT_TRUE(t[1]->Receive(0, 3, 1, &m).ok());
  EXPECT_TRUE(m.oversized);
  EXPECT_EQ(m.size, 1000u);
  EXPECT_EQ(m.bytes.size(), kOversizedHeadBytes);
  // Nothing more: a timeout naming source and tag.
  const Status timeout = t[1]->Receive(2, 3, 0.05, &m);
  EXPECT_EQ(timeout.code(), Status::Code::kTimeout);
  EXPECT_NE(timeout.message().find("rank 2 on tag 3"), std::string::npos) << timeout.ToString();
  EXPECT_EQ(t[0]->Send(3, 1, "x").code(), Status::Code::kInvalidArgument);
}

TEST(InProcessTransportTest, ReceiveWakesWhenAMessageArrives) {
  auto t = MakeInProcessTransports(2, kLimit);
  std::thread sender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(t[1]->Send(0, 5, "late").ok());
  });
  Message m;
  const Status s = t[0]->Receive(1, 5, 10, &m);
  sender.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(m.bytes, "late");
}

// Messages that arrive as a short Receive times out are taken by it or by
// the next one, never lost (a receive loop with a poll deadline, as the
// server's, must see every request).
TEST(InProcessTransportTest, NoMessageIsLostAtTheDeadline) {
  auto t = MakeInProcessTransports(2, kLimit);
  constexpr int kMessages = 3000;
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) {
      if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(i % 300));
      EXPECT_TRUE(t[1]->Send(0, 1, std::to_string(i)).ok());
    }
  });
  int received = 0;
  Timer timer;
  while (received < kMessages && timer.Seconds() < 30) {
    Message m;
    const Status s = t[0]->Receive(1, 1, 0.0001, &m);
    if (s.code() == Status::Code::kTimeout) continue;
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(m.bytes, std::to_string(received));
    ++received;
  }
  sender.join();
  EXPECT_EQ(received, kMessages);
}

// A rank whose endpoint is destroyed (the embedded server's thread after Serve
// failed) ends the waits for its messages at once: what it sent before is
// still delivered, then a Receive from it fails naming it, long before its
// deadline. Waits for other ranks, or for any rank, keep their deadlines.
TEST(InProcessTransportTest, AReceiveFromAGoneRankFailsAtOnceAfterItsQueuedMessages) {
  auto t = MakeInProcessTransports(3, kLimit);
  ASSERT_TRUE(t[1]->Send(0, 4, "last words").ok());
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    t[1].reset();
  });
  Message m;
  ASSERT_TRUE(t[0]->Receive(1, 4, 10, &m).ok());
  EXPECT_EQ(m.bytes, "last words");
  Timer timer;
  const Status gone = t[0]->Receive(1, 4, 10, &m);  // woken by the close
  closer.join();
  EXPECT_EQ(gone.code(), Status::Code::kUnavailable);
  EXPECT_NE(gone.message().find("rank 1 is gone"), std::string::npos) << gone.ToString();
  EXPECT_LT(timer.Seconds(), 5);
  EXPECT_EQ(t[0]->Receive(2, 4, 0.05, &m).code(), Status::Code::kTimeout);
  EXPECT_EQ(t[0]->Receive(kAnySource, 4, 0.05, &m).code(), Status::Code::kTimeout);
  EXPECT_EQ(t[0]->Receive(3, 4, 0.05, &m).code(), Status::Code::kInvalidArgument);
}

// `workers` client threads and `servers` server threads on one in-process
// transport (workers first, then servers).
// `store` is every server's store (a RocksDB path gets the server index
// appended); `async_prefetch`, `prefetch_threads` and `split_steps` are
// PsServerOptions'.
class ThreadJob {
 public:
  ThreadJob(int workers, int servers, double timeout_s = 20, StoreOptions store = StoreOptions(),
            bool async_prefetch = true, int prefetch_threads = 1, bool split_steps = true)
      : transports_(MakeInProcessTransports(workers + servers, kLimit)) {
    for (int s = 0; s < servers; ++s) {
      server_threads_.emplace_back([this, s, workers, servers, store, async_prefetch,
                                    prefetch_threads, split_steps] {
        PsServerOptions options;
        options.server_index = s;
        options.num_servers = servers;
        options.num_workers = workers;
        options.idle_timeout_s = 60;
        options.stats_interval_s = 0;
        options.async_prefetch = async_prefetch;
        options.prefetch_threads = prefetch_threads;
        options.split_steps = split_steps;
        ServerOptions server;
        server.store = store;
        if (store.kind == "rocksdb") server.store.path += "/server" + std::to_string(s);
        server.server = options;
        EXPECT_TRUE(RunServer(server, transports_[workers + s].get()).ok());
      });
    }
    for (int w = 0; w < workers; ++w) {
      RemoteClientOptions o;
      for (int s = 0; s < servers; ++s) o.server_ranks.push_back(workers + s);
      o.worker_index = w;
      o.timeout_s = timeout_s;
      clients_.push_back(std::make_unique<RemoteClient>(transports_[w].get(), o));
    }
  }
  ~ThreadJob() {
    for (auto& c : clients_) EXPECT_TRUE(c->Done().ok());
    for (auto& t : server_threads_) t.join();
  }
  RemoteClient* client(int w) { return clients_[w].get(); }
  Transport* transport(int rank) { return transports_[rank].get(); }

 private:
  std::vector<std::unique_ptr<Transport>> transports_;
  std::vector<std::thread> server_threads_;
  std::vector<std::unique_ptr<RemoteClient>> clients_;
};

// The gradients worker `w` pushes at `step`: keys overlap between workers.
void WorkerPush(int w, int64_t step, std::vector<uint64_t>* keys, std::vector<float>* grads) {
  keys->clear();
  grads->clear();
  for (uint64_t k = 0; k < 40; ++k) {
    const uint64_t key = k * 7 + static_cast<uint64_t>(w) * 100 + static_cast<uint64_t>(step % 3);
    keys->push_back(key);
    for (int j = 0; j < 4; ++j) grads->push_back(std::sin(0.1f * key + j + w + step));
  }
}

TEST(ThreadTierTest, TwoWorkersOnThreadsEqualOneWorkerWithTheCombinedPush) {
  constexpr int kSteps = 6;
  std::vector<uint64_t> all_keys;
  for (uint64_t k = 0; k < 400; ++k) all_keys.push_back(k);
  std::vector<float> two(all_keys.size() * 4), one(all_keys.size() * 4);
  {
    ThreadJob job(/*workers=*/2, /*servers=*/2);
    std::vector<std::thread> workers;
    for (int w = 0; w < 2; ++w) {
      workers.emplace_back([&job, w] {
        RemoteClient* c = job.client(w);
        ASSERT_TRUE(c->CreateTable(Config()).ok());
        std::vector<uint64_t> keys;
        std::vector<float> grads, pulled(400 * 4);
        for (int64_t step = 1; step <= kSteps; ++step) {
          WorkerPush(w, step, &keys, &grads);
          ASSERT_TRUE(c->PullAsync("emb", keys.data(), keys.size(), pulled.data(), step)
                          ->Wait(20).ok());
          ASSERT_TRUE(c->Push("emb", keys.data(), keys.size(), grads.data(), step).ok());
        }
      });
    }
    for (auto& t : workers) t.join();
    ASSERT_TRUE(job.client(0)->Pull("emb", all_keys.data(), all_keys.size(), two.data()).ok());
  }
  {
    ThreadJob job(/*workers=*/1, /*servers=*/1);
    RemoteClient* c = job.client(0);
    ASSERT_TRUE(c->CreateTable(Config()).ok());
    for (int64_t step = 1; step <= kSteps; ++step) {
      // The combined push: per key the sum of the workers' gradients over 2.
      std::map<uint64_t, std::vector<float>> sum;
      for (int w = 0; w < 2; ++w) {
        std::vector<uint64_t> keys;
        std::vector<float> grads;
        WorkerPush(w, step, &keys, &grads);
        for (size_t i = 0; i < keys.size(); ++i) {
          auto [it, inserted] = sum.try_emplace(keys[i], grads.begin() + i * 4,
                                                grads.begin() + (i + 1) * 4);
          if (!inserted) {
            for (int j = 0; j < 4; ++j) it->second[j] += grads[i * 4 + j];
          }
        }
      }
      std::vector<uint64_t> keys;
      std::vector<float> grads;
      for (auto& [key, g] : sum) {
        keys.push_back(key);
        for (float x : g) grads.push_back(x * 0.5f);
      }
      ASSERT_TRUE(c->Push("emb", keys.data(), keys.size(), grads.data(), step).ok());
    }
    ASSERT_TRUE(c->Pull("emb", all_keys.data(), all_keys.size(), one.data()).ok());
  }
  EXPECT_EQ(one, two);
}

TEST(ThreadTierTest, MalformedRequestsAreRejectedAndTheServerKeepsServing) {
  ThreadJob job(1, 1);
  ASSERT_TRUE(job.client(0)->CreateTable(Config()).ok());
  Transport* raw = job.transport(0);
  // Garbage: too broken to name a reply tag.
  ASSERT_TRUE(raw->Send(1, kRequestTag, "not a request").ok());
  Message m;
  ASSERT_TRUE(raw->Receive(1, kUnroutableReplyTag, 10, &m).ok());
  // Oversized (over the 1 MiB limit): rejected from its head.
  ASSERT_TRUE(raw->Send(1, kRequestTag, std::string(kLimit + 10, 'x')).ok());
  ASSERT_TRUE(raw->Receive(1, kUnroutableReplyTag, 10, &m).ok());
  // A well-formed pull of a table that does not exist names it.
  std::vector<uint64_t> keys = {1, 2, 3};
  std::vector<float> out(3 * 4);
  const Status missing = job.client(0)->Pull("nope", keys.data(), keys.size(), out.data());
  EXPECT_EQ(missing.code(), Status::Code::kNotFound) << missing.ToString();
  // Still serving.
  EXPECT_TRUE(job.client(0)->Pull("emb", keys.data(), keys.size(), out.data()).ok());
  Result<std::vector<std::string>> stats = job.client(0)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(stats.value()[0].find("(bad 2)"), std::string::npos) << stats.value()[0];
}

// Issue 17: table configs are parsed strictly and bounded; a bad one gets an
// error reply and the server keeps serving.
TEST(WireFormatTest, TableConfigsAreParsedStrictly) {
  TableConfig ok;
  ASSERT_TRUE(DecodeTableConfig(EncodeTableConfig(Config()), &ok).ok());
  EXPECT_EQ(ok.dim, 4);
  for (const char* bad : {"seed=.5", "seed=-1", "dim=1100000000", "dim=65536", "dim=1e3",
                          "dim=-1", "dim=0x10", "dim=2.9", "dim=0", "dim=", "lr=nan", "lr=1e99",
                          "optimizer=9", "admit_after=0", "ttl_steps=-5", "admission_capacity=0"}) {
    TableConfig c;
    const Status s = DecodeTableConfig(bad, &c);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad << ": " << s.ToString();
  }
}

// Issue 17: sizes that do not fit the 32-bit payload field are refused before
// encoding; replies that claim more floats than they carry are rejected.
TEST(WireFormatTest, OversizedRequestsAndLyingRepliesAreRefused) {
  EXPECT_TRUE(RequestFits(1000, 16, true, 0));
  EXPECT_FALSE(RequestFits(uint64_t{1} << 28, 16, true, 0));  // 16 GiB of floats
  EXPECT_FALSE(RequestFits(10, 16, false, size_t{5} << 30));
  RequestHeader h;
  h.type = RequestType::kPush;
  h.num_keys = uint64_t{1} << 28;
  h.dim = 16;
  EXPECT_TRUE(EncodeRequest(h, "emb", nullptr, reinterpret_cast<const float*>(&h), "").empty());
  const std::vector<float> rows = {1, 2, 3, 4};
  std::string reply = EncodeReply(static_cast<uint16_t>(RequestType::kPull), 7, Status::OK(),
                                  rows.data(), rows.size());
  std::vector<float> out(4);
  Status carried;
  EXPECT_TRUE(DecodeReply(reply, 7, 4, out.data(), &carried).ok());
  std::string lying = reply;
  const uint64_t huge = uint64_t{1} << 62;  // num_floats * 4 would overflow
  std::memcpy(&lying[16], &huge, sizeof(huge));
  EXPECT_EQ(DecodeReply(lying, 7, 4, out.data(), &carried).code(), Status::Code::kInvalidArgument);
  std::string bad_type = reply;
  bad_type[6] = 0x7f;  // type without the reply bit
  bad_type[7] = 0x00;
  EXPECT_EQ(DecodeReply(bad_type, 7, 4, out.data(), &carried).code(), Status::Code::kInvalidArgument);
}

TEST(ThreadTierTest, BadTableConfigsAndHugePullsAreRefusedAndTheServerKeepsServing) {
  ThreadJob job(1, 1);
  ASSERT_TRUE(job.client(0)->CreateTable(Config()).ok());
  TableConfig wide = Config();
  wide.name = "wide";
  wide.dim = 65536;
  const Status refused = job.client(0)->CreateTable(wide);
  EXPECT_EQ(refused.code(), Status::Code::kInvalidArgument) << refused.ToString();
  // The largest dim is accepted, but a pull whose reply exceeds a message is refused.
  wide.dim = 4096;
  ASSERT_TRUE(job.client(0)->CreateTable(wide).ok());
  std::vector<uint64_t> many(100);
  for (size_t i = 0; i < many.size(); ++i) many[i] = i;
  std::vector<float> huge(many.size() * 4096);
  const Status big = job.client(0)->Pull("wide", many.data(), many.size(), huge.data());
  EXPECT_EQ(big.code(), Status::Code::kInvalidArgument) << big.ToString();
  // Still serving.
  std::vector<uint64_t> keys = {1, 2, 3};
  std::vector<float> out(3 * 4);
  EXPECT_TRUE(job.client(0)->Pull("emb", keys.data(), keys.size(), out.data()).ok());
}

TEST(ThreadTierTest, AServerThatStopsAnsweringTimesOutNamingIt) {
  auto t = MakeInProcessTransports(2, kLimit);  // rank 1 never serves
  RemoteClientOptions o;
  o.server_ranks = {1};
  o.timeout_s = 0.2;
  RemoteClient client(t[0].get(), o);
  const Status s = client.CreateTable(Config());
  EXPECT_EQ(s.code(), Status::Code::kTimeout);
  EXPECT_NE(s.message().find("parameter server rank 1 (server 0)"), std::string::npos)
      << s.ToString();
}

// DropTable through the client removes the table from every server: pulls
// of it fail, and created again it starts from the initial rows at step 0.
// A drop while a synchronous step of the table is incomplete is refused.
TEST(ThreadTierTest, DropTableRemovesTheTableFromEveryServer) {
  ThreadJob job(/*workers=*/2, /*servers=*/2);
  RemoteClient* c = job.client(0);
  ASSERT_TRUE(c->CreateTable(Config()).ok());
  ASSERT_TRUE(job.client(1)->CreateTable(Config()).ok());
  std::vector<uint64_t> keys;
  std::vector<float> grads;
  WorkerPush(0, 1, &keys, &grads);
  std::vector<float> initial(keys.size() * 4), pulled(keys.size() * 4);
  ASSERT_TRUE(c->Pull("emb", keys.data(), keys.size(), initial.data()).ok());
  // Worker 0's push of step 1 waits for worker 1's: the step is incomplete.
  std::unique_ptr<PsFuture> push = c->PushAsync("emb", keys.data(), keys.size(), grads.data(), 1);
  EXPECT_EQ(c->DropTable("emb").code(), Status::Code::kInvalidArgument);
  std::vector<uint64_t> keys1;
  std::vector<float> grads1;
  WorkerPush(1, 1, &keys1, &grads1);
  ASSERT_TRUE(job.client(1)->Push("emb", keys1.data(), keys1.size(), grads1.data(), 1).ok());
  ASSERT_TRUE(push->Wait(20).ok());
  ASSERT_TRUE(c->Pull("emb", keys.data(), keys.size(), pulled.data()).ok());
  EXPECT_NE(pulled, initial);
  ASSERT_TRUE(c->DropTable("emb").ok());
  EXPECT_EQ(c->Pull("emb", keys.data(), keys.size(), pulled.data()).code(),
            Status::Code::kNotFound);
  EXPECT_EQ(c->DropTable("emb").code(), Status::Code::kNotFound);
  ASSERT_TRUE(c->CreateTable(Config()).ok());
  ASSERT_TRUE(c->Pull("emb", keys.data(), keys.size(), pulled.data()).ok());
  EXPECT_EQ(pulled, initial);
  // Step 1 again: the new table starts at step 0.
  ASSERT_TRUE(job.client(1)->CreateTable(Config()).ok());
  push = c->PushAsync("emb", keys.data(), keys.size(), grads.data(), 1);
  ASSERT_TRUE(job.client(1)->Push("emb", keys1.data(), keys1.size(), grads1.data(), 1).ok());
  EXPECT_TRUE(push->Wait(20).ok());
}

// A synchronous step that one worker never pushes fails the server with a
// Timeout naming that worker, even while the other worker keeps it busy.
TEST(ThreadTierTest, AStalledSynchronousStepTimesOutNamingTheMissingWorker) {
  auto t = MakeInProcessTransports(3, kLimit);  // workers 0 and 1, server on rank 2
  Status served;
  std::atomic<bool> finished{false};
  std::thread server([&] {
    ServerOptions options;
    options.server.num_workers = 2;
    options.server.idle_timeout_s = 0.5;
    options.server.stats_interval_s = 0;
    served = RunServer(options, t[2].get());
    finished = true;
  });
  RemoteClientOptions o;
  o.server_ranks = {2};
  o.timeout_s = 1;  // the Stats call in flight when the server stops
  RemoteClient worker0(t[0].get(), o);
  ASSERT_TRUE(worker0.CreateTable(Config()).ok());
  std::vector<uint64_t> keys;
  std::vector<float> grads;
  WorkerPush(0, 1, &keys, &grads);
  // Worker 1 never pushes step 1; worker 0's push waits for it.
  std::unique_ptr<PsFuture> push = worker0.PushAsync("emb", keys.data(), keys.size(),
                                                     grads.data(), 1);
  Timer timer;
  while (!finished && timer.Seconds() < 10) {
    worker0.Stats().ok();  // requests keep arriving: the idle timeout alone would not fire
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  server.join();
  EXPECT_EQ(served.code(), Status::Code::kTimeout) << served.ToString();
  EXPECT_NE(served.message().find("step 1 of table 'emb'"), std::string::npos)
      << served.ToString();
  EXPECT_NE(served.message().find("push of worker(s) 1 "), std::string::npos)
      << served.ToString();
  EXPECT_FALSE(push->Wait(0.1).ok());
}

TEST(EmbeddedPsTest, RowsOutliveTheServerAndRestoreReplacesEveryRow) {
  for (const std::string kind : {"memory", "rocksdb"}) {
    SCOPED_TRACE(kind);
    const std::string dir = TempDir("embedded_ps");
    ServerOptions options;
    options.store.kind = kind;
    options.store.path = dir + (kind == "memory" ? "/rows.bin" : "/rows");
    options.store.memory_mb = 16;
    std::vector<uint64_t> keys = {10, 20, 30};
    std::vector<float> grads(3 * 4, 0.5f), before(3 * 4), after(3 * 4), reread(3 * 4);
    {
      auto ps = EmbeddedPs::Start(options);
      ASSERT_TRUE(ps.ok()) << ps.status().ToString();
      RemoteClient* c = ps.value()->client();
      ASSERT_TRUE(c->CreateTable(Config()).ok());
      ASSERT_TRUE(c->Push("emb", keys.data(), keys.size(), grads.data(), 1).ok());
      ASSERT_TRUE(c->Pull("emb", keys.data(), keys.size(), before.data()).ok());
      ASSERT_TRUE(c->SaveCheckpoint(dir + "/ckpt", 1).ok());
      // A row created after the checkpoint is gone after the restore.
      std::vector<uint64_t> late = {40};
      std::vector<float> late_grad(4, 1.0f), late_before(4), late_after(4);
      ASSERT_TRUE(c->Pull("emb", late.data(), 1, late_before.data()).ok());
      ASSERT_TRUE(c->Push("emb", keys.data(), keys.size(), grads.data(), 2).ok());
      ASSERT_TRUE(c->Push("emb", late.data(), 1, late_grad.data(), 3).ok());
      ASSERT_TRUE(c->LoadCheckpoint(dir + "/ckpt", 3).ok());
      ASSERT_TRUE(c->Pull("emb", keys.data(), keys.size(), after.data()).ok());
      ASSERT_TRUE(c->Pull("emb", late.data(), 1, late_after.data()).ok());
      EXPECT_EQ(before, after);
      EXPECT_EQ(late_before, late_after);
      ASSERT_TRUE(ps.value()->Stop().ok());
    }
    options.store.fresh = false;
    options.persist = false;
    auto ps = EmbeddedPs::Start(options);
    ASSERT_TRUE(ps.ok()) << ps.status().ToString();
    ASSERT_TRUE(ps.value()->client()->CreateTable(Config()).ok());
    ASSERT_TRUE(ps.value()->client()->Pull("emb", keys.data(), keys.size(), reread.data()).ok());
    EXPECT_EQ(before, reread);
    Result<std::vector<std::string>> stats = ps.value()->client()->Stats();
    ASSERT_TRUE(stats.ok());
    if (kind == "rocksdb") {
      EXPECT_NE(stats.value()[0].find("row cache"), std::string::npos) << stats.value()[0];
      EXPECT_NE(stats.value()[0].find("block cache"), std::string::npos) << stats.value()[0];
      EXPECT_NE(stats.value()[0].find("memtables"), std::string::npos) << stats.value()[0];
    }
    ps.value().reset();
    ASSERT_TRUE(RemoveTree(dir).ok());
  }
}

TEST(EmbeddedPsTest, OpenErrorsNameThePath) {
  ServerOptions options;
  options.store.kind = "memory";
  options.store.path = "/nonexistent/dir/rows.bin";
  options.store.fresh = false;
  auto ps = EmbeddedPs::Start(options);
  ASSERT_FALSE(ps.ok());
  EXPECT_NE(ps.status().message().find("/nonexistent/dir/rows.bin"), std::string::npos)
      << ps.status().ToString();
  options.store.kind = "leveldb";
  EXPECT_EQ(EmbeddedPs::Start(options).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace msrec

namespace msrec {
namespace {

// Pipelined steps (the next step's pull, so its prefetch, before this step's
// push) over a RocksDB store whose row cache holds a tenth of the rows: the
// prefetches run beside the pushes (async_prefetch), inline, on two prefetch
// threads (each server's 2500 keys a step split in two parts), or with
// evicted rows going through the write-behind, and the parameters are exactly
// those of the same steps over a memory store.
TEST(ThreadTierTest, PipelinedStepsOverASmallRocksDbCacheEqualTheMemoryStore) {
  constexpr int kSteps = 30;
  constexpr uint64_t kUniverse = 40000;
  constexpr size_t kPerStep = 5000;
  auto step_keys = [&](int64_t step, std::vector<uint64_t>* keys, std::vector<float>* grads) {
    std::mt19937_64 rng(step);
    std::set<uint64_t> unique;
    while (unique.size() < kPerStep) unique.insert(rng() % kUniverse);
    keys->assign(unique.begin(), unique.end());
    grads->resize(keys->size() * 4);
    for (size_t i = 0; i < grads->size(); ++i) (*grads)[i] = std::sin(0.37f * i + step);
  };
  auto run = [&](StoreOptions store, bool async_prefetch, int prefetch_threads = 1) {
    std::vector<uint64_t> all(kUniverse);
    for (uint64_t k = 0; k < kUniverse; ++k) all[k] = k;
    std::vector<float> rows(kUniverse * 4);
    ThreadJob job(1, 2, 20, store, async_prefetch, prefetch_threads);
    RemoteClient* c = job.client(0);
    EXPECT_TRUE(c->CreateTable(Config()).ok());
    std::vector<uint64_t> keys, next_keys;
    std::vector<float> grads, next_grads, pulled[2];
    step_keys(1, &keys, &grads);
    pulled[1].resize(keys.size() * 4);
    auto pull = c->PullAsync("emb", keys.data(), keys.size(), pulled[1].data(), 1);
    for (int64_t step = 1; step <= kSteps; ++step) {
      EXPECT_TRUE(pull->Wait(20).ok()) << "pull of step " << step;
      step_keys(step + 1, &next_keys, &next_grads);
      pulled[step % 2].resize(next_keys.size() * 4);
      pull = c->PullAsync("emb", next_keys.data(), next_keys.size(), pulled[step % 2].data(),
                          step + 1);
      EXPECT_TRUE(c->Push("emb", keys.data(), keys.size(), grads.data(), step).ok());
      keys.swap(next_keys);
      grads.swap(next_grads);
    }
    EXPECT_TRUE(pull->Wait(20).ok());
    EXPECT_TRUE(c->Pull("emb", all.data(), all.size(), rows.data()).ok());
    return rows;
  };
  const std::string dir = TempDir("pipelined");
  StoreOptions rocks;
  rocks.kind = "rocksdb";
  rocks.path = dir;
  rocks.memory_mb = 1;  // row cache 512 KiB per server: about a tenth of the rows
  const std::vector<float> memory = run(StoreOptions(), true);
  EXPECT_EQ(run(rocks, true), memory);
  EXPECT_EQ(run(rocks, false), memory);
  EXPECT_EQ(run(rocks, true, 2), memory);
  StoreOptions mmap = rocks;  // SST files read through mmap (reads from them: ps_store_test)
  mmap.mmap_reads = true;
  EXPECT_EQ(run(mmap, true), memory);
  rocks.write_behind = true;
  EXPECT_EQ(run(rocks, true), memory);
  ASSERT_TRUE(RemoveTree(dir).ok());
}

// Split steps (PsServerOptions::split_steps): 2 workers on threads in the
// trainer's order (the pull of step t+1 sent before step t's push), keys
// overlapping between steps and workers, over a memory store and over a
// RocksDB store with a small row cache. With the split, each step's keys that
// the waiting pulls read are updated first and the rest after the replies;
// every value pulled at every step, and the rows at the end, equal those of
// the same job applying each step at once. The servers' statistics show that
// steps were split (and none without the split).
TEST(ThreadTierTest, SplitStepsPullExactlyTheRowsOfWholeSteps) {
  constexpr int kSteps = 20;
  constexpr int kWorkers = 2;
  constexpr uint64_t kUniverse = 6000;
  constexpr size_t kPerStep = 1500;
  auto step_keys = [&](int w, int64_t step, std::vector<uint64_t>* keys,
                       std::vector<float>* grads) {
    std::mt19937_64 rng(step * 10 + w);
    std::set<uint64_t> unique;
    while (unique.size() < kPerStep) unique.insert(rng() % kUniverse);
    keys->assign(unique.begin(), unique.end());
    grads->resize(keys->size() * 4);
    for (size_t i = 0; i < grads->size(); ++i) (*grads)[i] = std::sin(0.37f * i + step + w);
  };
  struct Outcome {
    std::vector<std::vector<float>> pulled[kWorkers];  // per worker, per step
    std::vector<float> rows;
    uint64_t split_steps = 0;
  };
  auto run = [&](StoreOptions store, bool split) {
    Outcome out;
    ThreadJob job(kWorkers, 2, 20, store, true, 1, split);
    EXPECT_TRUE(job.client(0)->CreateTable(Config()).ok());
    EXPECT_TRUE(job.client(1)->CreateTable(Config()).ok());
    std::vector<std::thread> workers;
    for (int w = 0; w < kWorkers; ++w) {
      workers.emplace_back([&, w] {
        RemoteClient* c = job.client(w);
        std::vector<uint64_t> keys, next_keys;
        std::vector<float> grads, next_grads;
        std::vector<std::vector<float>>& pulled = out.pulled[w];
        pulled.assign(kSteps + 2, std::vector<float>(kPerStep * 4));
        step_keys(w, 1, &keys, &grads);
        auto pull = c->PullAsync("emb", keys.data(), keys.size(), pulled[1].data(), 1);
        for (int64_t step = 1; step <= kSteps; ++step) {
          EXPECT_TRUE(pull->Wait(20).ok()) << "pull of step " << step;
          step_keys(w, step + 1, &next_keys, &next_grads);
          pull = c->PullAsync("emb", next_keys.data(), next_keys.size(),
                              pulled[step + 1].data(), step + 1);
          EXPECT_TRUE(c->Push("emb", keys.data(), keys.size(), grads.data(), step).ok());
          keys.swap(next_keys);
          grads.swap(next_grads);
        }
        EXPECT_TRUE(pull->Wait(20).ok());
      });
    }
    for (auto& t : workers) t.join();
    std::vector<uint64_t> all(kUniverse);
    for (uint64_t k = 0; k < kUniverse; ++k) all[k] = k;
    out.rows.resize(kUniverse * 4);
    EXPECT_TRUE(job.client(0)->Pull("emb", all.data(), all.size(), out.rows.data()).ok());
    Result<std::vector<std::string>> stats = job.client(0)->Stats();
    EXPECT_TRUE(stats.ok());
    for (const std::string& line : stats.value()) {
      const size_t at = line.find(" split steps");
      EXPECT_NE(at, std::string::npos) << line;
      const size_t begin = line.rfind(" in ", at) + 4;
      out.split_steps += std::stoull(line.substr(begin, at - begin));
    }
    return out;
  };
  const std::string dir = TempDir("split_steps");
  StoreOptions rocks;
  rocks.kind = "rocksdb";
  rocks.path = dir;
  rocks.memory_mb = 1;
  for (const StoreOptions& store : {StoreOptions(), rocks}) {
    const Outcome whole = run(store, false);
    const Outcome split = run(store, true);
    EXPECT_EQ(whole.split_steps, 0u);
    // Both servers split (nearly) every step: the pulls wait before the pushes.
    EXPECT_GT(split.split_steps, uint64_t{kSteps});
    for (int w = 0; w < kWorkers; ++w) {
      for (int64_t step = 1; step <= kSteps + 1; ++step) {
        EXPECT_EQ(split.pulled[w][step], whole.pulled[w][step])
            << store.kind << ": worker " << w << ", pull of step " << step;
      }
    }
    EXPECT_EQ(split.rows, whole.rows) << store.kind;
  }
  ASSERT_TRUE(RemoveTree(dir).ok());
}

// A memory store whose writes fail from the `fail_from`-th on (a full disk).
class FailingWritesStore : public testing::ForwardingStore {
 public:
  explicit FailingWritesStore(int fail_from) : fail_from_(fail_from) {}
  Status Write(const std::string& t, const uint64_t* keys, size_t n,
               const std::string* rows) override {
    if (++writes_ >= fail_from_) return Status::IoError("injected write failure");
    return ForwardingStore::Write(t, keys, n, rows);
  }

 private:
  const int fail_from_;
  std::atomic<int> writes_{0};
};

// A split step whose second part fails after its push was answered: nothing
// is lost silently. Every later request (the next push, a pull, Done) is
// answered with the failure, naming the step and the store's error, and the
// server's Run returns it.
TEST(ThreadTierTest, ASecondPartThatFailsIsTheAnswerToEveryLaterRequest) {
  auto transports = MakeInProcessTransports(2, kLimit);
  Status served;
  std::thread server([&] {
    ServerOptions options;
    options.server.num_workers = 1;
    options.server.idle_timeout_s = 20;
    options.server.stats_interval_s = 0;
    options.persist = false;
    // Write 1: step 1's first part (keys 5..10, which step 2's pull reads);
    // write 2: its second part (keys 1..4).
    served = Serve(std::make_unique<FailingWritesStore>(2), options, transports[1].get());
  });
  RemoteClientOptions o;
  o.server_ranks = {1};
  o.timeout_s = 20;
  RemoteClient c(transports[0].get(), o);
  ASSERT_TRUE(c.CreateTable(Config()).ok());
  std::vector<uint64_t> step1, step2;
  for (uint64_t k = 1; k <= 10; ++k) step1.push_back(k);
  for (uint64_t k = 5; k <= 15; ++k) step2.push_back(k);
  std::vector<float> grads(step2.size() * 4, 0.5f), rows(step2.size() * 4);
  ASSERT_TRUE(c.PullAsync("emb", step1.data(), step1.size(), rows.data(), 1)->Wait(20).ok());
  auto pull = c.PullAsync("emb", step2.data(), step2.size(), rows.data(), 2);
  ASSERT_TRUE(c.Push("emb", step1.data(), step1.size(), grads.data(), 1).ok());
  ASSERT_TRUE(pull->Wait(20).ok());  // its rows were all in the first part
  const Status next = c.Push("emb", step2.data(), step2.size(), grads.data(), 2);
  EXPECT_EQ(next.code(), Status::Code::kIoError) << next.ToString();
  EXPECT_NE(next.ToString().find("step 1 of table 'emb', applied after its pushes were answered"),
            std::string::npos)
      << next.ToString();
  EXPECT_NE(next.ToString().find("injected write failure"), std::string::npos) << next.ToString();
  EXPECT_EQ(c.Pull("emb", step1.data(), step1.size(), rows.data()).code(),
            Status::Code::kIoError);
  EXPECT_EQ(c.Done().code(), Status::Code::kIoError);
  server.join();
  EXPECT_EQ(served.code(), Status::Code::kIoError) << served.ToString();
}

// The trainer's order: the pull of step t+1 is sent before step t's push.
TEST(ThreadTierTest, PullOfTheNextStepBeforeThisStepsPushForManySteps) {
  ThreadJob job(1, 1, /*timeout_s=*/10);
  RemoteClient* c = job.client(0);
  ASSERT_TRUE(c->CreateTable(Config()).ok());
  std::vector<uint64_t> keys;
  std::vector<float> grads, rows[2];
  rows[0].resize(40 * 4);
  rows[1].resize(40 * 4);
  WorkerPush(0, 1, &keys, &grads);
  auto pull = c->PullAsync("emb", keys.data(), keys.size(), rows[1].data(), 1);
  for (int64_t step = 1; step <= 3000; ++step) {
    ASSERT_TRUE(pull->Wait(10).ok()) << "pull of step " << step;
    std::vector<uint64_t> next_keys;
    std::vector<float> next_grads;
    WorkerPush(0, step + 1, &next_keys, &next_grads);
    pull = c->PullAsync("emb", next_keys.data(), next_keys.size(), rows[step % 2].data(),
                        step + 1);
    ASSERT_TRUE(c->PushAsync("emb", keys.data(), keys.size(), grads.data(), step)->Wait(10).ok())
        << "push of step " << step;
    keys = next_keys;
    grads = next_grads;
  }
  ASSERT_TRUE(pull->Wait(10).ok());
}

// A server with no prefetch thread is refused before it opens its store or
// serves anything, in a job's server and in the embedded default, and the
// error names the flag that set it.
TEST(ThreadTierTest, ServersRefuseZeroPrefetchThreads) {
  auto transports = MakeInProcessTransports(2, kLimit);
  ServerOptions server;
  server.server.num_workers = 1;
  server.server.prefetch_threads = 0;
  server.store.kind = "rocksdb";
  server.store.path = "/nonexistent/never/opened";
  const Status s = RunServer(server, transports[1].get());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.ToString().find("--ps_prefetch_threads must be >= 1, got 0"), std::string::npos)
      << s.ToString();
  const auto embedded = EmbeddedPs::Start(server);
  EXPECT_EQ(embedded.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(embedded.status().ToString().find("--ps_prefetch_threads"), std::string::npos)
      << embedded.status().ToString();
}

}  // namespace
}  // namespace msrec
