#include "parameter_server/remote_client.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "common/timer.h"

namespace msrec {
namespace {

const char* TypeName(RequestType type) {
  switch (type) {
    case RequestType::kCreateTable: return "create-table";
    case RequestType::kPull: return "pull";
    case RequestType::kPush: return "push";
    case RequestType::kFlush: return "flush";
    case RequestType::kDone: return "done";
    case RequestType::kStats: return "stats";
    case RequestType::kEvict: return "evict";
    case RequestType::kCheckpoint: return "checkpoint";
    case RequestType::kRestore: return "restore";
    case RequestType::kDropTable: return "drop-table";
  }
  return "?";
}

// One request to one server and what to do with its reply.
struct Part {
  int server = 0;
  int rank = 0;
  uint32_t id = 0;
  std::vector<uint32_t> positions;  // pull: output rows served by this part...
  std::vector<uint32_t> sources;    // ...and the reply row each copies (keys are de-duplicated)
  std::vector<float> rows;          // pull: the reply's rows
  std::string text;                 // the reply's text (stats)
  uint64_t request_rows = 0;        // pull: unique keys asked for
  bool direct = false;              // pull: the reply's rows are the output's, in order (one
                                    // server: no routing, decoded straight into the output)
  bool done = false;
};

// What every part of one call shares.
struct CallSpec {
  RequestType type;
  const std::string& table;
  int64_t step;
  int dim;
  int worker;
};

// Fills `p` as the part for server `server` (rank `rank`) with request id
// `id` and sends its request: `n` keys, then `floats` (n x dim, may be null)
// and `payload`.
Status SendPart(Transport* transport, const CallSpec& call, int server, int rank, uint32_t id,
                const uint64_t* keys, size_t n, const float* floats, std::string_view payload,
                Part* p) {
  p->server = server;
  p->rank = rank;
  p->id = id;
  RequestHeader h;
  h.type = call.type;
  h.request_id = id;
  h.worker = call.worker;
  h.step = call.step;
  h.num_keys = n;
  h.dim = static_cast<uint32_t>(std::max(call.dim, 0));
  if (!RequestFits(n, h.dim, floats != nullptr, payload.size())) {
    return Status::InvalidArgument("a request of " + std::to_string(n) + " keys x " +
                                   std::to_string(h.dim) + " floats to server " +
                                   std::to_string(server) + " exceeds the wire format's 4 GiB "
                                   "payload: use smaller batches or more servers");
  }
  return transport->Send(rank, kRequestTag, EncodeRequest(h, call.table, keys, floats, payload));
}

// The future of one call: the requests are sent, Wait collects the replies.
class RemoteCall : public PsFuture {
 public:
  RemoteCall(Transport* transport, RequestType type, std::string table, int dim, float* out)
      : transport_(transport), type_(type), table_(std::move(table)), dim_(dim), out_(out) {}

  std::vector<Part>& parts() { return parts_; }
  void Fail(Status status) { failed_ = std::move(status); }

  Status Wait(double timeout_s) override {
    if (!failed_.ok()) return failed_;
    Timer timer;
    // Replies wait in the transport, so taking them in part order costs no time.
    for (Part& p : parts_) {
      if (p.done) continue;
      Message m;
      const Status got = transport_->Receive(p.rank, ReplyTag(p.id),
                                             std::max(timeout_s - timer.Seconds(), 0.0), &m);
      if (got.code() == Status::Code::kTimeout) return TimeoutStatus(timeout_s);
      MSREC_RETURN_IF_ERROR(got);
      MSREC_RETURN_IF_ERROR(Collect(&p, m));
      p.done = true;
    }
    return Status::OK();
  }

 private:
  Status Collect(Part* p, const Message& m) {
    const std::string where = std::string(TypeName(type_)) + " of table '" + table_ +
                              "' on parameter server rank " + std::to_string(p->rank) +
                              " (server " + std::to_string(p->server) + ")";
    if (m.oversized) return Status::Unavailable(where + ": reply larger than the message limit");
    const uint64_t expected = type_ == RequestType::kPull ? p->request_rows * dim_ : 0;
    if (!p->direct) p->rows.resize(expected);
    Status carried;
    Status decoded = DecodeReply(m.bytes, p->id, expected, p->direct ? out_ : p->rows.data(),
                                 &carried, &p->text);
    if (!decoded.ok()) return decoded.WithContext(where);
    if (!carried.ok()) return carried.WithContext(where);
    if (type_ == RequestType::kPull && !p->direct) {
      const size_t row_bytes = static_cast<size_t>(dim_) * sizeof(float);
      for (size_t i = 0; i < p->positions.size(); ++i) {
        std::memcpy(out_ + static_cast<size_t>(p->positions[i]) * dim_,
                    &p->rows[static_cast<size_t>(p->sources[i]) * dim_],
                    row_bytes);
      }
    }
    return Status::OK();
  }

  Status TimeoutStatus(double timeout_s) const {
    std::string ranks;
    for (const Part& p : parts_) {
      if (p.done) continue;
      ranks += (ranks.empty() ? "" : ", ") + std::to_string(p.rank) + " (server " +
               std::to_string(p.server) + ")";
    }
    return Status::Timeout("no reply to " + std::string(TypeName(type_)) + " of table '" +
                           table_ + "' within " + std::to_string(timeout_s) +
                           " s from parameter server rank " + ranks +
                           ": the server died or is stuck");
  }

  Transport* transport_;
  RequestType type_;
  std::string table_;
  int dim_;
  float* out_;
  std::vector<Part> parts_;
  Status failed_;
};

}  // namespace

RemoteClient::TableInfo RemoteClient::InfoOf(const std::string& table) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tables_.find(table);
  return it == tables_.end() ? TableInfo() : it->second;
}

RemoteClient::RemoteClient(Transport* transport, RemoteClientOptions options)
    : transport_(transport), options_(std::move(options)) {
  CHECK(transport_ != nullptr);
  CHECK(!options_.server_ranks.empty()) << "a remote client needs at least one server";
}

std::unique_ptr<PsFuture> RemoteClient::PullAsync(const std::string& table, const uint64_t* keys,
                                                  size_t n, float* weights, int64_t step) {
  // The table's dim is the reply's row width; it travels in the request so the
  // server can check it against its table.
  const int dim = InfoOf(table).dim;
  auto call = std::make_unique<RemoteCall>(transport_, RequestType::kPull, table, dim, weights);
  if (dim <= 0) {
    call->Fail(Status::NotFound("pull of table '" + table + "': CreateTable it first"));
    return call;
  }
  const int num_servers = static_cast<int>(options_.server_ranks.size());
  const CallSpec spec{RequestType::kPull, table, step, dim, options_.worker_index};
  std::vector<Part>& parts = call->parts();
  parts.resize(num_servers);
  if (num_servers == 1) {  // the server answers in request order, repeats included
    Part& p = parts[0];
    p.request_rows = n;
    p.direct = true;
    p.done = n == 0;
    if (!p.done) {
      Status sent = SendPart(transport_, spec, 0, options_.server_ranks[0], NextId(), keys, n,
                             nullptr, {}, &p);
      if (!sent.ok()) call->Fail(sent);
    }
    return call;
  }
  std::vector<std::vector<uint64_t>> server_keys(num_servers);
  // Each key goes once to its server; repeats copy the same reply row.
  std::unordered_map<uint64_t, uint32_t> row_of_key;
  row_of_key.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const int s = KeyServer(keys[i], options_.num_buckets, num_servers);
    auto [it, inserted] =
        row_of_key.emplace(keys[i], static_cast<uint32_t>(server_keys[s].size()));
    if (inserted) server_keys[s].push_back(keys[i]);
    parts[s].positions.push_back(static_cast<uint32_t>(i));
    parts[s].sources.push_back(it->second);
  }
  for (int s = 0; s < num_servers; ++s) {
    Part& p = parts[s];
    p.request_rows = server_keys[s].size();
    p.done = server_keys[s].empty();
    if (p.done) continue;
    Status sent = SendPart(transport_, spec, s, options_.server_ranks[s], NextId(),
                           server_keys[s].data(), server_keys[s].size(), nullptr, {}, &p);
    if (!sent.ok()) {
      call->Fail(sent);
      break;
    }
  }
  return call;
}

std::unique_ptr<PsFuture> RemoteClient::PushAsync(const std::string& table, const uint64_t* keys,
                                                  size_t n, const float* grads, int64_t step) {
  const int dim = InfoOf(table).dim;
  auto call = std::make_unique<RemoteCall>(transport_, RequestType::kPush, table, dim, nullptr);
  if (dim <= 0) {
    call->Fail(Status::NotFound("push to table '" + table + "': CreateTable it first"));
    return call;
  }
  const int num_servers = static_cast<int>(options_.server_ranks.size());
  // Per server its keys and gradients; one server gets the caller's buffers as they are.
  std::vector<std::vector<uint64_t>> server_keys(num_servers > 1 ? num_servers : 0);
  std::vector<std::vector<float>> server_grads(server_keys.size());
  for (size_t i = 0; num_servers > 1 && i < n; ++i) {
    const int s = KeyServer(keys[i], options_.num_buckets, num_servers);
    server_keys[s].push_back(keys[i]);
    server_grads[s].insert(server_grads[s].end(), grads + i * dim, grads + (i + 1) * dim);
  }
  std::vector<Part>& parts = call->parts();
  parts.resize(num_servers);
  const CallSpec spec{RequestType::kPush, table, step, dim, options_.worker_index};
  for (int s = 0; s < num_servers; ++s) {  // every server, even without keys
    Status sent =
        num_servers == 1
            ? SendPart(transport_, spec, s, options_.server_ranks[s], NextId(), keys, n, grads,
                       {}, &parts[s])
            : SendPart(transport_, spec, s, options_.server_ranks[s], NextId(),
                       server_keys[s].data(), server_keys[s].size(), server_grads[s].data(), {},
                       &parts[s]);
    if (!sent.ok()) {
      call->Fail(sent);
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    TableInfo& info = tables_[table];
    info.last_push_step = std::max(info.last_push_step, step);
  }
  return call;
}

Status RemoteClient::Pull(const std::string& table, const uint64_t* keys, size_t n,
                          float* weights) {
  const int64_t step = InfoOf(table).last_push_step + 1;
  return PullAsync(table, keys, n, weights, step)->Wait(options_.timeout_s);
}

Status RemoteClient::Push(const std::string& table, const uint64_t* keys, size_t n,
                          const float* grads, int64_t step) {
  if (step < 1) {
    return Status::InvalidArgument("push to table '" + table + "' at step " +
                                   std::to_string(step) + ", steps start at 1");
  }
  return PushAsync(table, keys, n, grads, step)->Wait(options_.timeout_s);
}

Status RemoteClient::Broadcast(RequestType type, const std::string& table, int64_t step,
                               std::string_view payload, std::vector<std::string>* texts) {
  RemoteCall call(transport_, type, table, 0, nullptr);
  std::vector<Part>& parts = call.parts();
  const int num_servers = static_cast<int>(options_.server_ranks.size());
  parts.resize(num_servers);
  const CallSpec spec{type, table, step, 0, options_.worker_index};
  for (int s = 0; s < num_servers; ++s) {
    MSREC_RETURN_IF_ERROR(SendPart(transport_, spec, s, options_.server_ranks[s], NextId(), nullptr,
                                   0, nullptr, payload, &parts[s]));
  }
  MSREC_RETURN_IF_ERROR(call.Wait(options_.timeout_s));
  if (texts != nullptr) {
    texts->clear();
    for (const Part& p : parts) texts->push_back(p.text);
  }
  return Status::OK();
}

Status RemoteClient::CreateTable(const TableConfig& config) {
  MSREC_RETURN_IF_ERROR(
      Broadcast(RequestType::kCreateTable, config.name, options_.start_step,
                EncodeTableConfig(config), nullptr));
  {
    std::lock_guard<std::mutex> lock(mu_);
    TableInfo& info = tables_[config.name];
    info.dim = config.dim;
    info.last_push_step = std::max(info.last_push_step, options_.start_step);
  }
  return Status::OK();
}

Status RemoteClient::DropTable(const std::string& table) {
  MSREC_RETURN_IF_ERROR(Broadcast(RequestType::kDropTable, table, 0, {}, nullptr));
  std::lock_guard<std::mutex> lock(mu_);
  tables_.erase(table);
  return Status::OK();
}

Status RemoteClient::Flush() { return Broadcast(RequestType::kFlush, "", 0, {}, nullptr); }
Status RemoteClient::Done() { return Broadcast(RequestType::kDone, "", 0, {}, nullptr); }
Status RemoteClient::EvictExpired(int64_t step) {
  return Broadcast(RequestType::kEvict, "", step, {}, nullptr);
}

Status RemoteClient::SaveCheckpoint(const std::string& dir, int64_t step) {
  return Broadcast(RequestType::kCheckpoint, "", step, dir, nullptr);
}

Status RemoteClient::LoadCheckpoint(const std::string& dir, int64_t step) {
  MSREC_RETURN_IF_ERROR(Broadcast(RequestType::kRestore, "", step, dir, nullptr));
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, info] : tables_) info.last_push_step = std::max(info.last_push_step, step);
  return Status::OK();
}

Result<std::vector<std::string>> RemoteClient::Stats() {
  std::vector<std::string> texts;
  MSREC_RETURN_IF_ERROR(Broadcast(RequestType::kStats, "", 0, {}, &texts));
  return texts;
}

}  // namespace msrec
