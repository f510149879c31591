// The parameter server over real MPI processes. Run under
//   mpirun -np 4 ps_mpi_test [--async] [--kill_server]
// ranks 0 and 1 are workers (they run the GoogleTest cases), ranks 2 and 3
// serve. --async starts asynchronous servers; --kill_server makes rank 3 die
// by SIGKILL mid-run (ps_fault_test checks what the workers and mpirun do).
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>

#include <gtest/gtest.h>

#include "cluster/messenger.h"
#include "cluster/mpi_env.h"
#include "common/hash.h"
#include "parameter_server/internal/key_routing.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/ps_server.h"
#include "parameter_server/remote_client.h"

namespace msrec {
namespace {

constexpr int kNumServers = 2;
constexpr int kDim = 8;
constexpr uint64_t kKeySpace = 1500;
constexpr size_t kMessageLimit = 4 << 20;

// What the test cases need; set up in main() (GoogleTest fixtures cannot take
// constructor arguments).
struct TestContext {
  MpiEnv* mpi = nullptr;
  MpiMessenger* messenger = nullptr;
  RemoteClient* client = nullptr;
  bool async = false;
};
TestContext* ctx = nullptr;

TableConfig MakeTable(const std::string& name, SparseOptimizerKind kind) {
  TableConfig c;
  c.name = name;
  c.dim = kDim;
  c.init_scale = 0.1f;
  c.optimizer.kind = kind;
  c.optimizer.learning_rate = 0.05f;
  return c;
}

// The push of `worker` at `step`: ~300 unique keys (workers overlap) and
// deterministic gradients.
void MakePush(int worker, int64_t step, std::vector<uint64_t>* keys, std::vector<float>* grads) {
  keys->clear();
  grads->clear();
  std::vector<bool> used(kKeySpace, false);
  for (int i = 0; i < 400; ++i) {
    const uint64_t k = Mix64(step * 1000003 + worker * 7919 + i) % kKeySpace;
    if (used[k]) continue;
    used[k] = true;
    keys->push_back(k);
    for (int j = 0; j < kDim; ++j) {
      grads->push_back(static_cast<float>(static_cast<int64_t>(Mix64(k * 31 + j + step) % 2001) - 1000) *
                       1e-3f);
    }
  }
}

// The single-process reference of a synchronous step: the workers' pushes
// summed in worker order and averaged, applied once.
void ApplyCombined(SparseShard* reference, const std::string& table, int num_workers,
                   int64_t step) {
  std::vector<uint64_t> keys, all_keys;
  std::vector<float> grads, all_grads;
  std::unordered_map<uint64_t, size_t> index;
  for (int w = 0; w < num_workers; ++w) {
    MakePush(w, step, &keys, &grads);
    for (size_t i = 0; i < keys.size(); ++i) {
      auto [it, inserted] = index.emplace(keys[i], all_keys.size());
      if (inserted) {
        all_keys.push_back(keys[i]);
        all_grads.insert(all_grads.end(), &grads[i * kDim], &grads[(i + 1) * kDim]);
      } else {
        for (int j = 0; j < kDim; ++j) all_grads[it->second * kDim + j] += grads[i * kDim + j];
      }
    }
  }
  for (float& g : all_grads) g *= 1.0f / num_workers;
  ASSERT_TRUE(reference->Push(table, all_keys.data(), all_keys.size(), all_grads.data(), step).ok());
}

std::vector<uint64_t> AllKeys() {
  std::vector<uint64_t> keys(kKeySpace);
  for (uint64_t k = 0; k < kKeySpace; ++k) keys[k] = k;
  return keys;
}

int NumWorkers() { return ctx->mpi->topology().num_workers(); }
int Me() { return ctx->mpi->topology().worker_index(); }

TEST(PsMpiTest, SyncPushesEqualTheCombinedBatchReference) {
  if (ctx->async) GTEST_SKIP() << "synchronous servers only";
  const TableConfig config = MakeTable("sync_adam", SparseOptimizerKind::kAdam);
  ASSERT_TRUE(ctx->client->CreateTable(config).ok());
  SparseShard reference(MakeMemoryStore());
  ASSERT_TRUE(reference.CreateTable(config).ok());
  const std::vector<uint64_t> all = AllKeys();
  std::vector<float> remote(all.size() * kDim), local(all.size() * kDim);
  std::vector<uint64_t> keys;
  std::vector<float> grads;
  for (int64_t step = 1; step <= 12; ++step) {
    ASSERT_TRUE(ctx->client->Pull(config.name, all.data(), all.size(), remote.data()).ok());
    ASSERT_TRUE(reference.Pull(config.name, all.data(), all.size(), local.data()).ok());
    ASSERT_EQ(0, std::memcmp(remote.data(), local.data(), remote.size() * sizeof(float)))
        << "rows differ before step " << step;
    MakePush(Me(), step, &keys, &grads);
    Status pushed = ctx->client->Push(config.name, keys.data(), keys.size(), grads.data(), step);
    ASSERT_TRUE(pushed.ok()) << pushed.ToString();
    ApplyCombined(&reference, config.name, NumWorkers(), step);
  }
  ASSERT_TRUE(ctx->client->Pull(config.name, all.data(), all.size(), remote.data()).ok());
  ASSERT_TRUE(reference.Pull(config.name, all.data(), all.size(), local.data()).ok());
  EXPECT_EQ(0, std::memcmp(remote.data(), local.data(), remote.size() * sizeof(float)));
}

TEST(PsMpiTest, PrefetchedPullWaitsForThePreviousStep) {
  if (ctx->async) GTEST_SKIP() << "synchronous servers only";
  const TableConfig config = MakeTable("prefetch", SparseOptimizerKind::kSgd);
  ASSERT_TRUE(ctx->client->CreateTable(config).ok());
  SparseShard reference(MakeMemoryStore());
  ASSERT_TRUE(reference.CreateTable(config).ok());
  const std::vector<uint64_t> all = AllKeys();
  std::vector<float> remote(all.size() * kDim), local(all.size() * kDim);
  std::vector<uint64_t> keys;
  std::vector<float> grads;
  for (int64_t step = 1; step <= 5; ++step) {
    MakePush(Me(), step, &keys, &grads);
    // The pull for step+1 leaves before the push of `step`: it must see that push.
    auto next = ctx->client->PullAsync(config.name, all.data(), all.size(), remote.data(), step + 1);
    auto push = ctx->client->PushAsync(config.name, keys.data(), keys.size(), grads.data(), step);
    ASSERT_TRUE(push->Wait(30).ok());
    ASSERT_TRUE(next->Wait(30).ok());
    ApplyCombined(&reference, config.name, NumWorkers(), step);
    ASSERT_TRUE(reference.Pull(config.name, all.data(), all.size(), local.data()).ok());
    ASSERT_EQ(0, std::memcmp(remote.data(), local.data(), remote.size() * sizeof(float)))
        << "the prefetched pull of step " << step + 1 << " missed step " << step;
  }
}

TEST(PsMpiTest, RepeatedKeysInAPullGetTheirRowEachTime) {
  const TableConfig config = MakeTable("repeats", SparseOptimizerKind::kSgd);
  ASSERT_TRUE(ctx->client->CreateTable(config).ok());
  SparseShard reference(MakeMemoryStore());
  ASSERT_TRUE(reference.CreateTable(config).ok());
  const std::vector<uint64_t> keys = {5, 7, 5, 9, 1234567, 7, 5, 42, 9};
  std::vector<float> remote(keys.size() * kDim), local(keys.size() * kDim);
  ASSERT_TRUE(ctx->client->Pull(config.name, keys.data(), keys.size(), remote.data()).ok());
  ASSERT_TRUE(reference.Pull(config.name, keys.data(), keys.size(), local.data()).ok());
  EXPECT_EQ(0, std::memcmp(remote.data(), local.data(), remote.size() * sizeof(float)));
}

TEST(PsMpiTest, AsyncPushesAllLand) {
  if (!ctx->async) GTEST_SKIP() << "asynchronous servers only";
  // SGD updates add up in any order, so the table after every push equals the
  // sequential application of all of them (up to float rounding).
  const TableConfig config = MakeTable("async_sgd", SparseOptimizerKind::kSgd);
  ASSERT_TRUE(ctx->client->CreateTable(config).ok());
  SparseShard reference(MakeMemoryStore());
  ASSERT_TRUE(reference.CreateTable(config).ok());
  std::vector<uint64_t> keys;
  std::vector<float> grads;
  const int64_t steps = 10;
  for (int64_t step = 1; step <= steps; ++step) {
    MakePush(Me(), step, &keys, &grads);
    ASSERT_TRUE(ctx->client->Push(config.name, keys.data(), keys.size(), grads.data(), step).ok());
    for (int w = 0; w < NumWorkers(); ++w) {
      MakePush(w, step, &keys, &grads);
      ASSERT_TRUE(reference.Push(config.name, keys.data(), keys.size(), grads.data(), step).ok());
    }
  }
  MPI_Barrier(ctx->mpi->workers());  // every worker's pushes are acknowledged
  const std::vector<uint64_t> all = AllKeys();
  std::vector<float> remote(all.size() * kDim), local(all.size() * kDim);
  ASSERT_TRUE(ctx->client->Pull(config.name, all.data(), all.size(), remote.data()).ok());
  ASSERT_TRUE(reference.Pull(config.name, all.data(), all.size(), local.data()).ok());
  for (size_t i = 0; i < remote.size(); ++i) ASSERT_NEAR(remote[i], local[i], 1e-5) << i;
}

// Sends raw bytes to server 0 and returns the Status its reply carries.
Status RawRequest(const std::string& bytes, int reply_tag, uint32_t id) {
  const int server = ctx->client->options().server_ranks[0];
  EXPECT_TRUE(ctx->messenger->Send(server, kRequestTag, bytes).ok());
  Message m;
  MSREC_RETURN_IF_ERROR(ctx->messenger->Receive(server, reply_tag, 30, &m));
  Status carried;
  MSREC_RETURN_IF_ERROR(DecodeReply(m.bytes, id, 0, nullptr, &carried));
  return carried;
}

TEST(PsMpiTest, MalformedRequestsAreRejectedAndTheServerKeepsServing) {
  if (Me() != 0) GTEST_SKIP() << "worker 0 sends the bad requests";
  const TableConfig config = MakeTable("malformed", SparseOptimizerKind::kSgd);
  ASSERT_TRUE(ctx->client->CreateTable(config).ok());
  uint64_t keys[3] = {1, 2, 3};
  float grads[3 * kDim] = {};
  RequestHeader h;
  h.type = RequestType::kPush;
  h.step = 1;
  h.num_keys = 3;
  h.dim = kDim;

  // Not even a header: the error comes back on the unroutable tag.
  Status s = RawRequest("garbage", kUnroutableReplyTag, 0);
  EXPECT_NE(s.message().find("shorter than"), std::string::npos) << s.ToString();
  // Truncated payload.
  h.request_id = 900001;
  std::string bytes = EncodeRequest(h, config.name, keys, grads, {});
  s = RawRequest(bytes.substr(0, bytes.size() - 4), ReplyTag(h.request_id), h.request_id);
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.ToString();
  // Header sizes that disagree (num_keys says 4, the body has 3).
  h.request_id = 900002;
  bytes = EncodeRequest(h, config.name, keys, grads, {});
  uint64_t four = 4;
  std::memcpy(&bytes[24], &four, 8);
  s = RawRequest(bytes, ReplyTag(h.request_id), h.request_id);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  // Unknown table and wrong dim (pulls: they never wait for other workers).
  h.type = RequestType::kPull;
  h.request_id = 900003;
  s = RawRequest(EncodeRequest(h, "no_such_table", keys, nullptr, {}), ReplyTag(h.request_id),
                 h.request_id);
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  h.request_id = 900004;
  h.dim = kDim + 1;
  s = RawRequest(EncodeRequest(h, config.name, keys, nullptr, {}), ReplyTag(h.request_id),
                 h.request_id);
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  // Unknown request type and bad version.
  h.request_id = 900005;
  bytes = EncodeRequest(h, config.name, keys, nullptr, {});
  bytes[6] = 99;
  s = RawRequest(bytes, ReplyTag(h.request_id), h.request_id);
  EXPECT_NE(s.message().find("unknown request type"), std::string::npos) << s.ToString();
  h.request_id = 900006;
  bytes = EncodeRequest(h, config.name, keys, nullptr, {});
  bytes[4] = 7;
  s = RawRequest(bytes, ReplyTag(h.request_id), h.request_id);
  EXPECT_NE(s.message().find("wire version"), std::string::npos) << s.ToString();
  // Oversized: consumed unread, answered with an error.
  h.request_id = 900007;
  std::string big = EncodeRequest(h, config.name, keys, nullptr, {});
  big.resize(kMessageLimit + 1024);
  s = RawRequest(big, ReplyTag(h.request_id), h.request_id);
  EXPECT_NE(s.message().find("exceeds the limit"), std::string::npos) << s.ToString();
  // Still serving.
  float rows[3 * kDim];
  EXPECT_TRUE(ctx->client->Pull(config.name, keys, 3, rows).ok());
  Result<std::vector<std::string>> stats = ctx->client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(stats.value()[0].find("bad 6"), std::string::npos) << stats.value()[0];
}

int RunServer(const Topology& t, MpiMessenger* messenger, bool async, double idle_timeout_s = 60) {
  SparseShard shard(MakeMemoryStore());
  PsServerOptions options;
  options.server_index = t.server_index();
  options.num_workers = t.num_workers();
  options.sync = !async;
  options.idle_timeout_s = idle_timeout_s;
  options.stats_interval_s = 0;
  PsServer server(&shard, messenger, options);
  Status s = server.Run();
  if (!s.ok()) LOG(ERROR) << s.ToString();
  return s.ok() ? 0 : 1;
}

// --kill_server: the workers push until something fails; rank 3 dies.
// A process that cannot go on ends the whole job (MPI_Abort), as msrec does.
// Rank 3 gets `signal` 1.5 s in: SIGKILL (dies) or SIGSTOP (hangs, alive).
int RunKillScenario(const MpiEnv& mpi, MpiMessenger* messenger, RemoteClient* client,
                    int signal) {
  const Topology& t = mpi.topology();
  if (t.is_server()) {
    if (t.server_index() == 1) {
      std::thread serve([&] { RunServer(t, messenger, false); });
      serve.detach();
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      std::raise(signal);
    }
    if (RunServer(t, messenger, false, /*idle_timeout_s=*/10) != 0) mpi.Abort(1);
    return 0;
  }
  const TableConfig config = MakeTable("kill", SparseOptimizerKind::kSgd);
  Status s = client->CreateTable(config);
  std::vector<uint64_t> keys;
  std::vector<float> grads, rows(kKeySpace * kDim);
  const std::vector<uint64_t> all = AllKeys();
  for (int64_t step = 1; s.ok() && step < 1000000; ++step) {
    MakePush(t.worker_index(), step, &keys, &grads);
    s = client->Push(config.name, keys.data(), keys.size(), grads.data(), step);
    if (s.ok()) s = client->Pull(config.name, all.data(), all.size(), rows.data());
  }
  std::fprintf(stderr, "worker %d failed: %s\n", t.worker_index(), s.ToString().c_str());
  std::fflush(stderr);
  mpi.Abort(1);  // the job is broken: no MPI_Finalize with a dead peer
}

}  // namespace
}  // namespace msrec

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  bool async = false;
  int fault = 0;  // the signal rank 3 sends itself: --kill_server, --stop_server
  for (int i = 1; i < argc; ++i) {
    async |= std::strcmp(argv[i], "--async") == 0;
    if (std::strcmp(argv[i], "--kill_server") == 0) fault = SIGKILL;
    if (std::strcmp(argv[i], "--stop_server") == 0) fault = SIGSTOP;
  }
  auto mpi = msrec::MpiEnv::Init(&argc, &argv, msrec::kNumServers);
  CHECK(mpi.ok()) << mpi.status().ToString();
  const msrec::Topology& t = mpi.value()->topology();
  msrec::MpiMessenger messenger(MPI_COMM_WORLD, msrec::kMessageLimit);
  msrec::RemoteClientOptions options;
  for (int s = 0; s < t.num_servers; ++s) options.server_ranks.push_back(t.ServerRank(s));
  options.worker_index = t.worker_index();
  options.timeout_s = fault != 0 ? 5 : 60;
  if (fault != 0) {
    msrec::RemoteClient client(&messenger, options);
    return msrec::RunKillScenario(*mpi.value(), &messenger, &client, fault);
  }
  if (t.is_server()) return msrec::RunServer(t, &messenger, async);
  msrec::RemoteClient client(&messenger, options);
  msrec::TestContext context{mpi.value().get(), &messenger, &client, async};
  msrec::ctx = &context;
  const int result = RUN_ALL_TESTS();
  MPI_Barrier(mpi.value()->workers());
  CHECK(client.Done().ok());
  return result;
}
