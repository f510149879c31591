// A seeded mutation fuzzer of the parameter server's wire format (issue 17),
// built with AddressSanitizer and UndefinedBehaviorSanitizer (its own CTest
// target, wire_fuzz_test): valid requests, replies and table configs are
// mutated (bit flips, byte overwrites, header fields set to edge values,
// truncation, extension, splices) and every mutant goes through the decoders;
// every fourth request mutant is also sent to a live server on the in-process
// transport, which must answer each with a well-formed reply and keep serving.
//
// MSREC_FUZZ_ITERATIONS (default 100000) and MSREC_FUZZ_SEED (default 1) set
// the run; bench/wire_fuzz.sh runs a long one.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <glog/logging.h>

#include "cluster/inprocess_transport.h"
#include "parameter_server/internal/wire_format.h"
#include "parameter_server/ps_service.h"

namespace msrec {
namespace {

constexpr size_t kMessageLimit = size_t{1} << 20;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::strtoull(v, nullptr, 10);
}

TableConfig Config(const std::string& name, int dim) {
  TableConfig c;
  c.name = name;
  c.dim = dim;
  c.init_scale = 0.1f;
  c.optimizer.kind = SparseOptimizerKind::kAdam;
  c.optimizer.learning_rate = 0.05f;
  return c;
}

// The valid messages the mutations start from.
struct Corpus {
  std::vector<std::string> requests;
  std::vector<std::string> replies;
  std::vector<std::string> configs;
};

std::string Request(RequestType type, uint32_t id, int64_t step, const std::string& table,
                    const std::vector<uint64_t>& keys, uint32_t dim, const float* floats,
                    const std::string& payload) {
  RequestHeader h;
  h.type = type;
  h.request_id = id;
  h.step = step;
  h.num_keys = keys.size();
  h.dim = dim;
  return EncodeRequest(h, table, keys.data(), floats, payload);
}

Corpus MakeCorpus() {
  Corpus c;
  const std::vector<uint64_t> keys = {1, 2, 3, 1ull << 40, 77};
  std::vector<float> grads(keys.size() * 4);
  for (size_t i = 0; i < grads.size(); ++i) grads[i] = 0.01f * static_cast<float>(i);
  c.configs = {EncodeTableConfig(Config("emb", 4)), EncodeTableConfig(Config("wide", 16)),
               "dim=8;optimizer=0;lr=0.1;seed=3", "dim=4;ttl_steps=10;admit_after=2"};
  c.requests = {
      Request(RequestType::kCreateTable, 1, 0, "emb", {}, 4, nullptr, c.configs[0]),
      Request(RequestType::kPull, 2, 0, "emb", keys, 4, nullptr, ""),
      Request(RequestType::kPull, 3, 1, "emb", keys, 4, nullptr, ""),
      Request(RequestType::kPush, 4, 1, "emb", keys, 4, grads.data(), ""),
      Request(RequestType::kFlush, 5, 0, "", {}, 0, nullptr, ""),
      Request(RequestType::kStats, 6, 0, "", {}, 0, nullptr, ""),
      Request(RequestType::kEvict, 7, 5, "emb", {}, 0, nullptr, ""),
      Request(RequestType::kDone, 8, 0, "", {}, 0, nullptr, ""),
      Request(RequestType::kCheckpoint, 9, 3, "", {}, 0, nullptr, "ckpt"),
      Request(RequestType::kRestore, 10, 3, "", {}, 0, nullptr, "ckpt"),
      Request(RequestType::kDropTable, 11, 0, "wide", {}, 0, nullptr, ""),
  };
  for (const std::string& r : c.requests) EXPECT_FALSE(r.empty());
  c.replies = {
      EncodeReply(static_cast<uint16_t>(RequestType::kPull), 2, Status::OK(), grads.data(),
                  grads.size()),
      EncodeReply(static_cast<uint16_t>(RequestType::kPush), 4, Status::OK(), nullptr, 0),
      EncodeReply(static_cast<uint16_t>(RequestType::kStats), 6, Status::OK(), nullptr, 0,
                  "server 0: requests 10"),
      EncodeReply(static_cast<uint16_t>(RequestType::kCreateTable), 1,
                  Status::InvalidArgument("dim 0 outside [1, 4096]"), nullptr, 0),
      EncodeReply(0, 0, Status::NotFound("no table 'x'"), nullptr, 0),
  };
  return c;
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  // One to four mutations of `in`; `donor` supplies splices.
  std::string Mutate(std::string in, const std::string& donor) {
    const size_t rounds = 1 + Below(4);
    for (size_t i = 0; i < rounds; ++i) MutateOnce(&in, donor);
    return in;
  }

 private:
  void MutateOnce(std::string* s, const std::string& donor) {
    switch (Below(8)) {
      case 0:  // flip a bit
        if (!s->empty()) (*s)[Below(s->size())] ^= static_cast<char>(1u << Below(8));
        break;
      case 1:  // overwrite a byte
        if (!s->empty()) (*s)[Below(s->size())] = static_cast<char>(Below(256));
        break;
      case 2: {  // a header field (at an 4-byte boundary of the first 48 bytes) to an edge value
        static const uint64_t kEdges[] = {0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff,
                                          1ull << 32, 1ull << 62, ~0ull, 0x8000000000000000ull};
        const uint64_t v = kEdges[Below(sizeof(kEdges) / sizeof(kEdges[0]))];
        const size_t width = Below(2) == 0 ? 4 : 8;
        const size_t at = 4 * Below(12);
        if (at + width <= s->size()) std::memcpy(&(*s)[at], &v, width);
        break;
      }
      case 3:  // truncate
        s->resize(Below(s->size() + 1));
        break;
      case 4:  // extend with random bytes
        for (size_t n = 1 + Below(16); n > 0; --n) s->push_back(static_cast<char>(Below(256)));
        break;
      case 5: {  // splice in part of another message
        if (donor.empty()) break;
        const size_t from = Below(donor.size());
        const size_t len = 1 + Below(donor.size() - from);
        const size_t at = Below(s->size() + 1);
        s->insert(at, donor, from, len);
        break;
      }
      case 6:  // erase a range
        if (!s->empty()) {
          const size_t at = Below(s->size());
          s->erase(at, 1 + Below(s->size() - at));
        }
        break;
      default: {  // an ASCII edit (table config text): a digit, sign, dot, letter or separator
        static const char kChars[] = "0123456789-+.eExX;=, naif";
        if (!s->empty()) (*s)[Below(s->size())] = kChars[Below(sizeof(kChars) - 1)];
        break;
      }
    }
  }

  std::mt19937_64 rng_;
};

// Decodes a request mutant; when it is valid, every view must lie inside it.
bool CheckDecodeRequest(const std::string& bytes, RequestView* r) {
  const Status s = DecodeRequest(bytes, WireLimits{}, r);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    EXPECT_FALSE(s.message().empty());
    return false;
  }
  const char* begin = bytes.data();
  const char* end = begin + bytes.size();
  const uint64_t n = r->header.num_keys;
  EXPECT_GE(r->table.data(), begin);
  EXPECT_LE(r->table.data() + r->table.size(), end);
  if (n > 0) {
    EXPECT_GE(reinterpret_cast<const char*>(r->keys), begin);
    EXPECT_LE(reinterpret_cast<const char*>(r->keys + n), end);
  }
  if (r->floats != nullptr) {
    EXPECT_LE(reinterpret_cast<const char*>(r->floats + n * r->header.dim), end);
  }
  EXPECT_LE(r->payload.data() + r->payload.size(), end);
  return true;
}

// The bytes of a std::string are 8-byte aligned; a copy keeps a mutant so.
std::string Aligned(const std::string& s) { return std::string(s.data(), s.size()); }

// The live half: a memory-store server on rank 1 of an in-process transport.
class LiveServer {
 public:
  LiveServer() : ranks_(MakeInProcessTransports(2, kMessageLimit)) {
    thread_ = std::thread([this] {
      ServerOptions options;
      options.store.kind = "memory";
      options.persist = false;
      options.server.idle_timeout_s = 120;
      options.server.stats_interval_s = 0;
      result_ = RunServer(options, ranks_[1].get());
    });
  }
  ~LiveServer() { Stop(); }

  // Sends `bytes` and returns its reply (decoded against `expected_floats`);
  // false when no reply came within 10 s.
  bool RoundTrip(const std::string& bytes, uint64_t expected_floats, Status* carried) {
    uint32_t id = 0;
    const bool routable = PeekRequestId(bytes, &id);
    const int tag = routable ? ReplyTag(id) : kUnroutableReplyTag;
    EXPECT_TRUE(ranks_[0]->Send(1, kRequestTag, bytes).ok());
    Message m;
    const Status got = ranks_[0]->Receive(1, tag, 10, &m);
    if (!got.ok()) {
      ADD_FAILURE() << "no reply on tag " << tag << ": " << got.ToString();
      return false;
    }
    std::vector<float> floats(expected_floats);
    const Status decoded =
        DecodeReply(m.bytes, id, expected_floats, floats.data(), carried, nullptr);
    EXPECT_TRUE(decoded.ok()) << decoded.ToString();
    return decoded.ok();
  }

  void Stop() {
    if (!thread_.joinable()) return;
    Status carried;
    RoundTrip(Request(RequestType::kDone, 0xfffffff0u, 0, "", {}, 0, nullptr, ""), 0, &carried);
    thread_.join();
    EXPECT_TRUE(result_.ok()) << result_.ToString();
  }

 private:
  std::vector<std::unique_ptr<Transport>> ranks_;
  std::thread thread_;
  Status result_;
};

// Whether a decoded request may go to the live server: not Done (it would end
// the server), DropTable (mutated pulls and pushes must find the corpus's
// table), Checkpoint or Restore (they write and read the payload's path),
// nor a pull for a later step (it waits for that step's pushes by design).
bool SafeForLiveServer(const RequestView& r) {
  switch (r.header.type) {
    case RequestType::kDone:
    case RequestType::kDropTable:
    case RequestType::kCheckpoint:
    case RequestType::kRestore:
      return false;
    case RequestType::kPull:
      return r.header.step <= 0;
    default:
      return true;
  }
}

TEST(WireFuzzTest, MutatedRequestsRepliesAndConfigsAreRejectedCleanly) {
  const uint64_t iterations = EnvOr("MSREC_FUZZ_ITERATIONS", 100000);
  const uint64_t seed = EnvOr("MSREC_FUZZ_SEED", 1);
  FLAGS_minloglevel = 2;  // the server's warning per bad request would flood the log
  const Corpus corpus = MakeCorpus();
  Mutator mutate(seed);
  LiveServer server;
  Status carried;
  // The server starts with the corpus's table, so mutated pulls and pushes reach it.
  ASSERT_TRUE(server.RoundTrip(corpus.requests[0], 0, &carried));
  ASSERT_TRUE(carried.ok()) << carried.ToString();

  uint64_t valid_requests = 0, live = 0, valid_replies = 0, valid_configs = 0;
  for (uint64_t i = 0; i < iterations; ++i) {
    // Requests: through the decoder; every fourth also through the server.
    const std::string& base = corpus.requests[mutate.Below(corpus.requests.size())];
    const std::string& donor = corpus.requests[mutate.Below(corpus.requests.size())];
    const std::string request = Aligned(mutate.Mutate(base, donor));
    RequestView r;
    const bool valid = CheckDecodeRequest(request, &r);
    valid_requests += valid;
    uint32_t id = 0;
    if (PeekRequestId(request, &id) && valid) {
      EXPECT_EQ(id, r.header.request_id);
    }
    if (i % 4 == 0 && (!valid || SafeForLiveServer(r))) {
      const uint64_t floats =
          valid && r.header.type == RequestType::kPull ? r.header.num_keys * r.header.dim : 0;
      if (!server.RoundTrip(request, floats, &carried)) break;
      ++live;
      if (!valid) {
        EXPECT_FALSE(carried.ok()) << "a malformed request was served";
      }
    }
    // Replies: decoded against what the request expected.
    const std::string& reply_base = corpus.replies[mutate.Below(corpus.replies.size())];
    const std::string reply = mutate.Mutate(reply_base, reply_base);
    std::vector<float> out(20);
    Status reply_carried;
    const Status d = DecodeReply(reply, static_cast<uint32_t>(mutate.Below(12)),
                                 mutate.Below(2) == 0 ? 20 : 0, out.data(), &reply_carried);
    valid_replies += d.ok();
    // Table configs.
    const std::string& config_base = corpus.configs[mutate.Below(corpus.configs.size())];
    TableConfig config;
    if (DecodeTableConfig(mutate.Mutate(config_base, config_base), &config).ok()) {
      ++valid_configs;
      EXPECT_GE(config.dim, 1);
      EXPECT_LE(config.dim, 4096);
    }
    if (::testing::Test::HasFailure()) break;
  }
  // Still serving: a valid pull of the corpus's table.
  ASSERT_TRUE(server.RoundTrip(corpus.requests[1], 5 * 4, &carried));
  EXPECT_TRUE(carried.ok()) << carried.ToString();
  server.Stop();
  std::printf("wire fuzz: seed %llu, %llu iterations: %llu request mutants decoded as valid, "
              "%llu sent to the live server, %llu reply mutants and %llu config mutants valid\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(iterations),
              static_cast<unsigned long long>(valid_requests), static_cast<unsigned long long>(live),
              static_cast<unsigned long long>(valid_replies),
              static_cast<unsigned long long>(valid_configs));
  // The mutations must reach past the first check, else the fuzzer tests nothing.
  EXPECT_GT(valid_requests, iterations / 100);
  EXPECT_GT(valid_configs, iterations / 100);
}

}  // namespace
}  // namespace msrec
